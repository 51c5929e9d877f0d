"""Rules that also run as set-based SQL, for bulk work, agree with the domain's.

Each test runs the domain rule and the statement on the same rows and compares outcomes:
reservation expiry (``Order.is_due`` / ``Order.expire`` against ``RELEASE_EXPIRED``), the
defaults of a new product (``Product`` against the import's ``INSERT_NEW``), and the ledger
row of a stock change (``Product.set_stock`` against the import's ``UPDATE_EXISTING``).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shopctl.application.catalog import ImportCatalog, SourceRow
from shopctl.domain.orders import Order
from shopctl.domain.products import Product, StockReason
from shopctl.domain.repositories import OrderQuery, ProductQuery
from shopctl.domain.users import Role
from shopctl.infrastructure.db.imports import PostgresImportUnitOfWork
from shopctl.infrastructure.db.reads import PostgresReader
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from tests.database import database_of, seed_users
from tests.integration.test_purchase_database import TTL, Shop

ADMIN_EMAIL = "admin@shop.test"


def order_state(order: Order) -> tuple[str, list[tuple[int, str]]]:
    return order.status.value, sorted((r.product_id, r.status.value) for r in order.reservations)


def stored(engine: Any) -> tuple[dict[int, Order], dict[int, int]]:
    with PostgresUnitOfWork(database_of(engine), read_only=True) as uow:
        orders = {o.id: o for o in uow.orders.list(OrderQuery()) if o.id is not None}
    catalog = PostgresReader(database_of(engine)).list(ProductQuery(include_inactive=True))
    return orders, {p.id: p.reserved for p in catalog if p.id is not None}


@pytest.mark.parametrize("only_some_products", [False, True])
def test_expiry_in_sql_is_the_domains_expiry(engine: Any, only_some_products: bool) -> None:
    shop = Shop(engine)
    alice, bob = shop.user("alice@example.com"), shop.user("bob@example.com")
    for sku in ("A", "B", "C"):
        shop.product(sku, 20)
    # Orders placed at different times, in every state an order can be in.
    start = shop.clock.now()
    for minutes, user, skus, then in [
        (0, alice, "AB", "pay"),  # paid: never expires
        (5, bob, "B", "cancel"),  # cancelled: never expires
        (8, bob, "B", None),
        (10, alice, "C", None),
        (14, bob, "AC", None),
        (20, alice, "A", None),
    ]:
        shop.clock.current = start + timedelta(minutes=minutes)
        for sku in skus:
            shop.add(user, sku, 1 + minutes % 3)
        order_id = shop.place(user).id
        if then == "pay":
            shop.pay(user, order_id)
        elif then == "cancel":
            shop.cancel(user, order_id)
    now = start + timedelta(minutes=10) + TTL  # the third is due exactly now
    wanted = None
    if only_some_products:
        with PostgresUnitOfWork(database_of(engine)) as uow:
            c = uow.products.get_by_sku("C")
            assert c is not None and c.id is not None
            wanted = [c.id]  # the order of minute 8 is due too, but holds no C

    orders, reserved = stored(engine)
    for order in orders.values():  # the domain's answer
        holds_wanted = wanted is None or any(r.product_id in wanted for r in order.reservations)
        if order.is_due(now) and holds_wanted:
            for reservation in order.expire(now):
                reserved[reservation.product_id] -= reservation.quantity
    expected = ({i: order_state(o) for i, o in orders.items()}, reserved)

    with PostgresUnitOfWork(database_of(engine)) as uow:  # the statement's answer
        uow.inventory.release_expired(now, wanted)
        uow.commit()
    after_orders, after_reserved = stored(engine)

    assert ({i: order_state(o) for i, o in after_orders.items()}, after_reserved) == expected
    assert any(o.status.value == "expired" for o in after_orders.values())
    assert any(o.status.value == "pending_payment" for o in after_orders.values())
    assert shop.audit() == []


def run_import(engine: Any, *rows: dict[str, object]) -> Any:
    from shopctl.application.auth import Principal

    admin = Principal(user_id=1000, email=ADMIN_EMAIL, role=Role.ADMIN)
    if not database_of(engine).sql().scalar("SELECT count(*) FROM users WHERE id = 1000"):
        seed_users(engine, admin)
    source = [SourceRow(line, fields) for line, fields in enumerate(rows, start=2)]
    return ImportCatalog(lambda: PostgresImportUnitOfWork(database_of(engine)))(admin, source)


def test_a_new_products_defaults_in_sql_are_the_domains(engine: Any) -> None:
    run_import(engine, {"sku": "NEW-1", "name": "New", "price": "2.50"})
    domain = Product(sku="NEW-1", name="New", price=Decimal("2.50"))
    with PostgresUnitOfWork(database_of(engine)) as uow:
        written = uow.products.get_by_sku("NEW-1")
    assert written is not None
    fields = ("sku", "name", "price", "description", "stock_on_hand", "reserved", "active")
    assert {f: getattr(written, f) for f in fields} == {f: getattr(domain, f) for f in fields}


@pytest.mark.parametrize(("before", "after"), [(5, 8), (8, 5), (0, 3), (3, 0)])
def test_a_stock_changes_ledger_row_in_sql_is_the_domains(
    engine: Any, before: int, after: int
) -> None:
    run_import(engine, {"sku": "S-1", "name": "S", "price": "1.00", "stock": str(before)})
    run_import(engine, {"sku": "S-1", "stock": str(after)})
    domain = Product(sku="S-1", name="S", price=Decimal("1.00"), stock_on_hand=before)
    domain.set_stock(after, reason=StockReason.IMPORT, actor=ADMIN_EMAIL)
    [expected] = [(m.delta, m.reason.value, m.actor) for m in domain.pending_movements]
    with engine.connect() as connection:
        from sqlalchemy import text

        rows = connection.execute(
            text(
                "SELECT delta, reason, actor FROM stock_movements m"
                " JOIN products p ON p.id = m.product_id WHERE p.sku = 'S-1' ORDER BY m.id"
            )
        ).all()
    assert tuple(rows[-1]) == expected
    assert sum(row.delta for row in rows) == after
