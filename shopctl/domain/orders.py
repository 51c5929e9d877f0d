"""Order and InventoryReservation: the status machine of a purchase.

```
pending_payment --pay ok-------> paid --fulfill (admin)--> fulfilled
pending_payment --cancel-------> cancelled      (reservations released)
pending_payment --ttl passed---> expired        (reservations released)
paid            --cancel-------> cancelled      (refund + restock)
```
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from shopctl.domain.errors import Conflict, Hint, InvalidInput
from shopctl.domain.products import Product


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


def parse_order_status(text: str) -> OrderStatus:
    try:
        return OrderStatus(text)
    except ValueError:
        known = ", ".join(s.value for s in OrderStatus)
        raise InvalidInput(f"unknown order status {text!r}: use one of {known}") from None


@dataclass(frozen=True)
class OrderLine:
    """What was bought, as it was at placement: later catalog changes do not alter it."""

    product_id: int
    sku: str
    name: str
    unit_price: Decimal
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(eq=False)
class InventoryReservation:
    """Units of one product held for one order until ``expires_at``."""

    product_id: int
    quantity: int
    expires_at: datetime
    status: ReservationStatus = ReservationStatus.ACTIVE
    id: int | None = None


@dataclass(eq=False)
class Order:
    user_id: int
    lines: list[OrderLine]
    currency: str
    expires_at: datetime
    reservations: list[InventoryReservation] = field(default_factory=list)
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    id: int | None = None
    created_at: datetime | None = None
    paid_at: datetime | None = None

    @classmethod
    def place(
        cls,
        user_id: int,
        items: Iterable[tuple[Product, int]],
        *,
        now: datetime,
        ttl: timedelta,
        currency: str,
    ) -> Order:
        """Reserve every item (quantities summed per product) and open a pending order.

        Raises ``Conflict`` naming the SKU when a product is archived or short, before any
        product has been touched.
        """
        wanted: dict[int, tuple[Product, int]] = {}
        for product, quantity in items:
            if quantity <= 0:
                raise InvalidInput(f"{product.sku}: quantity must be 1 or more, got {quantity}")
            assert product.id is not None, "only stored products can be ordered"
            known = wanted.get(product.id)
            wanted[product.id] = (product, quantity + (known[1] if known else 0))
        if not wanted:
            raise Conflict("your cart is empty", hint=Hint.ADD_TO_CART)
        ordered = [wanted[product_id] for product_id in sorted(wanted)]  # lock order
        for product, quantity in ordered:  # every line is checked before any is reserved
            product.check_reservable(quantity)
        expires_at = now + ttl
        lines, reservations = [], []
        for product, quantity in ordered:
            assert product.id is not None
            product.reserve(quantity)
            lines.append(OrderLine(product.id, product.sku, product.name, product.price, quantity))
            reservations.append(InventoryReservation(product.id, quantity, expires_at))
        return cls(
            user_id=user_id,
            lines=lines,
            currency=currency,
            expires_at=expires_at,
            reservations=reservations,
            created_at=now,
        )

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    @property
    def label(self) -> str:
        return f"order {self.id}"

    def is_due(self, now: datetime) -> bool:
        """A pending order whose reservations have run out (it should become expired)."""
        return self.status is OrderStatus.PENDING_PAYMENT and now >= self.expires_at

    def check_payable(self, now: datetime) -> None:
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise Conflict(
                f"{self.label} is {self.status}; only pending_payment orders can be paid"
            )
        if self.is_due(now):
            raise Conflict(f"{self.label} expired at {self.expires_at:%Y-%m-%d %H:%M:%S} UTC")

    def mark_paid(self, now: datetime) -> list[InventoryReservation]:
        """pending_payment → paid; returns the reservations that now turn into sales."""
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise Conflict(
                f"{self.label} is {self.status}; only pending_payment orders can be paid"
            )
        self.status, self.paid_at = OrderStatus.PAID, now
        return self._settle(ReservationStatus.COMMITTED)

    def cancel(self) -> list[InventoryReservation]:
        """pending_payment or paid → cancelled.

        Returns the reservations released by a pending order; a paid order returns none
        (its units were sold: the caller refunds and restocks them).
        """
        if self.status is OrderStatus.PENDING_PAYMENT:
            self.status = OrderStatus.CANCELLED
            return self._settle(ReservationStatus.RELEASED)
        if self.status is OrderStatus.PAID:
            self.status = OrderStatus.CANCELLED
            return []
        raise Conflict(
            f"{self.label} is {self.status}; only pending_payment or paid orders can be cancelled"
        )

    def expire(self, now: datetime) -> list[InventoryReservation]:
        """pending_payment → expired once the TTL has passed; returns the released reservations."""
        if not self.is_due(now):
            raise Conflict(f"{self.label} is {self.status} and not past its expiry")
        self.status = OrderStatus.EXPIRED
        return self._settle(ReservationStatus.EXPIRED)

    def fulfill(self) -> None:
        """paid → fulfilled (an admin shipped it)."""
        if self.status is not OrderStatus.PAID:
            raise Conflict(f"{self.label} is {self.status}; only paid orders can be fulfilled")
        self.status = OrderStatus.FULFILLED

    def _settle(self, outcome: ReservationStatus) -> list[InventoryReservation]:
        settled = [r for r in self.reservations if r.status is ReservationStatus.ACTIVE]
        for reservation in settled:
            reservation.status = outcome
        return settled
