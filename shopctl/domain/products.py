"""Product: the catalog entity, its value objects, and the stock primitives.

Every change of ``stock_on_hand`` goes through a method here that also records a
``StockMovement``; the repository writes those movements to the ledger in the same
transaction as the product, so that ``stock_on_hand == Σ movements`` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shopctl.domain.errors import Conflict, InvalidInput
from shopctl.domain.money import parse_money
from shopctl.domain.text import storable

SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_MAX = 200
DESCRIPTION_MAX = 5000
NOTE_MAX = 500
STOCK_MAX = 2_147_483_647  # the INTEGER column's upper bound


def validate_sku(value: str) -> str:
    if not isinstance(value, str) or not SKU_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"invalid SKU {value!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def is_sku(value: str) -> bool:
    """Whether ``value`` could be a product's SKU (a text that is not cannot name one)."""
    return SKU_PATTERN.fullmatch(value) is not None


def validate_name(value: str) -> str:
    name = storable(value, "name").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"name must be 1-{NAME_MAX} characters, got {len(name)}")
    return name


def validate_description(value: str) -> str:
    storable(value, "description")
    if len(value) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"description must be at most {DESCRIPTION_MAX} characters, got {len(value)}"
        )
    return value


def validate_quantity(value: int, *, field: str = "stock") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a whole number, got {value!r}")
    if value < 0:
        raise InvalidInput(f"{field} must be 0 or more, got {value}")
    if value > STOCK_MAX:
        raise InvalidInput(f"{field} must be at most {STOCK_MAX}, got {value}")
    return value


def validate_positive(value: int, *, field: str = "quantity") -> int:
    validate_quantity(value, field=field)
    if value == 0:
        raise InvalidInput(f"{field} must be 1 or more, got 0")
    return value


def validate_note(value: str | None) -> str | None:
    if value is None:
        return None
    note = storable(value, "reason").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"reason must be at most {NOTE_MAX} characters, got {len(note)}")
    return note or None


class StockReason(StrEnum):
    """Why ``stock_on_hand`` changed (the ledger's ``reason`` column)."""

    IMPORT = "import"
    ADJUST = "adjust"
    SALE = "sale"
    RESTOCK_CANCEL = "restock_cancel"


@dataclass(frozen=True)
class StockMovement:
    """One ledger entry: ``delta`` units in (positive) or out (negative) of stock on hand."""

    delta: int
    reason: StockReason
    actor: str | None = None
    order_id: int | None = None
    note: str | None = None


@dataclass(eq=False)
class Product:
    """A sellable item. ``available`` is what can still be reserved.

    ``pending_movements`` holds the ledger entries of stock changes not yet saved;
    ``ProductRepository.add/save`` write them and empty the list.
    """

    sku: str
    name: str
    price: Decimal
    description: str = ""
    stock_on_hand: int = 0
    reserved: int = 0
    active: bool = True
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pending_movements: list[StockMovement] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.sku = validate_sku(self.sku)
        self.name = validate_name(self.name)
        self.description = validate_description(self.description)
        self.price = parse_money(self.price)
        validate_quantity(self.stock_on_hand)
        validate_quantity(self.reserved, field="reserved")
        if self.reserved > self.stock_on_hand:
            raise Conflict(
                f"{self.sku}: reserved ({self.reserved}) exceeds stock on hand "
                f"({self.stock_on_hand})"
            )

    @classmethod
    def restore(
        cls,
        *,
        id: int,
        sku: str,
        name: str,
        description: str,
        price: Decimal,
        stock_on_hand: int,
        reserved: int,
        active: bool,
        created_at: datetime,
        updated_at: datetime,
    ) -> Product:
        """A product as a repository stored it. The rules above ran when it was written, and
        the table's constraints hold them since (SKU format, name and description length,
        price and counters): reading it back does not run them again. They were 7 % of the
        client's instructions per purchase flow, which reads some twenty products (a catalog
        page is ten)."""
        product = cls.__new__(cls)
        product.__dict__.update(
            sku=sku,
            name=name,
            price=price,
            description=description,
            stock_on_hand=stock_on_hand,
            reserved=reserved,
            active=active,
            id=id,
            created_at=created_at,
            updated_at=updated_at,
            pending_movements=[],
        )
        return product

    @property
    def available(self) -> int:
        return self.stock_on_hand - self.reserved

    # -- details ----------------------------------------------------------------------------

    def change_details(
        self,
        *,
        name: str | None = None,
        price: str | Decimal | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> bool:
        """Apply the given fields (the SKU is immutable); True if anything changed."""
        new_name = self.name if name is None else validate_name(name)
        new_price = self.price if price is None else parse_money(price)
        new_description = (
            self.description if description is None else validate_description(description)
        )
        new_active = self.active if active is None else active
        changed = (new_name, new_price, new_description, new_active) != (
            self.name,
            self.price,
            self.description,
            self.active,
        )
        self.name, self.price, self.description, self.active = (
            new_name,
            new_price,
            new_description,
            new_active,
        )
        return changed

    def archive(self) -> None:
        """Hide the product from the catalog; it stays readable and keeps its history."""
        self.active = False

    # -- stock on hand (each change is a ledger movement) ---------------------------------

    def add_stock(
        self,
        quantity: int,
        *,
        reason: StockReason = StockReason.ADJUST,
        actor: str | None = None,
        order_id: int | None = None,
        note: str | None = None,
    ) -> StockMovement:
        validate_positive(quantity)
        if self.stock_on_hand + quantity > STOCK_MAX:
            raise Conflict(f"{self.sku}: stock on hand would exceed {STOCK_MAX}")
        return self._move(quantity, reason, actor, order_id, note)

    def remove_stock(
        self,
        quantity: int,
        *,
        reason: StockReason = StockReason.ADJUST,
        actor: str | None = None,
        note: str | None = None,
    ) -> StockMovement:
        """Take units out of stock; only ``available`` units can go (reserved ones are promised)."""
        validate_positive(quantity)
        if quantity > self.available:
            raise Conflict(
                f"{self.sku}: cannot remove {quantity}, only {self.available} available "
                f"({self.stock_on_hand} on hand, {self.reserved} reserved)"
            )
        return self._move(-quantity, reason, actor, None, note)

    def set_stock(
        self,
        quantity: int,
        *,
        reason: StockReason = StockReason.ADJUST,
        actor: str | None = None,
        note: str | None = None,
    ) -> StockMovement | None:
        """Set the absolute stock on hand (never below ``reserved``); None when unchanged."""
        validate_quantity(quantity)
        if quantity < self.reserved:
            raise Conflict(
                f"{self.sku}: cannot set stock to {quantity}, {self.reserved} units are reserved"
            )
        if quantity == self.stock_on_hand:
            return None
        return self._move(quantity - self.stock_on_hand, reason, actor, None, note)

    def _move(
        self,
        delta: int,
        reason: StockReason,
        actor: str | None,
        order_id: int | None,
        note: str | None,
    ) -> StockMovement:
        movement = StockMovement(
            delta=delta, reason=reason, actor=actor, order_id=order_id, note=validate_note(note)
        )
        self.stock_on_hand += delta
        self.pending_movements.append(movement)
        return movement

    # -- reservations (used by the purchase flow) -----------------------------------------

    def check_reservable(self, quantity: int) -> None:
        """Raise what ``reserve(quantity)`` would, changing nothing."""
        validate_positive(quantity)
        if not self.active:
            raise Conflict(f"{self.sku} is archived and cannot be ordered")
        if quantity > self.available:
            raise Conflict(
                f"{self.sku}: insufficient stock, {quantity} wanted, {self.available} available"
            )

    def reserve(self, quantity: int) -> None:
        """Promise ``quantity`` units to an order; refused beyond what is available."""
        self.check_reservable(quantity)
        self.reserved += quantity

    def release(self, quantity: int) -> None:
        """Give back reserved units (order cancelled or expired)."""
        validate_positive(quantity)
        if quantity > self.reserved:
            raise Conflict(f"{self.sku}: cannot release {quantity}, only {self.reserved} reserved")
        self.reserved -= quantity

    def commit_reservation(
        self, quantity: int, *, order_id: int | None = None, actor: str | None = None
    ) -> StockMovement:
        """Reserved units leave the shop (order paid): a ``sale`` movement."""
        validate_positive(quantity)
        if quantity > self.reserved:
            raise Conflict(f"{self.sku}: cannot sell {quantity}, only {self.reserved} reserved")
        self.reserved -= quantity
        return self._move(-quantity, StockReason.SALE, actor, order_id, None)

    def restock_cancelled(
        self, quantity: int, *, order_id: int | None = None, actor: str | None = None
    ) -> StockMovement:
        """Sold units come back (paid order cancelled): a ``restock_cancel`` movement."""
        return self.add_stock(
            quantity, reason=StockReason.RESTOCK_CANCEL, actor=actor, order_id=order_id
        )
