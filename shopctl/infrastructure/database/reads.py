"""The read side: browsing and the session check through psycopg alone, and the SQL they
share with the repositories.

``shopctl products list`` and ``products get`` are one-shot reads, and every command that
needs a user checks its session first; most of their cost used to be importing SQLAlchemy.
``PsycopgReader`` answers them on a plain psycopg connection instead (like the raw-SQL
views of cosmicpython's chapter 12); the units of work stay on SQLAlchemy. This module
imports neither until a read runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from shopctl.domain.products import Product
from shopctl.domain.repositories import AccountReader, ProductCatalog, ProductQuery
from shopctl.domain.users import Role, User

if TYPE_CHECKING:
    from psycopg import Connection

# Browsing and the cart's look-up by SKU are on the checkout path: fixed text, which psycopg
# prepares once per connection, instead of a statement built and compiled on every call.
PRODUCT_ROWS = """
SELECT id, sku, name, description, price, stock_on_hand, reserved, active, created_at,
       updated_at
FROM products
"""
PRODUCT_BY_SKU = PRODUCT_ROWS + "WHERE sku = %(sku)s"
PRODUCT_BY_SKU_FOR_UPDATE = PRODUCT_BY_SKU + " FOR UPDATE"


@cache
def list_products_sql(*, active_only: bool, in_stock: bool, search: bool) -> str:
    """One constant statement per combination of filters (each gets its own plan)."""
    conditions = [
        condition
        for condition, wanted in (
            ("active", active_only),
            ("stock_on_hand > reserved", in_stock),
            ("(sku ILIKE %(pattern)s OR name ILIKE %(pattern)s)", search),
        )
        if wanted
    ]
    where = f"WHERE {' AND '.join(conditions)}\n" if conditions else ""
    return PRODUCT_ROWS + where + "ORDER BY sku LIMIT %(limit)s OFFSET %(offset)s"


def list_products_parameters(query: ProductQuery) -> tuple[str, dict[str, Any]]:
    statement = list_products_sql(
        active_only=not query.include_inactive,
        in_stock=query.in_stock,
        search=bool(query.search),
    )
    parameters = {
        "pattern": f"%{escape_like(query.search)}%" if query.search else None,
        "limit": query.limit,
        "offset": query.offset,
    }
    return statement, parameters


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def product_from_row(row: Any) -> Product:
    """A product from any row with the columns of ``PRODUCT_ROWS`` as attributes."""
    return Product(
        id=row.id,
        sku=row.sku,
        name=row.name,
        description=row.description,
        price=row.price,
        stock_on_hand=row.stock_on_hand,
        reserved=row.reserved,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


USER_BY_ID = (
    "SELECT id, email, password_hash, role, active, created_at FROM users WHERE id = %(id)s"
)
FAMILY_REVOKED = (
    "SELECT EXISTS (SELECT FROM refresh_tokens"
    " WHERE family_id = %(family)s AND revoked_at IS NOT NULL)"
)
SIGNING_KEY = "SELECT value FROM app_secrets WHERE name = %(name)s"
JWT_KEY_NAME = "jwt_signing_key"


def user_from_row(row: Any) -> User:
    """A user from any row with the columns of ``users`` as attributes."""
    return User(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        role=Role(row.role),
        active=row.active,
        created_at=row.created_at,
    )


class PsycopgReader(ProductCatalog, AccountReader):
    """The read side, on one psycopg connection of its own: browsing the catalog and the
    session check that every command runs, neither of which imports SQLAlchemy.

    The connection opens on the first read, checks that the schema is at the latest
    migration (exit code 8 otherwise), and is kept for the next ones, so psycopg prepares
    the statements that repeat (``shopctl simulate`` browses through it). It runs in
    autocommit with ``default_transaction_read_only``: every read is one statement with
    its own snapshot, and the server refuses any write. Not for sharing between threads:
    each ``Shop`` has its own.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Connection[Any] | None = None

    # -- ProductCatalog ---------------------------------------------------------------------

    def get_by_sku(self, sku: str) -> Product | None:
        rows = self._rows(PRODUCT_BY_SKU, {"sku": sku})
        return product_from_row(rows[0]) if rows else None

    def list(self, query: ProductQuery) -> list[Product]:
        return [product_from_row(row) for row in self._rows(*list_products_parameters(query))]

    # -- AccountReader ----------------------------------------------------------------------

    def get_user(self, user_id: int) -> User | None:
        rows = self._rows(USER_BY_ID, {"id": user_id})
        return user_from_row(rows[0]) if rows else None

    def family_revoked(self, family_id: str) -> bool:
        return bool(self._rows(FAMILY_REVOKED, {"family": family_id})[0][0])

    def signing_key(self) -> bytes | None:
        """The JWT signing key kept in the database, None when it is missing."""
        rows = self._rows(SIGNING_KEY, {"name": JWT_KEY_NAME})
        return bytes(rows[0].value) if rows else None

    # -----------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _rows(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        import psycopg
        from psycopg.rows import namedtuple_row

        from shopctl.infrastructure.database.engine import connect_checked

        if self._connection is None or self._connection.closed:
            self._connection = connect_checked(self._url, autocommit=True, read_only=True)
        try:
            with self._connection.cursor(row_factory=namedtuple_row) as cursor:
                return cursor.execute(sql, params).fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            from shopctl.infrastructure.database.engine import unavailable

            self.close()  # a connection that failed is not used again
            raise unavailable(self._url, error) from error
