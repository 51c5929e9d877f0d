"""The catalog's read side: browsing through psycopg alone, and the SQL it shares.

``shopctl products list`` and ``products get`` are public one-shot reads, and most of
their cost used to be importing SQLAlchemy. ``PsycopgProductCatalog`` answers them on a
plain psycopg connection instead (like the raw-SQL views of cosmicpython's chapter 12);
the write side and every unit of work stay on SQLAlchemy. This module imports neither
until a look-up runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from shopctl.domain.products import Product
from shopctl.domain.repositories import ProductCatalog, ProductQuery

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


class PsycopgProductCatalog(ProductCatalog):
    """Read-only product look-ups on one psycopg connection of its own.

    The connection opens on the first look-up, checks that the schema is at the latest
    migration (exit code 8 otherwise), and is kept for the next ones, so psycopg prepares
    the statements that repeat (``shopctl simulate`` browses through it). It runs in
    autocommit with ``default_transaction_read_only``: every look-up is one statement
    with its own snapshot, and the server refuses any write. Not for sharing between
    threads: each ``Shop`` has its own.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: Connection[Any] | None = None

    def get_by_sku(self, sku: str) -> Product | None:
        rows = self._rows(PRODUCT_BY_SKU, {"sku": sku})
        return product_from_row(rows[0]) if rows else None

    def list(self, query: ProductQuery) -> list[Product]:
        return [product_from_row(row) for row in self._rows(*list_products_parameters(query))]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _rows(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        import psycopg
        from psycopg.rows import namedtuple_row

        try:
            connection = self._connect()
            with connection.cursor(row_factory=namedtuple_row) as cursor:
                return cursor.execute(sql, params).fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            from shopctl.infrastructure.database.engine import unavailable

            self.close()  # a connection that failed is not used again
            raise unavailable(self._url, error) from error

    def _connect(self) -> Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        import psycopg

        from shopctl.infrastructure.database.engine import libpq_url
        from shopctl.infrastructure.database.migrations import check_schema

        connection = psycopg.connect(
            libpq_url(self._url),
            autocommit=True,
            connect_timeout=5,
            application_name="shopctl",
            options="-c default_transaction_read_only=on",
        )
        try:
            check_schema(lambda sql: _scalar(connection, sql))
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection


def _scalar(connection: Connection[Any], sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    return None if row is None else row[0]
