"""Catalog on a real PostgreSQL: repository, ledger, constraints, concurrency, audit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from shopctl.application.audit import RunAudit
from shopctl.application.auth import Principal
from shopctl.application.products import ChangeStock, CreateProduct, DeleteProduct
from shopctl.domain.errors import Conflict
from shopctl.domain.products import Product, StockReason
from shopctl.domain.repositories import ProductQuery
from shopctl.domain.users import Role
from shopctl.infrastructure.db.invariants import PostgresInvariantAuditor
from shopctl.infrastructure.db.reads import PostgresReader
from shopctl.infrastructure.db.tables import products, stock_movements
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from tests.database import database_of, dispose, inspection_engine, seed_users

ADMIN = Principal(user_id=1, email="admin@shop.test", role=Role.ADMIN)


@pytest.fixture(autouse=True)
def stored_admin(engine: Any) -> None:
    seed_users(engine, ADMIN)


def uow_factory(engine: Any) -> Callable[[], PostgresUnitOfWork]:
    return lambda: PostgresUnitOfWork(database_of(engine))


def ledger(engine: Any, sku: str) -> list[tuple[int, str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(stock_movements.c.delta, stock_movements.c.reason, stock_movements.c.actor)
            .join(products, products.c.id == stock_movements.c.product_id)
            .where(products.c.sku == sku)
            .order_by(stock_movements.c.id)
        )
        return [tuple(row) for row in rows]


def stock(engine: Any, sku: str) -> int:
    with engine.connect() as connection:
        on_hand: int = connection.execute(
            select(products.c.stock_on_hand).where(products.c.sku == sku)
        ).scalar_one()
        return on_hand


def test_add_save_and_ledger_in_one_transaction(engine: Any) -> None:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        mug = Product(sku="MUG-1", name="Mug", price=Decimal("9.90"))
        mug.add_stock(10, actor="a@shop.test")
        uow.products.add(mug)
        assert mug.id is not None and mug.created_at is not None and mug.pending_movements == []
        uow.commit()
    with PostgresUnitOfWork(database_of(engine)) as uow:
        stored = uow.products.get_by_sku("MUG-1", for_update=True)
        assert stored is not None
        stored.remove_stock(3)
        stored.change_details(price="8.00")
        uow.products.save(stored)
        # not committed: rolled back together with its movement
    assert stock(engine, "MUG-1") == 10 and ledger(engine, "MUG-1") == [
        (10, "adjust", "a@shop.test")
    ]
    with PostgresUnitOfWork(database_of(engine)) as uow:
        stored = uow.products.get_by_sku("MUG-1", for_update=True)
        assert stored is not None
        stored.remove_stock(3)
        uow.products.save(stored)
        uow.commit()
    assert stock(engine, "MUG-1") == 7
    assert [delta for delta, _, _ in ledger(engine, "MUG-1")] == [10, -3]


def test_duplicate_sku_is_a_conflict_and_the_transaction_stays_usable(engine: Any) -> None:
    create = CreateProduct(uow_factory(engine), "USD")
    create(ADMIN, sku="DUP", name="First", price="1.00", stock=1)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        with pytest.raises(Conflict, match="already exists"):
            uow.products.add(Product(sku="DUP", name="Second", price=Decimal("2.00")))
        uow.products.add(Product(sku="OTHER", name="Other", price=Decimal("2.00")))
        uow.commit()
    with engine.connect() as connection:
        names = connection.execute(select(products.c.name).order_by(products.c.sku)).scalars()
        assert list(names) == ["First", "Other"]


def test_delete_removes_unreferenced_and_archives_sold_products(engine: Any) -> None:
    create = CreateProduct(uow_factory(engine), "USD")
    create(ADMIN, sku="FREE", name="Free", price="1.00", stock=3)
    create(ADMIN, sku="SOLD", name="Sold", price="1.00", stock=3)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        sold = uow.products.get_by_sku("SOLD", for_update=True)
        assert sold is not None and sold.id is not None
        assert not uow.products.is_referenced(sold.id)
        sold.reserve(1)
        sold.commit_reservation(1, order_id=None)
        uow.products.save(sold)
        assert uow.products.is_referenced(sold.id)
        uow.commit()
    delete = DeleteProduct(uow_factory(engine))
    assert delete(ADMIN, "FREE").outcome == "deleted"
    assert delete(ADMIN, "SOLD").outcome == "archived"
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.products.get_by_sku("FREE") is None
        sold = uow.products.get_by_sku("SOLD")
        assert sold is not None and sold.active is False and sold.stock_on_hand == 2
    assert ledger(engine, "FREE") == []  # the ledger went with the product
    assert [reason for _, reason, _ in ledger(engine, "SOLD")] == ["adjust", "sale"]


def test_products_are_locked_in_id_order(engine: Any) -> None:
    create = CreateProduct(uow_factory(engine), "USD")
    for sku in ("C", "A", "B"):
        create(ADMIN, sku=sku, name=sku, price="1.00")
    ids = [p.id for p in PostgresReader(database_of(engine)).list(ProductQuery()) if p.id]
    with PostgresUnitOfWork(database_of(engine)) as uow:
        locked, _ = uow.inventory.lock_products(reversed(ids))
        assert [p.sku for p in locked] == ["C", "A", "B"]


@pytest.mark.parametrize(
    "values",
    [{"delta": 0}, {"reason": "gift"}, {"product_id": 999_999}],
)
def test_ledger_constraints(engine: Any, values: dict[str, Any]) -> None:
    CreateProduct(uow_factory(engine), "USD")(ADMIN, sku="X", name="X", price="1.00")
    with engine.connect() as connection:
        product_id = connection.execute(select(products.c.id)).scalar_one()
    row = {"product_id": product_id, "delta": 1, "reason": "adjust", **values}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(stock_movements).values(**row))


# -- concurrency: separate connections, started together ------------------------------------


def run_together(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``count`` threads released at the same instant; results or errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def wide_engine(db_url: str) -> Any:
    engine = inspection_engine(db_url, pool_size=12)
    yield engine
    dispose(engine)


def test_concurrent_additions_lose_no_update(wide_engine: Any) -> None:
    factory = uow_factory(wide_engine)
    CreateProduct(factory, "USD")(ADMIN, sku="HOT", name="Hot", price="1.00", stock=5)
    change = ChangeStock(factory, "USD")
    results = run_together(10, lambda: change(ADMIN, "HOT", add=3))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert stock(wide_engine, "HOT") == 5 + 10 * 3
    assert sum(delta for delta, _, _ in ledger(wide_engine, "HOT")) == 35


def test_concurrent_removals_never_go_below_available(wide_engine: Any) -> None:
    factory = uow_factory(wide_engine)
    CreateProduct(factory, "USD")(ADMIN, sku="HOT", name="Hot", price="1.00", stock=5)
    change = ChangeStock(factory, "USD")
    results = run_together(10, lambda: change(ADMIN, "HOT", remove=1))
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 5
    assert all(isinstance(r, Conflict) for r in losers), losers
    assert stock(wide_engine, "HOT") == 0
    assert sum(delta for delta, _, _ in ledger(wide_engine, "HOT")) == 0


# -- audit ----------------------------------------------------------------------------------


def audit(engine: Any) -> list[tuple[str, str]]:
    report = RunAudit(PostgresInvariantAuditor(database_of(engine)), uow_factory(engine))(ADMIN)
    assert report.ok is (not report.violations)
    return [(v.check, v.subject) for v in report.violations]


def test_audit_passes_after_catalog_commands(engine: Any) -> None:
    factory = uow_factory(engine)
    CreateProduct(factory, "USD")(ADMIN, sku="A", name="A", price="1.00", stock=4)
    CreateProduct(factory, "USD")(ADMIN, sku="B", name="B", price="1.00")
    ChangeStock(factory, "USD")(ADMIN, "A", remove=1)
    ChangeStock(factory, "USD")(ADMIN, "B", set_to=9)
    DeleteProduct(factory)(ADMIN, "B")
    assert audit(engine) == []


def test_audit_finds_tampering(engine: Any) -> None:
    factory = uow_factory(engine)
    for sku in ("LEDGER", "RESERVED", "FINE"):
        CreateProduct(factory, "USD")(ADMIN, sku=sku, name=sku, price="1.00", stock=4)
    with engine.begin() as connection:
        connection.execute(
            update(products).where(products.c.sku == "LEDGER").values(stock_on_hand=40)
        )
        # behind the database's back too: drop the constraint, then break the rule
        connection.execute(
            text("ALTER TABLE products DROP CONSTRAINT ck_products_reserved_within_stock")
        )
        connection.execute(update(products).where(products.c.sku == "RESERVED").values(reserved=5))
    catalog_checks = {"stock_matches_ledger", "stock_not_negative", "reserved_within_stock"}
    assert [v for v in audit(engine) if v[0] in catalog_checks] == [
        ("stock_matches_ledger", "LEDGER"),
        ("reserved_within_stock", "RESERVED"),
    ]
    assert "FINE" not in {subject for _, subject in audit(engine)}


def test_sale_movement_keeps_audit_clean(engine: Any) -> None:
    CreateProduct(uow_factory(engine), "USD")(ADMIN, sku="S", name="S", price="1.00", stock=2)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        product = uow.products.get_by_sku("S", for_update=True)
        assert product is not None
        product.reserve(2)
        movement = product.commit_reservation(2)
        assert movement.reason is StockReason.SALE
        uow.products.save(product)
        uow.commit()
    # the ledger and the counters agree; a sale that no paid order line accounts for is
    # the one thing the audit reports
    assert audit(engine) == [("sales_match_paid_order_lines", "S")]
