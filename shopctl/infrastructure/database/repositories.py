"""Repositories: explicit row ↔ entity conversion over SQLAlchemy Core."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from shopctl.domain.products import Product
from shopctl.domain.repositories import ProductQuery, ProductRepository
from shopctl.infrastructure.database.tables import products

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row


def product_from_row(row: Row[Any]) -> Product:
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


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlProductRepository(ProductRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get_by_sku(self, sku: str) -> Product | None:
        row = self.connection.execute(select(products).where(products.c.sku == sku)).first()
        return None if row is None else product_from_row(row)

    def list(self, query: ProductQuery) -> list[Product]:
        statement = select(products).order_by(products.c.sku)
        if not query.include_inactive:
            statement = statement.where(products.c.active)
        if query.in_stock:
            statement = statement.where(products.c.stock_on_hand > products.c.reserved)
        if query.search:
            pattern = f"%{escape_like(query.search)}%"
            statement = statement.where(
                or_(products.c.sku.ilike(pattern), products.c.name.ilike(pattern))
            )
        statement = statement.limit(query.limit).offset(query.offset)
        return [product_from_row(row) for row in self.connection.execute(statement)]
