"""Plain read models handed from use cases to the CLI. Nothing here is attached to a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shopctl.domain.products import Product


@dataclass(frozen=True)
class ProductView:
    id: int
    sku: str
    name: str
    description: str
    price: Decimal
    currency: str
    stock_on_hand: int
    reserved: int
    available: int
    active: bool
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, product: Product, currency: str) -> ProductView:
        assert product.id is not None, "only stored products have a view"
        return cls(
            id=product.id,
            sku=product.sku,
            name=product.name,
            description=product.description,
            price=product.price,
            currency=currency,
            stock_on_hand=product.stock_on_hand,
            reserved=product.reserved,
            available=product.available,
            active=product.active,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )
