"""Purchase flow on a real PostgreSQL: repositories, constraints, the mock gateway, and the
races (threads + barrier, one connection each) that must never oversell or charge twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from shopctl.application.auth import Principal
from shopctl.application.carts import AddToCart, ShowCart
from shopctl.application.orders import (
    CancelOrder,
    PlaceOrder,
    ReleaseExpiredReservations,
)
from shopctl.application.payments import ListPayments, PayOrder
from shopctl.application.ports import ChargeStatus
from shopctl.domain.errors import Conflict, PaymentFailed, ShopError
from shopctl.domain.orders import OrderStatus, ReservationStatus
from shopctl.domain.products import Product
from shopctl.domain.repositories import OrderQuery, ProductQuery
from shopctl.domain.users import Role, User
from shopctl.infrastructure.db.invariants import PostgresInvariantAuditor
from shopctl.infrastructure.db.reads import PostgresReader
from shopctl.infrastructure.db.tables import (
    cart_lines,
    carts,
    inventory_reservations,
    mock_gateway_charges,
    orders,
    payments,
    products,
    stock_movements,
)
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from shopctl.infrastructure.payments.mock import MockPaymentGateway
from tests.database import (
    database_of,
    dispose,
    inspection_engine,
    wait_until_a_session_waits_on_a_lock,
)
from tests.fakes import FakeClock

TTL = timedelta(minutes=15)
DECLINED = "4000000000000002"


class Shop:
    """The purchase use cases on one engine, as bootstrap wires them."""

    def __init__(self, engine: Any, clock: Any = None) -> None:
        self.engine = engine
        self.clock = clock or FakeClock(datetime.now(UTC))
        self.gateway = MockPaymentGateway(database_of(engine))

        def uow() -> PostgresUnitOfWork:
            return PostgresUnitOfWork(database_of(engine))

        self.uow = uow
        self.add = AddToCart(uow, "USD")
        self.show = ShowCart(uow, "USD")
        self.place = PlaceOrder(uow, self.clock, TTL, "USD")
        self.pay = PayOrder(uow, self.clock, self.gateway)
        self.cancel = CancelOrder(uow, self.clock, self.gateway)
        self.payments = ListPayments(uow)
        self.release_expired = ReleaseExpiredReservations(uow, self.clock)

    def user(self, email: str, role: Role = Role.CUSTOMER) -> Principal:
        with self.uow() as uow:
            user = uow.users.add(User(email=email, password_hash="h", role=role))
            uow.commit()
        assert user.id is not None
        return Principal(user.id, email, role)

    def product(self, sku: str, stock: int, price: str = "5.00") -> None:
        with self.uow() as uow:
            product = Product(sku=sku, name=sku, price=Decimal(price))
            uow.products.add(product)
            if stock:
                product.add_stock(stock)
            uow.products.save(product)
            uow.commit()

    def product_id(self, sku: str) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(select(products.c.id).where(products.c.sku == sku)).scalar_one()
            )

    def counters(self, sku: str) -> tuple[int, int]:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(products.c.stock_on_hand, products.c.reserved).where(products.c.sku == sku)
            ).one()
        return row.stock_on_hand, row.reserved

    def status(self, order_id: int) -> str:
        with self.engine.connect() as connection:
            return str(
                connection.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar()
            )

    def audit(self) -> list[Any]:
        return PostgresInvariantAuditor(database_of(self.engine)).violations()

    def count(self, table: Any, *where: Any) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).select_from(table).where(*where)
                ).scalar_one()
            )


@pytest.fixture
def shop(engine: Any) -> Shop:
    return Shop(engine)


@pytest.fixture
def wide_engine(db_url: str) -> Any:
    engine = inspection_engine(db_url, pool_size=20)
    yield engine
    dispose(engine)


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; results or raised errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the test
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def run_side_by_side(*works: Callable[[], None]) -> None:
    """Run each in a thread of its own, and wait for all (they wait on each other's locks)."""
    threads = [threading.Thread(target=work) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)


# -- repositories ---------------------------------------------------------------------------


def test_cart_round_trip_and_reading_writes_nothing(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    shop.product("MUG", 10)
    assert shop.show(alice).items == []
    assert shop.count(carts) == 0  # reading an absent cart created nothing
    shop.add(alice, "TEA", 2)
    shop.add(alice, "MUG", 1)
    shop.add(alice, "TEA", 1)
    with PostgresUnitOfWork(database_of(shop.engine)) as uow:
        cart = uow.carts.get(alice.user_id, for_update=True)
        assert [(line.product.sku, line.quantity) for line in cart.lines] == [
            ("MUG", 1),
            ("TEA", 3),
        ]
        cart.remove("MUG")
        uow.carts.save(cart)
        uow.commit()
    assert [(i.sku, i.quantity) for i in shop.show(alice).items] == [("TEA", 3)]


def test_a_cart_edit_writes_only_the_line_it_changes(shop: Shop) -> None:
    """The cart is saved by what changed since it was read under its lock: adding to one line
    leaves the row of another untouched (the same row version), and removing one deletes only
    that one."""
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    shop.product("MUG", 10)
    shop.add(alice, "TEA", 1)
    shop.add(alice, "MUG", 1)

    def versions() -> dict[int, str]:
        with shop.engine.connect() as connection:
            rows = connection.execute(text("SELECT product_id, xmin::text FROM cart_lines"))
            return dict(rows.all())

    before = versions()
    shop.add(alice, "TEA", 2)
    after = versions()
    tea, mug = (shop.product_id(sku) for sku in ("TEA", "MUG"))
    assert after[mug] == before[mug] and after[tea] != before[tea]
    with PostgresUnitOfWork(database_of(shop.engine)) as uow:
        cart = uow.carts.get(alice.user_id, for_update=True)
        cart.remove("TEA")
        uow.carts.save(cart)
        uow.commit()
    assert versions() == {mug: before[mug]}
    assert [(i.sku, i.quantity) for i in shop.show(alice).items] == [("MUG", 1)]


def test_saving_products_moves_their_counters_by_what_changed(shop: Shop) -> None:
    """``reserved = reserved + q`` from the entity's change since the lock, not the absolute
    value it computed: a product saved unchanged is not written at all."""
    shop.product("TEA", 10)
    shop.product("MUG", 10)
    tea, mug = (shop.product_id(sku) for sku in ("TEA", "MUG"))
    with PostgresUnitOfWork(database_of(shop.engine)) as uow:
        products, _ = uow.inventory.lock_products([tea, mug])
        with shop.engine.connect() as connection:  # another transaction: not blocked by reads
            untouched = connection.execute(
                text("SELECT xmin::text FROM products WHERE id = :id"), {"id": mug}
            ).scalar()
        products[0].reserve(3)
        uow.inventory.save_products(products)
        products[0].reserve(2)  # a second save sends only the change since the first
        uow.inventory.save_products(products)
        uow.commit()
    with shop.engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, reserved FROM products")).all())
        mug_version = connection.execute(
            text("SELECT xmin::text FROM products WHERE id = :id"), {"id": mug}
        ).scalar()
    assert rows == {tea: 5, mug: 0} and mug_version == untouched


def test_order_repository_round_trip(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10, "4.50")
    shop.product("MUG", 10, "9.90")
    shop.add(alice, "TEA", 2)
    shop.add(alice, "MUG", 1)
    placed = shop.place(alice)
    with PostgresUnitOfWork(database_of(shop.engine)) as uow:
        order = uow.orders.get(placed.id, for_update=True)
        assert order is not None
        assert order.total == Decimal("18.90") and order.status is OrderStatus.PENDING_PAYMENT
        assert [(line.sku, line.quantity) for line in order.lines] == [("TEA", 2), ("MUG", 1)]
        assert {r.status for r in order.reservations} == {ReservationStatus.ACTIVE}
        assert all(r.id is not None for r in order.reservations)
        assert uow.orders.list(OrderQuery(user_id=alice.user_id + 1)) == []
        assert [o.id for o in uow.orders.list(OrderQuery(status=OrderStatus.PENDING_PAYMENT))] == [
            placed.id
        ]
        assert uow.orders.get(placed.id + 100) is None
        reservations = uow.inventory.reservations(active_only=True)
        assert sorted(r.sku for r in reservations) == ["MUG", "TEA"]
    assert shop.counters("TEA") == (10, 2)
    assert shop.count(cart_lines) == 0


def test_inventory_lock_reports_due_reservations(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    shop.add(alice, "TEA", 2)
    shop.place(alice)
    ids = [p.id for p in PostgresReader(database_of(shop.engine)).list(ProductQuery()) if p.id]
    with PostgresUnitOfWork(database_of(shop.engine)) as uow:
        locked, due = uow.inventory.lock_products(ids, due_at=shop.clock.now())
        assert [p.sku for p in locked] == ["TEA"] and not due
        _, due = uow.inventory.lock_products(ids, due_at=shop.clock.now() + TTL)
        assert due
        assert uow.inventory.release_expired(shop.clock.now() + TTL, ids) == 1
        assert uow.inventory.release_expired(shop.clock.now() + TTL) == 0
        uow.commit()
    assert shop.counters("TEA") == (10, 0)
    assert shop.audit() == []


# -- constraints ----------------------------------------------------------------------------


def test_constraints(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    shop.add(alice, "TEA", 1)
    order = shop.place(alice)
    with shop.engine.connect() as connection:
        cart_id = connection.execute(select(carts.c.id)).scalar_one()
        product_id = connection.execute(select(products.c.id)).scalar_one()
    bad_statements = [
        insert(cart_lines).values(cart_id=cart_id, product_id=product_id, quantity=0),
        insert(cart_lines).values(cart_id=cart_id, product_id=product_id, quantity=1000),
        update(orders).values(status="shipped"),
        update(orders).values(status="paid"),  # paid without paid_at
        update(orders).values(total=-1),
        update(inventory_reservations).values(quantity=0),
        update(inventory_reservations).values(status="lost"),
        insert(inventory_reservations).values(  # one reservation per order line
            order_id=order.id,
            product_id=product_id,
            quantity=1,
            status="active",
            expires_at=shop.clock.now(),
        ),
        update(products).values(reserved=11),
    ]
    for statement in bad_statements:
        with pytest.raises(IntegrityError), shop.engine.begin() as connection:
            connection.execute(statement)


def test_one_succeeded_payment_per_order_and_unique_keys(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    shop.add(alice, "TEA", 1)
    order = shop.place(alice)
    row = {"order_id": order.id, "amount": 5, "currency": "USD", "gateway_reference": "r"}
    with shop.engine.begin() as connection:
        connection.execute(insert(payments).values(status="succeeded", idempotency_key="a", **row))
        connection.execute(insert(payments).values(status="refunded", idempotency_key="b", **row))
    with pytest.raises(IntegrityError), shop.engine.begin() as connection:
        connection.execute(insert(payments).values(status="succeeded", idempotency_key="c", **row))
    with pytest.raises(IntegrityError), shop.engine.begin() as connection:
        connection.execute(insert(payments).values(status="refunded", idempotency_key="a", **row))
    with pytest.raises(IntegrityError), shop.engine.begin() as connection:
        connection.execute(  # a declined payment names its code
            insert(payments).values(status="declined", idempotency_key="d", **row)
        )


# -- the mock gateway -----------------------------------------------------------------------


def test_a_key_another_orders_payment_holds_is_refused_and_nothing_is_stored(
    shop: Shop,
) -> None:
    """The attempt goes with its unit's COMMIT: a key already taken stores nothing, and the
    caller is refused before any charge."""
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    shop.add(alice, "TEA", 1)
    first = shop.place(alice)
    shop.add(alice, "TEA", 1)
    second = shop.place(alice)
    shop.pay(alice, first.id, idempotency_key="k1")
    with pytest.raises(Conflict, match="'k1' is already in use"):
        shop.pay(alice, second.id, idempotency_key="k1")
    assert shop.payments(alice, second.id) == []
    assert shop.status(second.id) == "pending_payment"
    assert shop.count(mock_gateway_charges) == 1  # the first order's charge only
    shop.pay(alice, second.id, idempotency_key="k2")
    assert shop.status(second.id) == "paid"
    assert shop.audit() == []


def test_mock_gateway_cards_replays_and_key_reuse(shop: Shop) -> None:
    gateway = shop.gateway
    ok = gateway.charge(Decimal("5.00"), "USD", "4242424242424242", "k1")
    assert ok.status is ChargeStatus.SUCCEEDED and ok.decline_code is None
    assert gateway.charge(Decimal("5.00"), "USD", "4242424242424242", "k1") == ok
    with pytest.raises(Conflict, match="different parameters"):
        gateway.charge(Decimal("6.00"), "USD", "4242424242424242", "k1")
    with pytest.raises(Conflict):
        gateway.charge(Decimal("5.00"), "USD", DECLINED, "k1")
    outcomes = {
        card: gateway.charge(Decimal("1.00"), "USD", card, f"k-{card}")
        for card in ("4000000000000002", "4000000000009995", "4000000000000119", "4111111111111112")
    }
    assert [(r.status.value, r.decline_code) for r in outcomes.values()] == [
        ("declined", "card_declined"),
        ("declined", "insufficient_funds"),
        ("failed", "processing_error"),
        ("declined", "incorrect_number"),
    ]
    refund = gateway.refund(ok.reference, Decimal("3.00"), "r1")
    assert gateway.refund(ok.reference, Decimal("3.00"), "r1") == refund
    with pytest.raises(Conflict, match="exceeds"):
        gateway.refund(ok.reference, Decimal("2.01"), "r2")
    gateway.refund(ok.reference, Decimal("2.00"), "r2")
    assert shop.count(mock_gateway_charges, mock_gateway_charges.c.kind == "refund") == 2


def test_mock_gateway_same_key_concurrently_charges_once(wide_engine: Any) -> None:
    gateway = MockPaymentGateway(database_of(wide_engine))
    results = run_together(
        8, lambda _: gateway.charge(Decimal("5.00"), "USD", "4242424242424242", "same")
    )
    assert len({r.reference for r in results}) == 1
    assert Shop(wide_engine).count(mock_gateway_charges) == 1


# -- races ----------------------------------------------------------------------------------


def test_buyers_racing_for_the_last_units_never_oversell(wide_engine: Any) -> None:
    shop = Shop(wide_engine)
    buyers, available = 12, 5
    shop.product("HOT", available)
    shop.product("COLD", 100)
    principals = [shop.user(f"buyer{i}@example.com") for i in range(buyers)]
    for principal in principals:
        shop.add(principal, "HOT", 1)
        shop.add(principal, "COLD", 1)  # two products per order: lock order matters
    results = run_together(buyers, lambda i: shop.place(principals[i]))
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == available
    assert len(losers) == buyers - available
    assert all(isinstance(e, Conflict) and "HOT" in e.message for e in losers), losers
    assert shop.counters("HOT") == (available, available)
    assert shop.counters("COLD") == (100, available)
    assert shop.audit() == []


def test_two_concurrent_pays_of_one_order_charge_once(wide_engine: Any) -> None:
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 3)
    shop.add(alice, "TEA", 2)
    order = shop.place(alice)
    results = run_together(4, lambda _: shop.pay(alice, order.id))
    assert any(not isinstance(r, BaseException) for r in results), results
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException)), results
    charges = shop.count(mock_gateway_charges, mock_gateway_charges.c.kind == "charge")
    assert charges == 1
    assert [p.status for p in shop.payments(alice, order.id)] == ["succeeded"]
    assert shop.counters("TEA") == (1, 0)
    assert shop.audit() == []


def test_concurrent_pays_with_different_keys_keep_one_capture(wide_engine: Any) -> None:
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 3)
    shop.add(alice, "TEA", 1)
    order = shop.place(alice)
    results = run_together(4, lambda i: shop.pay(alice, order.id, idempotency_key=f"key-{i}"))
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1, results
    statuses = sorted(p.status for p in shop.payments(alice, order.id))
    assert statuses.count("succeeded") == 1
    assert set(statuses) <= {"succeeded", "refunded"}
    assert shop.counters("TEA") == (2, 0)
    assert shop.audit() == []


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_cancel_and_pay_end_consistent(wide_engine: Any, round_: int) -> None:
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    shop.add(alice, "TEA", 2)
    order = shop.place(alice)
    results = run_together(
        2, lambda i: shop.pay(alice, order.id) if i == 0 else shop.cancel(alice, order.id)
    )
    assert all(isinstance(r, ShopError) for r in results if isinstance(r, BaseException)), results
    status = shop.status(order.id)
    pays = [p.status for p in shop.payments(alice, order.id)]
    if status == "paid":  # pay won, the cancel came too late... or ran first and lost
        assert pays == ["succeeded"] and shop.counters("TEA") == (3, 0)
    else:
        assert status == "cancelled"
        assert "succeeded" not in pays
        assert shop.counters("TEA") == (5, 0)
    assert shop.audit() == []


def test_expiry_racing_with_pay_ends_consistent(wide_engine: Any) -> None:
    clock = FakeClock(datetime.now(UTC))
    shop = Shop(wide_engine, clock)
    admin = shop.user("admin@example.com", Role.ADMIN)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    placed = []
    for _ in range(4):
        shop.add(alice, "TEA", 1)
        placed.append(shop.place(alice).id)
    clock.advance(minutes=14, seconds=59)

    def work(i: int) -> Any:
        if i < len(placed):
            return shop.pay(alice, placed[i])
        clock.advance(seconds=1)
        return shop.release_expired(admin)

    run_together(len(placed) + 1, work)
    for order_id in placed:
        status = shop.status(order_id)
        pays = [p.status for p in shop.payments(alice, order_id)]
        assert status in ("paid", "expired")
        assert ("succeeded" in pays) == (status == "paid")
    assert shop.audit() == []


def test_pay_after_the_ttl_is_refused_and_releases(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 2)
    shop.add(alice, "TEA", 2)
    order = shop.place(alice)
    shop.clock.advance(minutes=15)
    with pytest.raises(Conflict, match="expired"):
        shop.pay(alice, order.id)
    assert shop.status(order.id) == "expired"
    assert shop.counters("TEA") == (2, 0)
    assert shop.count(mock_gateway_charges) == 0


def test_cancel_paid_refunds_and_restocks_in_the_ledger(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    shop.add(alice, "TEA", 2)
    order = shop.place(alice)
    with pytest.raises(PaymentFailed):
        shop.pay(alice, order.id, card=DECLINED)
    shop.pay(alice, order.id)
    assert shop.counters("TEA") == (3, 0)
    shop.cancel(alice, order.id)
    assert shop.counters("TEA") == (5, 0)
    with shop.engine.connect() as connection:
        reasons = connection.execute(
            select(
                stock_movements.c.reason, stock_movements.c.delta, stock_movements.c.order_id
            ).order_by(stock_movements.c.id)
        ).all()
    assert [tuple(r) for r in reasons] == [
        ("adjust", 5, None),
        ("sale", -2, order.id),
        ("restock_cancel", 2, order.id),
    ]
    assert [p.status for p in shop.payments(alice, order.id)] == ["declined", "refunded"]
    assert shop.count(mock_gateway_charges, mock_gateway_charges.c.kind == "refund") == 1
    assert shop.audit() == []


def test_audit_catches_an_order_whose_units_are_not_its_lines(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    shop.add(alice, "TEA", 2)
    order = shop.place(alice)
    assert shop.audit() == []
    with shop.engine.begin() as connection:
        connection.execute(text("UPDATE orders SET units = 3"))  # the lines hold 2
    broken = [v for v in shop.audit() if v.check == "order_total_matches_lines"]
    assert [(v.subject, v.detail) for v in broken] == [
        (f"order {order.id}", "total is 10.00, units 3; the lines sum to 10.00, 2 units")
    ]


def test_audit_catches_broken_purchase_invariants(shop: Shop) -> None:
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    shop.add(alice, "TEA", 2)
    order = shop.place(alice)
    shop.pay(alice, order.id)
    with shop.engine.begin() as connection:
        connection.execute(text("UPDATE payments SET status = 'refunded'"))
        connection.execute(text("UPDATE inventory_reservations SET status = 'active'"))
        connection.execute(text("UPDATE orders SET total = 1"))
        connection.execute(
            insert(payments).values(
                order_id=order.id, amount=1, currency="USD", status="pending",
                idempotency_key="lost", gateway_reference="ch_lost",
            )
        )  # fmt: skip
    names = {v.check for v in shop.audit()}
    assert {
        "no_refund_owed",
        "reserved_matches_reservations",
        "paid_orders_have_one_payment",
        "reservations_match_order_status",
        "order_total_matches_lines",
    } <= names


def test_a_product_in_an_order_is_archived_and_one_in_a_cart_deleted(shop: Shop) -> None:
    from shopctl.application.products import DeleteOutcome, DeleteProduct

    admin = shop.user("admin@example.com", Role.ADMIN)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 2)
    shop.product("MUG", 2)
    shop.add(alice, "TEA", 1)
    order = shop.place(alice)
    shop.cancel(alice, order.id)  # no sale: only the order line refers to TEA now
    shop.add(alice, "MUG", 1)  # a cart line does not keep a product alive
    delete = DeleteProduct(shop.uow)
    assert delete(admin, "TEA").outcome is DeleteOutcome.ARCHIVED
    assert delete(admin, "MUG").outcome is DeleteOutcome.DELETED
    assert shop.show(alice).items == []
    assert shop.count(products, products.c.sku == "TEA") == 1


def test_a_deadlock_in_the_hot_path_is_a_transient_conflict(wide_engine: Any) -> None:
    from shopctl.application.errors import TransientConflict

    shop = Shop(wide_engine)
    shop.product("A", 1)
    shop.product("B", 1)
    ids = [p.id for p in PostgresReader(database_of(wide_engine)).list(ProductQuery()) if p.id]
    both_hold_one = threading.Barrier(2)

    def lock_in_opposite_orders(i: int) -> str:
        first, second = (ids[0], ids[1]) if i == 0 else (ids[1], ids[0])
        with PostgresUnitOfWork(database_of(wide_engine)) as uow:
            uow.inventory.lock_products([first])
            both_hold_one.wait()
            uow.inventory.lock_products([second])
            uow.commit()
        return "committed"

    results = run_together(2, lock_in_opposite_orders)
    assert {type(r) for r in results} == {str, TransientConflict}, results


def test_one_cart_placed_twice_at_once_makes_one_order(wide_engine: Any) -> None:
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    shop.add(alice, "TEA", 2)
    results = run_together(4, lambda _: shop.place(alice))
    orders_made = [r for r in results if not isinstance(r, BaseException)]
    assert len(orders_made) == 1, results
    assert all(
        isinstance(r, Conflict) and "empty" in r.message for r in results if r not in orders_made
    )
    assert shop.counters("TEA") == (10, 2)


def test_concurrent_cart_edits_of_one_user_lose_nothing(wide_engine: Any) -> None:
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    for sku in ("A", "B", "C", "D"):
        shop.product(sku, 100)
    run_together(8, lambda i: shop.add(alice, "ABCD"[i % 4], 1))  # the first add creates it
    items = {item.sku: item.quantity for item in shop.show(alice).items}
    assert items == {"A": 2, "B": 2, "C": 2, "D": 2}


@pytest.mark.parametrize("cart_exists", [True, False])
def test_a_cart_locked_after_a_wait_is_read_as_committed(
    wide_engine: Any, cart_exists: bool
) -> None:
    """A cart edit locks the cart and reads its lines in one statement, whose snapshot is
    older than the lock when it had to wait: it sees that the cart was locked meanwhile, and
    reads the lines the other edit left (the cart made by it, too)."""
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 10)
    if cart_exists:
        shop.add(alice, "TEA", 1)
        shop.add(alice, "TEA", 1)  # a version past the first
        with PostgresUnitOfWork(database_of(wide_engine)) as uow:
            cart = uow.carts.get(alice.user_id, for_update=True)
            cart.clear()
            uow.carts.save(cart)
            uow.commit()
    first_holds_the_lock = threading.Event()

    def add_slowly() -> None:
        with PostgresUnitOfWork(database_of(wide_engine)) as uow:
            cart = uow.carts.get(alice.user_id, for_update=True)
            product = uow.products.get_by_sku("TEA")
            assert product is not None
            cart.add(product, 2)
            uow.carts.save(cart)
            first_holds_the_lock.set()
            wait_until_a_session_waits_on_a_lock(wide_engine)  # the second edit
            uow.commit()

    def add_after_the_wait() -> None:
        first_holds_the_lock.wait()
        shop.add(alice, "TEA", 3)

    run_side_by_side(add_slowly, add_after_the_wait)
    assert [(i.sku, i.quantity) for i in shop.show(alice).items] == [("TEA", 5)]


def test_an_order_locked_after_a_wait_is_read_as_committed(wide_engine: Any) -> None:
    shop = Shop(wide_engine)
    alice = shop.user("alice@example.com")
    shop.product("TEA", 5)
    shop.add(alice, "TEA", 2)
    order_id = shop.place(alice).id
    first_holds_the_lock = threading.Event()
    seen: list[Any] = []

    def pay_slowly() -> None:
        with PostgresUnitOfWork(database_of(wide_engine)) as uow:
            order = uow.orders.get(order_id, for_update=True)
            assert order is not None
            order.mark_paid(shop.clock.now())
            uow.orders.update(order)
            first_holds_the_lock.set()
            wait_until_a_session_waits_on_a_lock(wide_engine)  # the second reader
            uow.commit()

    def read_after_the_wait() -> None:
        first_holds_the_lock.wait()
        with PostgresUnitOfWork(database_of(wide_engine)) as uow:
            seen.append(uow.orders.get(order_id, for_update=True))

    run_side_by_side(pay_slowly, read_after_the_wait)
    [order] = seen
    assert order.status is OrderStatus.PAID
    assert {r.status for r in order.reservations} == {ReservationStatus.COMMITTED}


def test_a_refund_waiting_on_another_sees_it_and_never_exceeds_the_capture(
    wide_engine: Any,
) -> None:
    gateway = MockPaymentGateway(database_of(wide_engine))
    charge = gateway.charge(Decimal("10.00"), "USD", "4242424242424242", "one-charge")
    first_holds_the_charge = threading.Event()

    def refund_slowly() -> None:
        # what a first refund does, holding the charge's lock a little longer
        with wide_engine.begin() as connection:
            connection.execute(
                select(mock_gateway_charges.c.id)
                .where(mock_gateway_charges.c.reference == charge.reference)
                .with_for_update()
            )
            connection.execute(
                insert(mock_gateway_charges).values(
                    idempotency_key="first", kind="refund", reference="re_first",
                    charge_reference=charge.reference, amount=Decimal("10.00"),
                    status="succeeded",
                )
            )  # fmt: skip
            first_holds_the_charge.set()
            wait_until_a_session_waits_on_a_lock(wide_engine)  # the second refund

    def second_refund() -> Any:
        first_holds_the_charge.wait()
        try:
            return gateway.refund(charge.reference, Decimal("10.00"), "second")
        except Conflict as refused:
            return refused

    outcome: list[Any] = []
    threads = [
        threading.Thread(target=refund_slowly),
        threading.Thread(target=lambda: outcome.append(second_refund())),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    [refused] = outcome
    assert isinstance(refused, Conflict) and "exceeds" in refused.message
