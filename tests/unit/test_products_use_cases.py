import pytest

from shopctl.application.products import GetProduct, ListProducts
from shopctl.domain.errors import InvalidInput, NotFound
from shopctl.domain.products import Product
from shopctl.domain.repositories import ProductQuery
from tests.fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(
        [
            Product(sku="B-2", name="Blue mug", price="5.00", stock_on_hand=0),
            Product(sku="A-1", name="Apron", price="12.50", stock_on_hand=3),
            Product(sku="C-3", name="Cap", price="7.00", stock_on_hand=5, active=False),
        ]
    )


def test_lists_active_products_by_sku(uow: FakeUnitOfWork) -> None:
    found = ListProducts(uow, "USD")(ProductQuery())
    assert [p.sku for p in found] == ["A-1", "B-2"]
    assert found[0].currency == "USD"
    assert found[0].available == 3


def test_in_stock_and_search(uow: FakeUnitOfWork) -> None:
    assert [p.sku for p in ListProducts(uow, "USD")(ProductQuery(in_stock=True))] == ["A-1"]
    assert [p.sku for p in ListProducts(uow, "USD")(ProductQuery(search="MUG"))] == ["B-2"]


def test_limit_and_offset_are_checked(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput, match="--limit"):
        ListProducts(uow, "USD")(ProductQuery(limit=0))
    with pytest.raises(InvalidInput, match="--offset"):
        ListProducts(uow, "USD")(ProductQuery(offset=-1))
    assert [p.sku for p in ListProducts(uow, "USD")(ProductQuery(limit=1, offset=1))] == ["B-2"]


def test_get_returns_archived_products_too(uow: FakeUnitOfWork) -> None:
    assert GetProduct(uow, "USD")("C-3").active is False


def test_get_unknown_sku_is_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        GetProduct(uow, "USD")("NOPE")
