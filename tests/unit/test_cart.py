"""Cart aggregate rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shopctl.domain.carts import MAX_LINES, Cart
from shopctl.domain.errors import Conflict, InvalidInput, NotFound
from shopctl.domain.products import Product

_IDS: dict[str, int] = {}


def product(
    sku: str = "TEA", *, stock: int = 10, reserved: int = 0, active: bool = True
) -> Product:
    made = Product(
        sku=sku,
        name=sku.title(),
        price=Decimal("2.50"),
        stock_on_hand=stock,
        reserved=reserved,
        active=active,
    )
    made.id = _IDS.setdefault(sku, len(_IDS) + 1)  # one id per SKU, never shared
    return made


def test_add_merges_quantities_of_the_same_product() -> None:
    cart, tea = Cart(user_id=1), product()
    cart.add(tea, 2)
    cart.add(tea, 3)
    assert [(line.product.sku, line.quantity) for line in cart.lines] == [("TEA", 5)]
    assert cart.total == Decimal("12.50")
    assert cart.lines[0].line_total == Decimal("12.50")


@pytest.mark.parametrize("quantity", [0, -1, 1000])
def test_quantity_outside_1_to_999_is_invalid(quantity: int) -> None:
    with pytest.raises(InvalidInput):
        Cart(user_id=1).add(product(stock=5000), quantity)
    with pytest.raises(InvalidInput):
        Cart(user_id=1).set(product(stock=5000), quantity)


def test_merged_quantity_above_999_is_refused() -> None:
    cart, tea = Cart(user_id=1), product(stock=5000)
    cart.add(tea, 999)
    with pytest.raises(Conflict, match="at most 999"):
        cart.add(tea, 1)
    assert cart.lines[0].quantity == 999


def test_inactive_products_cannot_be_added() -> None:
    with pytest.raises(Conflict, match="not for sale"):
        Cart(user_id=1).add(product(active=False))


def test_not_more_than_available_now() -> None:
    cart, tea = Cart(user_id=1), product(stock=5, reserved=3)
    with pytest.raises(Conflict, match="only 2 of TEA available"):
        cart.add(tea, 3)
    cart.add(tea, 2)
    with pytest.raises(Conflict):
        cart.add(tea, 1)


def test_at_most_100_lines() -> None:
    cart = Cart(user_id=1)
    for number in range(MAX_LINES):
        cart.add(product(f"P{number}"))
    with pytest.raises(Conflict, match="at most 100"):
        cart.add(product("ONE-MORE"))
    cart.add(product("P0"))  # merging into an existing line is still fine


def test_set_replaces_the_quantity_and_remove_and_clear() -> None:
    cart, tea, mug = Cart(user_id=1), product("TEA"), product("MUG")
    cart.add(tea, 4)
    cart.set(tea, 1)
    cart.set(mug, 2)
    assert {(line.product.sku, line.quantity) for line in cart.lines} == {("TEA", 1), ("MUG", 2)}
    cart.remove("TEA")
    assert [line.product.sku for line in cart.lines] == ["MUG"]
    with pytest.raises(NotFound):
        cart.remove("TEA")
    cart.clear()
    assert cart.is_empty and cart.total == Decimal("0.00")
