"""The read side: browsing the catalog, and the signing key, outside any unit of work.

``shopctl products list`` and ``products get`` are one-shot reads. Each read is one
statement in autocommit on the command's one connection (its own snapshot, no transaction
to end), with the statement texts of the aggregates' modules, so ``Sql`` prepares the ones
that repeat (``simulate`` browses through it).
"""

from __future__ import annotations

from shopctl.domain.products import Product
from shopctl.domain.repositories import ProductCatalog, ProductQuery
from shopctl.infrastructure.db.connect import Database
from shopctl.infrastructure.db.errors import translated
from shopctl.infrastructure.db.products import (
    PRODUCT_BY_SKU,
    list_products_parameters,
    product_from_row,
)
from shopctl.infrastructure.db.users import signing_key


class PostgresReader(ProductCatalog):
    """Reads on this thread's connection of ``database``, in autocommit."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- ProductCatalog ---------------------------------------------------------------------

    def get_by_sku(self, sku: str) -> Product | None:
        with translated(self._database.url, writing=False), self._database.reading() as sql:
            row = sql.first(PRODUCT_BY_SKU, {"sku": sku})
        return None if row is None else product_from_row(row)

    def list(self, query: ProductQuery) -> list[Product]:
        statement, parameters = list_products_parameters(query)
        with translated(self._database.url, writing=False), self._database.reading() as sql:
            rows = sql.rows(statement, parameters)
        return [product_from_row(row) for row in rows]

    def signing_key(self) -> bytes:
        """The JWT signing key kept in the database (made anew if it was removed)."""
        with translated(self._database.url), self._database.reading(read_only=False) as sql:
            return signing_key(sql)  # made anew (written) if it was removed
