"""Catalog files: one row of an import, validated by the same rules as ``products create``.

A row names a SKU and any of the other columns; a column left out (or empty) is
"not given": a new SKU takes its default, an existing SKU keeps its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from shopctl.domain.errors import InvalidInput
from shopctl.domain.money import parse_money
from shopctl.domain.products import (
    validate_description,
    validate_name,
    validate_quantity,
    validate_sku,
)

COLUMNS = ("sku", "name", "price", "description", "stock", "active")
COLUMN_SET = frozenset(COLUMNS)
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


class CatalogRow(NamedTuple):
    """A validated import row. ``None`` means the column was not given.

    A named tuple rather than a dataclass: an import builds one per line, and a tuple is
    immutable and several times cheaper to build than a frozen dataclass."""

    line: int
    sku: str
    name: str | None = None
    price: Decimal | None = None
    description: str | None = None
    stock: int | None = None
    active: bool | None = None

    def check_against(self, reserved: int | None) -> None:
        """The rules that need the stored product: ``reserved`` is None for a new SKU."""
        if reserved is None:
            if self.name is None or self.price is None:
                missing = [c for c, v in (("name", self.name), ("price", self.price)) if v is None]
                raise InvalidInput(f"a new SKU needs {' and '.join(missing)}")
        elif self.stock is not None and self.stock < reserved:
            raise InvalidInput(f"stock {self.stock} is below the {reserved} units reserved")


@dataclass(frozen=True, slots=True)
class ImportMatch:
    """What the database knows of an imported SKU: the line it was first seen on in this
    import (a duplicate), and the stored product's reserved quantity (None: a new SKU)."""

    first_line: int | None
    reserved: int | None


def unknown_columns(columns: Iterable[object]) -> list[str]:
    return sorted(str(c) for c in columns if c not in COLUMNS)


def _stock(value: object) -> int:
    if isinstance(value, str):
        text = value.strip()
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        if not text.lstrip("+").isdecimal():
            raise InvalidInput(f"stock must be a whole number, got {value!r}")
        value = int(text)
    elif isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(f"stock must be a whole number, got {value!r}")
    return validate_quantity(value)


def _active(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise InvalidInput(f"active must be true or false, got {value!r}")


def _price(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidInput(f"price must be a number such as 9.90, got {value!r}")
    return parse_money(value)


def _text(value: object, column: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{column} must be text, got {value!r}")
    return value


def parse_catalog_row(line: int, fields: Mapping[str, object]) -> CatalogRow:
    """Validate one row of an import file; ``InvalidInput`` names the first broken rule.

    A column is "given" unless missing, None or empty. The columns are checked in file
    order (sku, name, price, description, stock, active); this runs once per imported
    line, hence the inlined tests."""
    if not fields.keys() <= COLUMN_SET:
        raise InvalidInput(f"unknown column(s): {', '.join(unknown_columns(fields))}")
    get = fields.get
    sku = get("sku")
    if sku is None or sku == "":
        raise InvalidInput("sku is required")
    sku = validate_sku(_text(sku, "sku").strip())
    name = get("name")
    if name is not None and name != "":
        name = validate_name(name if isinstance(name, str) else _text(name, "name"))
    else:
        name = None
    price = get("price")
    price = None if price is None or price == "" else _price(price)
    description = get("description")
    if description is not None and description != "":
        if not isinstance(description, str):
            description = _text(description, "description")
        description = validate_description(description)
    else:
        description = None
    stock = get("stock")
    stock = None if stock is None or stock == "" else _stock(stock)
    active = get("active")
    if active == "true":  # the usual spelling, as exported
        active = True
    elif active is None or active == "":
        active = None
    else:
        active = _active(active)
    return CatalogRow(line, sku, name, price, description, stock, active)
