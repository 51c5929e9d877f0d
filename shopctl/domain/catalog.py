"""Catalog files: one row of an import, validated by the same rules as ``products create``.

A row names a SKU and any of the other columns; a column left out (or empty) is
"not given": a new SKU takes its default, an existing SKU keeps its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

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


@dataclass(frozen=True, slots=True)
class CatalogRow:
    """A validated import row. ``None`` means the column was not given."""

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
            missing = [c for c, v in (("name", self.name), ("price", self.price)) if v is None]
            if missing:
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


def _given(value: object) -> bool:
    return value is not None and value != ""


def _text(value: object, column: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{column} must be text, got {value!r}")
    return value


def _stock(value: object) -> int:
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+").isdigit():
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


def parse_catalog_row(line: int, fields: Mapping[str, object]) -> CatalogRow:
    """Validate one row of an import file; ``InvalidInput`` names the first broken rule."""
    if not fields.keys() <= COLUMN_SET:
        raise InvalidInput(f"unknown column(s): {', '.join(unknown_columns(fields))}")
    sku = fields.get("sku")
    if not _given(sku):
        raise InvalidInput("sku is required")
    name = fields.get("name")
    price = fields.get("price")
    description = fields.get("description")
    stock = fields.get("stock")
    active = fields.get("active")
    return CatalogRow(
        line=line,
        sku=validate_sku(_text(sku, "sku").strip()),
        name=validate_name(_text(name, "name")) if _given(name) else None,
        price=_price(price) if _given(price) else None,
        description=(
            validate_description(_text(description, "description")) if _given(description) else None
        ),
        stock=_stock(stock) if _given(stock) else None,
        active=_active(active) if _given(active) else None,
    )
