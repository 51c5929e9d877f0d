"""Product: the catalog entity and its value objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shopctl.domain.errors import Conflict, InvalidInput
from shopctl.domain.money import parse_money

SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_MAX = 200
DESCRIPTION_MAX = 5000


def validate_sku(value: str) -> str:
    if not SKU_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"invalid SKU {value!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def validate_name(value: str) -> str:
    name = value.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"name must be 1-{NAME_MAX} characters, got {len(name)}")
    return name


def validate_description(value: str) -> str:
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
    return value


@dataclass(eq=False)
class Product:
    """A sellable item. ``available`` is what can still be reserved."""

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

    @property
    def available(self) -> int:
        return self.stock_on_hand - self.reserved
