from decimal import Decimal

import pytest

from shopctl.domain.errors import Conflict, InvalidInput
from shopctl.domain.products import Product


def make(**changes: object) -> Product:
    fields: dict[str, object] = {"sku": "MUG-1", "name": "Mug", "price": "9.90"}
    fields.update(changes)
    return Product(**fields)  # type: ignore[arg-type]


def test_available_is_stock_minus_reserved() -> None:
    assert make(stock_on_hand=10, reserved=3).available == 7


def test_price_is_kept_exactly() -> None:
    assert make(price="9.9").price == Decimal("9.90")


@pytest.mark.parametrize("sku", ["", "-abc", ".x", "a b", "x" * 65, "ü1", "a/b"])
def test_rejects_malformed_sku(sku: str) -> None:
    with pytest.raises(InvalidInput, match="invalid SKU"):
        make(sku=sku)


@pytest.mark.parametrize("sku", ["A", "a1", "MUG-1", "x.y_z-9", "9" + "x" * 63])
def test_accepts_sku_pattern(sku: str) -> None:
    assert make(sku=sku).sku == sku


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
def test_rejects_name_length(name: str) -> None:
    with pytest.raises(InvalidInput, match="name"):
        make(name=name)


def test_rejects_long_description() -> None:
    with pytest.raises(InvalidInput, match="description"):
        make(description="d" * 5001)
    assert len(make(description="d" * 5000).description) == 5000


@pytest.mark.parametrize("field", ["stock_on_hand", "reserved"])
def test_rejects_negative_quantities(field: str) -> None:
    with pytest.raises(InvalidInput):
        make(**{field: -1})


def test_reserved_cannot_exceed_stock() -> None:
    with pytest.raises(Conflict, match="reserved"):
        make(stock_on_hand=2, reserved=3)
