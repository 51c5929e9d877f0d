import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shopctl.domain.errors import Conflict, InvalidInput
from shopctl.domain.products import STOCK_MAX, Product, StockMovement, StockReason


def make(**changes: object) -> Product:
    fields: dict[str, object] = {"sku": "MUG-1", "name": "Mug", "price": "9.90"}
    fields.update(changes)
    return Product(**fields)  # type: ignore[arg-type]  # the entity validates what it is given


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


# -- details ------------------------------------------------------------------------------


def test_change_details_reports_whether_anything_changed() -> None:
    product = make()
    assert product.change_details(name="Mug", price="9.90") is False
    assert product.change_details(name=" Big mug ", price="12") is True
    assert (product.name, product.price) == ("Big mug", Decimal("12.00"))
    assert product.change_details(active=False) is True and product.active is False


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": ""}, "name"),
        ({"price": "-1"}, "price"),
        ({"price": "1.999"}, "decimal places"),
        ({"description": "d" * 5001}, "description"),
    ],
)
def test_change_details_validates_and_changes_nothing_on_error(
    changes: dict[str, str], match: str
) -> None:
    product = make(description="old")
    with pytest.raises(InvalidInput, match=match):
        product.change_details(**changes)  # type: ignore[arg-type]
    assert (product.name, product.price, product.description) == ("Mug", Decimal("9.90"), "old")


def test_price_with_more_than_two_places_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidInput, match="decimal places"):
        make(price="9.999")
    assert make(price="9.900").price == Decimal("9.90")


def test_archive_deactivates() -> None:
    product = make()
    product.archive()
    assert product.active is False


# -- stock: every change is a movement -------------------------------------------------------


def test_add_stock_records_a_movement() -> None:
    product = make(stock_on_hand=2)
    movement = product.add_stock(5, actor="a@shop.test", note=" delivery ")
    assert product.stock_on_hand == 7
    assert movement == StockMovement(5, StockReason.ADJUST, actor="a@shop.test", note="delivery")
    assert product.pending_movements == [movement]


def test_remove_stock_only_what_is_available() -> None:
    product = make(stock_on_hand=10, reserved=4)
    assert product.remove_stock(6).delta == -6
    assert (product.stock_on_hand, product.available) == (4, 0)
    with pytest.raises(Conflict, match="only 0 available"):
        product.remove_stock(1)
    assert product.stock_on_hand == 4 and len(product.pending_movements) == 1


def test_set_stock_moves_the_difference_and_not_below_reserved() -> None:
    product = make(stock_on_hand=10, reserved=3)
    assert product.set_stock(4) == StockMovement(-6, StockReason.ADJUST)
    assert product.set_stock(4) is None  # unchanged: no movement
    with pytest.raises(Conflict, match="3 units are reserved"):
        product.set_stock(2)
    assert product.stock_on_hand == 4
    assert [m.delta for m in product.pending_movements] == [-6]


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5])
def test_add_and_remove_need_a_positive_whole_quantity(quantity: object) -> None:
    product = make(stock_on_hand=5)
    for method in (product.add_stock, product.remove_stock):
        with pytest.raises(InvalidInput):
            method(quantity)  # type: ignore[arg-type]  # bool and float, refused at run time
    assert product.stock_on_hand == 5 and product.pending_movements == []


def test_stock_cannot_exceed_the_column_range() -> None:
    product = make(stock_on_hand=STOCK_MAX)
    with pytest.raises(Conflict, match="exceed"):
        product.add_stock(1)
    with pytest.raises(InvalidInput, match="at most"):
        product.set_stock(STOCK_MAX + 1)


def test_note_is_limited() -> None:
    with pytest.raises(InvalidInput, match="reason"):
        make().add_stock(1, note="x" * 501)


def test_reserve_release_and_commit() -> None:
    product = make(stock_on_hand=5)
    product.reserve(3)
    assert (product.reserved, product.available, product.pending_movements) == (3, 2, [])
    with pytest.raises(Conflict, match="insufficient stock"):
        product.reserve(3)
    product.release(1)
    assert product.reserved == 2
    with pytest.raises(Conflict):
        product.release(3)
    sale = product.commit_reservation(2, order_id=7)
    assert sale == StockMovement(-2, StockReason.SALE, order_id=7)
    assert (product.stock_on_hand, product.reserved) == (3, 0)
    with pytest.raises(Conflict):
        product.commit_reservation(1)
    back = product.restock_cancelled(2, order_id=7)
    assert back.reason is StockReason.RESTOCK_CANCEL and product.stock_on_hand == 5
    assert sum(m.delta for m in product.pending_movements) == 0


def test_archived_product_cannot_be_reserved() -> None:
    product = make(stock_on_hand=5, active=False)
    with pytest.raises(Conflict, match="archived"):
        product.reserve(1)


@pytest.mark.parametrize(
    ("product", "quantity", "refusal"),
    [
        (make(stock_on_hand=5, reserved=3), 3, "insufficient stock, 3 wanted, 2 available"),
        (make(stock_on_hand=5, active=False), 1, "archived"),
        (make(stock_on_hand=5), 0, "quantity"),
    ],
)
def test_checking_a_reservation_refuses_as_reserving_would_and_changes_nothing(
    product: Product, quantity: int, refusal: str
) -> None:
    def state() -> tuple[int, int, int]:
        return product.stock_on_hand, product.reserved, len(product.pending_movements)

    before = state()
    for attempt in (product.check_reservable, product.reserve):
        with pytest.raises((Conflict, InvalidInput), match=refusal):
            attempt(quantity)
        assert state() == before


def test_checking_a_reservation_that_fits_changes_nothing() -> None:
    product = make(stock_on_hand=5, reserved=3)
    product.check_reservable(2)
    assert (product.reserved, product.available) == (3, 2)


def test_a_restored_product_is_the_product_that_was_stored() -> None:
    """A repository reads products back with ``restore`` (the rules ran when it was written):
    the same fields, and the same behaviour from then on."""
    at = datetime(2026, 12, 6, tzinfo=UTC)
    stored = Product(sku="TEA-1", name="Green tea", price=Decimal("4.50"), stock_on_hand=10)
    stored.id, stored.created_at, stored.updated_at = 7, at, at
    restored = Product.restore(
        id=7, sku="TEA-1", name="Green tea", description="", price=Decimal("4.50"),
        stock_on_hand=10, reserved=0, active=True, created_at=at, updated_at=at,
    )  # fmt: skip
    assert dataclasses.asdict(restored) == dataclasses.asdict(stored)
    restored.reserve(3)
    stored.reserve(3)
    assert (restored.available, restored.pending_movements) == (7, [])
    assert dataclasses.asdict(restored) == dataclasses.asdict(stored)
    other = Product.restore(
        id=8, sku="TEA-2", name="Black tea", description="", price=Decimal("4.50"),
        stock_on_hand=10, reserved=0, active=True, created_at=at, updated_at=at,
    )  # fmt: skip
    other.set_stock(12, actor="admin")
    assert restored.pending_movements == [] and len(other.pending_movements) == 1
