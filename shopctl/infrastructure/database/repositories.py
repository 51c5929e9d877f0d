"""Repositories: explicit row ↔ entity conversion over SQLAlchemy Core.

The catalog import's bulk path (``bulk.PsycopgCatalogImport``) runs on the psycopg
connection under SQLAlchemy's, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shopctl.domain.catalog import CatalogRow, ImportBatch, ImportMatch
from shopctl.domain.errors import Conflict
from shopctl.domain.products import Product, StockReason
from shopctl.domain.repositories import ProductQuery, ProductRepository
from shopctl.infrastructure.database.bulk import PsycopgCatalogImport
from shopctl.infrastructure.database.reads import (
    PRODUCT_BY_SKU,
    PRODUCT_BY_SKU_FOR_UPDATE,
    list_products_parameters,
    product_from_row,
)
from shopctl.infrastructure.database.statements import Statements
from shopctl.infrastructure.database.tables import order_lines, products, stock_movements

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class SqlProductRepository(ProductRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._bulk: PsycopgCatalogImport | None = None

    # -- single products --------------------------------------------------------------------

    def get_by_sku(self, sku: str, *, for_update: bool = False) -> Product | None:
        statement = PRODUCT_BY_SKU_FOR_UPDATE if for_update else PRODUCT_BY_SKU
        row = Statements(self.connection).first(statement, {"sku": sku})
        return None if row is None else product_from_row(row)

    def get_many_for_update(self, ids: Iterable[int]) -> list[Product]:
        statement = (
            select(products)
            .where(products.c.id.in_(sorted(set(ids))))
            .order_by(products.c.id)
            .with_for_update()
        )
        return [product_from_row(row) for row in self.connection.execute(statement)]

    def list(self, query: ProductQuery) -> list[Product]:
        statement, parameters = list_products_parameters(query)
        return [
            product_from_row(row) for row in Statements(self.connection).rows(statement, parameters)
        ]

    def add(self, product: Product) -> None:
        # ON CONFLICT DO NOTHING instead of catching the unique violation: the transaction
        # stays usable, and a concurrent insert of the same SKU waits, then conflicts.
        statement = (
            pg_insert(products)
            .values(
                sku=product.sku,
                name=product.name,
                description=product.description,
                price=product.price,
                stock_on_hand=product.stock_on_hand,
                reserved=product.reserved,
                active=product.active,
            )
            .on_conflict_do_nothing(index_elements=["sku"])
            .returning(products.c.id, products.c.created_at, products.c.updated_at)
        )
        row = self.connection.execute(statement).first()
        if row is None:
            raise Conflict(f"a product with SKU {product.sku!r} already exists")
        product.id, product.created_at, product.updated_at = row
        self._write_movements(product)

    def save(self, product: Product) -> None:
        assert product.id is not None, "save() is for stored products; use add()"
        statement = (
            update(products)
            .where(products.c.id == product.id)
            .values(
                name=product.name,
                description=product.description,
                price=product.price,
                stock_on_hand=product.stock_on_hand,
                reserved=product.reserved,
                active=product.active,
                updated_at=func.now(),
            )
            .returning(products.c.updated_at)
        )
        product.updated_at = self.connection.execute(statement).scalar_one()
        self._write_movements(product)

    def _write_movements(self, product: Product) -> None:
        if not product.pending_movements:
            return
        self.connection.execute(
            insert(stock_movements),
            [
                {
                    "product_id": product.id,
                    "delta": m.delta,
                    "reason": m.reason.value,
                    "actor": m.actor,
                    "order_id": m.order_id,
                    "note": m.note,
                }
                for m in product.pending_movements
            ],
        )
        product.pending_movements.clear()

    def remove(self, product: Product) -> None:
        self.connection.execute(delete(products).where(products.c.id == product.id))

    def is_referenced(self, product_id: int) -> bool:
        # A sale or a restock after a cancelled sale means an order refers to the product,
        # and so does any order line (a pending, expired or cancelled order too).
        history = exists().where(
            stock_movements.c.product_id == product_id,
            or_(
                stock_movements.c.order_id.is_not(None),
                stock_movements.c.reason.in_(
                    [StockReason.SALE.value, StockReason.RESTOCK_CANCEL.value]
                ),
            ),
        )
        ordered = exists().where(order_lines.c.product_id == product_id)
        return bool(self.connection.execute(select(or_(history, ordered))).scalar())

    # -- bulk import and export -------------------------------------------------------------

    @property
    def _import(self) -> PsycopgCatalogImport:
        """The bulk path, on the psycopg connection under SQLAlchemy's (same transaction)."""
        if self._bulk is None:
            driver = self.connection.connection.driver_connection
            assert driver is not None, "a live connection"
            self._bulk = PsycopgCatalogImport(driver)
        return self._bulk

    def prepare_import(self, rows: Sequence[CatalogRow]) -> ImportBatch:
        return self._import.prepare_import(rows)

    def stage_import(self, batch: ImportBatch) -> dict[str, ImportMatch]:
        return self._import.stage_import(batch)

    def apply_import(self, skip_lines: Collection[int], *, actor: str | None) -> tuple[int, int]:
        return self._import.apply_import(skip_lines, actor=actor)

    def stream_all(self) -> Iterator[Product]:
        streaming = self.connection.execution_options(stream_results=True, yield_per=1000)
        for row in streaming.execute(select(products).order_by(products.c.sku)):
            yield product_from_row(row)
