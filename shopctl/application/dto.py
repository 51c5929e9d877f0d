"""Plain read models handed from use cases to the CLI. Nothing here is attached to a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: a view of one kind loads no other part of the domain
    from shopctl.domain.carts import Cart
    from shopctl.domain.orders import Order
    from shopctl.domain.payments import Payment
    from shopctl.domain.products import Product
    from shopctl.domain.users import User


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


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    role: str
    active: bool
    created_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserView:
        assert user.id is not None, "only stored users have a view"
        return cls(
            id=user.id,
            email=user.email,
            role=user.role.value,
            active=user.active,
            created_at=user.created_at,
        )


@dataclass(frozen=True)
class LineView:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class CartView:
    items: list[LineView]
    total: Decimal
    currency: str

    @classmethod
    def of(cls, cart: Cart, currency: str) -> CartView:
        items = [
            LineView(
                line.product.sku,
                line.product.name,
                line.quantity,
                line.product.price,
                line.line_total,
            )
            for line in sorted(cart.lines, key=lambda line: line.product.sku)
        ]
        return cls(items=items, total=cart.total, currency=currency)


@dataclass(frozen=True)
class OrderView:
    id: int
    status: str
    items: list[LineView]
    total: Decimal
    currency: str
    created_at: datetime | None
    expires_at: datetime
    paid_at: datetime | None
    user_id: int

    @classmethod
    def of(cls, order: Order) -> OrderView:
        assert order.id is not None, "only stored orders have a view"
        items = [
            LineView(line.sku, line.name, line.quantity, line.unit_price, line.line_total)
            for line in order.lines
        ]
        return cls(
            id=order.id,
            status=order.status.value,
            items=items,
            total=order.total,
            currency=order.currency,
            created_at=order.created_at,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            user_id=order.user_id,
        )


@dataclass(frozen=True)
class PaymentView:
    id: int
    order_id: int
    status: str
    amount: Decimal
    currency: str
    decline_code: str | None
    created_at: datetime | None
    gateway_reference: str | None
    idempotency_key: str

    @classmethod
    def of(cls, payment: Payment) -> PaymentView:
        assert payment.id is not None, "only stored payments have a view"
        return cls(
            id=payment.id,
            order_id=payment.order_id,
            status=payment.status.value,
            amount=payment.amount,
            currency=payment.currency,
            decline_code=payment.decline_code,
            created_at=payment.created_at,
            gateway_reference=payment.gateway_reference,
            idempotency_key=payment.idempotency_key,
        )


@dataclass(frozen=True)
class ReservationView:
    id: int
    order_id: int
    sku: str
    quantity: int
    status: str
    expires_at: datetime


@dataclass(frozen=True)
class ExpiryReport:
    expired_orders: int
