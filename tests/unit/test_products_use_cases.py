from collections.abc import Callable
from decimal import Decimal
from typing import TypedDict

import pytest

from shopctl.application.auth import Principal
from shopctl.application.products import (
    ChangeStock,
    CreateProduct,
    DeleteOutcome,
    DeleteProduct,
    GetProduct,
    ListProducts,
    UpdateProduct,
)
from shopctl.domain.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from shopctl.domain.products import Product, StockReason
from shopctl.domain.repositories import ProductQuery
from shopctl.domain.users import Role
from tests.fakes import FakeUnitOfWork


class StockOptions(TypedDict, total=False):
    """The operations of ``ChangeStock`` (a valid call gives exactly one)."""

    set_to: int
    add: int
    remove: int


class ProductFields(TypedDict, total=False):
    """The fields of ``CreateProduct``, some of them left out."""

    sku: str
    name: str
    price: str
    description: str
    stock: int


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(
        [
            Product(sku="B-2", name="Blue mug", price=Decimal("5.00"), stock_on_hand=0),
            Product(sku="A-1", name="Apron", price=Decimal("12.50"), stock_on_hand=3),
            Product(sku="C-3", name="Cap", price=Decimal("7.00"), stock_on_hand=5, active=False),
        ],
        principals=[ADMIN, CUSTOMER],
    )


def test_lists_active_products_by_sku(uow: FakeUnitOfWork) -> None:
    found = ListProducts(uow.products, "USD")(ProductQuery())
    assert [p.sku for p in found] == ["A-1", "B-2"]
    assert found[0].currency == "USD"
    assert found[0].available == 3


def test_in_stock_and_search(uow: FakeUnitOfWork) -> None:
    assert [p.sku for p in ListProducts(uow.products, "USD")(ProductQuery(in_stock=True))] == [
        "A-1"
    ]
    assert [p.sku for p in ListProducts(uow.products, "USD")(ProductQuery(search="MUG"))] == ["B-2"]


def test_limit_and_offset_are_checked(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput, match="limit must be between 1 and"):
        ListProducts(uow.products, "USD")(ProductQuery(limit=0))
    with pytest.raises(InvalidInput, match="offset must be 0 or more"):
        ListProducts(uow.products, "USD")(ProductQuery(offset=-1))
    assert [p.sku for p in ListProducts(uow.products, "USD")(ProductQuery(limit=1, offset=1))] == [
        "B-2"
    ]


def test_get_returns_archived_products_too(uow: FakeUnitOfWork) -> None:
    assert GetProduct(uow.products, "USD")("C-3").active is False


def test_get_unknown_sku_is_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        GetProduct(uow.products, "USD")("NOPE")


# -- administration (admins only) ------------------------------------------------------------

ADMIN = Principal(user_id=1, email="admin@shop.test", role=Role.ADMIN)
CUSTOMER = Principal(user_id=2, email="bob@shop.test", role=Role.CUSTOMER)


def admin_use_cases(uow: FakeUnitOfWork) -> list[tuple[str, Callable[[Principal | None], object]]]:
    return [
        ("create", lambda p: CreateProduct(uow, "USD")(p, sku="N-1", name="New", price="1.00")),
        ("update", lambda p: UpdateProduct(uow, "USD")(p, "A-1", name="Other")),
        ("delete", lambda p: DeleteProduct(uow)(p, "A-1")),
        ("stock", lambda p: ChangeStock(uow, "USD")(p, "A-1", add=1)),
    ]


@pytest.mark.parametrize("index", range(4))
def test_writes_need_an_admin(uow: FakeUnitOfWork, index: int) -> None:
    _, call = admin_use_cases(uow)[index]
    with pytest.raises(NotAuthenticated):
        call(None)
    with pytest.raises(Forbidden, match=r"bob@shop\.test is a customer"):
        call(CUSTOMER)
    assert not uow.committed
    assert uow.products.stored("A-1").name == "Apron"
    assert uow.products.get_by_sku("N-1") is None


def test_create_with_initial_stock_writes_the_ledger(uow: FakeUnitOfWork) -> None:
    view = CreateProduct(uow, "USD")(
        ADMIN, sku="N-1", name="Notebook", price="3.5", description="A5", stock=12
    )
    assert (view.sku, view.price, view.stock_on_hand, view.available) == (
        "N-1",
        Decimal("3.50"),
        12,
        12,
    )
    assert uow.committed
    assert uow.products.ledger_sum("N-1") == 12
    _, movement = uow.products.movements[-1]
    assert (movement.reason, movement.actor) == (StockReason.ADJUST, "admin@shop.test")


def test_create_without_stock_writes_no_movement(uow: FakeUnitOfWork) -> None:
    CreateProduct(uow, "USD")(ADMIN, sku="N-1", name="Notebook", price="3.50")
    assert uow.products.ledger_sum("N-1") == 0 and uow.products.movements == []


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"sku": "bad sku"}, InvalidInput),
        ({"name": ""}, InvalidInput),
        ({"price": "-1"}, InvalidInput),
        ({"price": "1.005"}, InvalidInput),
        ({"price": "abc"}, InvalidInput),
        ({"stock": -1}, InvalidInput),
        ({"description": "d" * 5001}, InvalidInput),
        ({"sku": "A-1"}, Conflict),
    ],
)
def test_create_validates(uow: FakeUnitOfWork, fields: ProductFields, error: type) -> None:
    values: ProductFields = {"sku": "N-1", "name": "New", "price": "1.00", **fields}
    with pytest.raises(error):
        CreateProduct(uow, "USD")(ADMIN, **values)
    assert not uow.committed


def test_update_changes_given_fields_only(uow: FakeUnitOfWork) -> None:
    view = UpdateProduct(uow, "USD")(ADMIN, "A-1", price="13.00", active=False)
    assert (view.name, view.price, view.active) == ("Apron", Decimal("13.00"), False)
    assert uow.committed


def test_update_needs_a_field_and_a_known_sku(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput, match="nothing to update"):
        UpdateProduct(uow, "USD")(ADMIN, "A-1")
    with pytest.raises(NotFound):
        UpdateProduct(uow, "USD")(ADMIN, "NOPE", name="x")


def test_delete_unreferenced_product_deletes_it(uow: FakeUnitOfWork) -> None:
    assert DeleteProduct(uow)(ADMIN, "A-1").outcome is DeleteOutcome.DELETED
    assert uow.products.get_by_sku("A-1") is None


def test_delete_referenced_or_reserved_product_archives_it(uow: FakeUnitOfWork) -> None:
    apron = uow.products.get_by_sku("A-1")
    assert apron is not None and apron.id is not None
    uow.products.referenced.add(apron.id)
    assert DeleteProduct(uow)(ADMIN, "A-1").outcome is DeleteOutcome.ARCHIVED
    assert apron.active is False and uow.products.get_by_sku("A-1") is apron
    mug = uow.products.get_by_sku("B-2")
    assert mug is not None
    mug.add_stock(2)
    mug.reserve(1)
    assert DeleteProduct(uow)(ADMIN, "B-2").outcome is DeleteOutcome.ARCHIVED


def test_delete_unknown_sku(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        DeleteProduct(uow)(ADMIN, "NOPE")


def test_stock_set_add_remove_keep_the_ledger(uow: FakeUnitOfWork) -> None:
    change = ChangeStock(uow, "USD")
    assert change(ADMIN, "A-1", add=7, note="delivery").delta == 7
    assert change(ADMIN, "A-1", remove=2).product.stock_on_hand == 8
    result = change(ADMIN, "A-1", set_to=20)
    assert (result.previous, result.delta, result.product.stock_on_hand) == (8, 12, 20)
    assert uow.products.ledger_sum("A-1") == 20 - 3  # A-1 was seeded with 3 outside the ledger
    notes = [m.note for sku, m in uow.products.movements if sku == "A-1"]
    assert notes == ["delivery", None, None]


def test_stock_refuses_removing_more_than_available(uow: FakeUnitOfWork) -> None:
    with pytest.raises(Conflict, match="only 3 available"):
        ChangeStock(uow, "USD")(ADMIN, "A-1", remove=4)
    assert uow.products.stored("A-1").stock_on_hand == 3
    assert not uow.committed


@pytest.mark.parametrize(
    "options", [{}, {"add": 1, "remove": 1}, {"set_to": 1, "add": 1}, {"add": 0}, {"set_to": -1}]
)
def test_stock_needs_exactly_one_valid_operation(
    uow: FakeUnitOfWork, options: StockOptions
) -> None:
    with pytest.raises(InvalidInput):
        ChangeStock(uow, "USD")(ADMIN, "A-1", **options)


def test_stock_unknown_sku(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        ChangeStock(uow, "USD")(ADMIN, "NOPE", add=1)
