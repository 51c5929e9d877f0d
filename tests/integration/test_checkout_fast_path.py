"""What keeps the checkout path fast, on a real PostgreSQL: values sent as text arrive as
they were; a unit of work's BEGIN goes with its first statement and the writes nobody reads
with its COMMIT, and die with a rollback; reads ahead (the session check) go with the next
statement, and their check stands before that statement's outcome; read-only units of work
keep the prepared statements and still refuse every write; a command browses and acts on one
connection; one purchase flow takes exactly the round trips of the benchmark's copy of its
statements."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from threading import Thread
from typing import Any

import psycopg
import pytest

from shopctl.application.auth import Principal
from shopctl.bootstrap import Shop
from shopctl.domain.errors import NotAuthenticated, NotFound, PaymentFailed
from shopctl.domain.repositories import ProductQuery
from shopctl.domain.users import Role
from shopctl.infrastructure.config import load_settings
from shopctl.infrastructure.db.connect import PREPARE_AT, ConnectionSettings, Database
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from shopctl.simulation.runner import DECLINED_CARD
from tests.database import database_of, wait_until_a_session_waits_on_a_lock
from tests.unit.test_bench_statements import round_trips

# a statement is prepared on a connection once it has run this many times
PREPARE_THRESHOLD = PREPARE_AT
INSERT_X1 = "INSERT INTO products (sku, name, price) VALUES ('x1', 'X', 1)"


def backend_pid(uow: PostgresUnitOfWork) -> int:
    return int(uow.sql.scalar("SELECT pg_backend_pid()"))


def prepared_statements(uow: PostgresUnitOfWork) -> list[str]:
    return [row.statement for row in uow.sql.rows("SELECT statement FROM pg_prepared_statements")]


def test_read_only_unit_of_work_refuses_writes(engine: Any) -> None:
    database = database_of(engine)
    with (
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
        PostgresUnitOfWork(database, read_only=True) as uow,
    ):
        uow.sql.run(INSERT_X1)
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


def test_the_connection_writes_again_after_a_read_only_unit_of_work(engine: Any) -> None:
    database = database_of(engine)
    with PostgresUnitOfWork(database, read_only=True) as uow:
        reader = backend_pid(uow)
    with PostgresUnitOfWork(database) as uow:
        assert backend_pid(uow) == reader  # the same connection
        uow.sql.run(INSERT_X1)
        uow.commit()
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is not None


def test_browsing_keeps_the_statements_prepared(engine: Any) -> None:
    # Units of work that end, read-only or not, leave the statements prepared on the
    # connection: the checkout path is parsed and planned once per connection.
    database = database_of(engine)
    for _ in range(PREPARE_THRESHOLD + 1):
        with PostgresUnitOfWork(database, read_only=True) as uow:
            uow.products.get_by_sku("mug")
        with PostgresUnitOfWork(database) as uow:
            uow.products.get_by_sku("mug", for_update=True)
            uow.commit()
    with PostgresUnitOfWork(database, read_only=True) as uow:
        prepared = prepared_statements(uow)
    assert any(s.endswith("WHERE sku = $1") for s in prepared), prepared
    assert any("WHERE sku = $1 FOR UPDATE" in s for s in prepared), prepared


def test_a_command_browses_and_acts_on_one_connection_with_prepared_statements(
    shop: Shop,
) -> None:
    for _ in range(PREPARE_THRESHOLD + 1):
        shop.list_products()(ProductQuery())
    with shop.read_uow() as uow:
        prepared = prepared_statements(uow)
        pids = uow.sql.rows(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND application_name = 'shopctl'"
        )
    assert any("ORDER BY sku" in statement for statement in prepared), prepared
    assert pids == [], "the read side and the unit of work share one connection"


def test_the_catalog_refuses_a_database_behind_the_latest_migration(
    db_url: str, engine: Any
) -> None:
    from shopctl.application.errors import DatabaseUnavailable
    from shopctl.infrastructure.db import migrations
    from shopctl.infrastructure.db.reads import PostgresReader

    migrations.downgrade(database_of(engine).settings, "0002")
    database = Database(ConnectionSettings(db_url))
    catalog = PostgresReader(database)
    with pytest.raises(DatabaseUnavailable, match=r"is at revision 0002.*needs revision"):
        catalog.get_by_sku("x1")
    migrations.upgrade(database_of(engine).settings)
    assert catalog.get_by_sku("x1") is None
    database.close()


@pytest.mark.parametrize(
    ("value", "cast"),
    [
        (None, "integer"),
        (2**62, "bigint"),
        (Decimal("12345678.90"), "numeric(12,2)"),
        (True, "boolean"),
        ("", "text"),
        ("ünï ☕ \\ ' \" \t\n\x1b[31m", "text"),
        (datetime(2026, 12, 6, 16, 0, 0, 5, tzinfo=UTC), "timestamptz"),
        (date(2026, 2, 28), "date"),
        (timedelta(days=1, seconds=7, microseconds=9), "interval"),
        ([], "bigint[]"),
        ([1, None, 3], "bigint[]"),
        (["a", 'b "c"', "d\\e", "NULL", "", "{,}", None, " x "], "text[]"),
        ([Decimal("1.50"), Decimal("0.00")], "numeric[]"),
    ],
)
def test_each_value_reaches_the_server_as_it_was(engine: Any, value: Any, cast: str) -> None:
    sql = database_of(engine).sql()
    for _ in range(PREPARE_AT + 1):  # unprepared, then prepared
        assert sql.scalar(f"SELECT %(value)s::{cast}", {"value": value}) == value


def test_a_unit_of_work_begins_with_its_first_statement(engine: Any) -> None:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        before = uow.sql.round_trips
        assert uow.sql.scalar("SELECT now() = statement_timestamp()") is False  # in a BEGIN
        assert uow.sql.round_trips == before + 1


def test_queued_writes_go_with_the_commit(engine: Any) -> None:
    database = database_of(engine)
    with PostgresUnitOfWork(database) as uow:
        before = uow.sql.round_trips
        uow.sql.later(INSERT_X1)
        assert uow.sql.round_trips == before  # nothing sent yet
        uow.commit()
        assert uow.sql.round_trips == before + 1  # BEGIN, the insert and COMMIT together
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is not None


def test_queued_writes_go_before_the_next_statement(engine: Any) -> None:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        uow.sql.later(INSERT_X1)
        assert uow.products.get_by_sku("x1") is not None


def test_queued_writes_die_with_their_unit_of_work(engine: Any) -> None:
    database = database_of(engine)
    with pytest.raises(RuntimeError), PostgresUnitOfWork(database) as uow:
        uow.sql.later(INSERT_X1)
        raise RuntimeError("the use case gave up")
    with PostgresUnitOfWork(database) as uow:
        uow.sql.run("SELECT 1")  # a write left behind would go with this
        uow.commit()
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


def test_a_queued_write_that_fails_fails_the_commit_and_writes_nothing(engine: Any) -> None:
    database = database_of(engine)
    with pytest.raises(psycopg.errors.CheckViolation), PostgresUnitOfWork(database) as uow:
        uow.sql.run(INSERT_X1)
        uow.sql.later("UPDATE products SET stock_on_hand = -1 WHERE sku = 'x1'")
        uow.commit()
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


INSERT_X1_RETURNING = INSERT_X1 + " RETURNING id"


def test_a_queued_write_hands_its_ids_over_in_the_commits_round_trip(engine: Any) -> None:
    database = database_of(engine)
    taken: list[int] = []
    with PostgresUnitOfWork(database) as uow:
        before = uow.sql.round_trips
        uow.sql.later(INSERT_X1_RETURNING, then=lambda rows: taken.extend(r.id for r in rows))
        assert taken == []  # nothing sent yet
        uow.commit()
        assert uow.sql.round_trips == before + 1  # BEGIN, the insert and COMMIT together
    with PostgresUnitOfWork(database) as uow:
        stored = uow.products.get_by_sku("x1")
    assert stored is not None
    assert taken == [stored.id]


def test_a_queued_write_that_fails_hands_nothing_over_and_writes_nothing(engine: Any) -> None:
    database = database_of(engine)
    taken: list[Any] = []
    with pytest.raises(psycopg.errors.CheckViolation), PostgresUnitOfWork(database) as uow:
        uow.sql.later(INSERT_X1_RETURNING, then=taken.extend)
        uow.sql.later("UPDATE products SET stock_on_hand = -1 WHERE sku = 'x1'")
        uow.commit()
    assert taken == []  # the insert itself succeeded, but not its round trip
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


class Refused(Exception):
    pass


def refuse(rows: list[Any]) -> None:
    raise Refused(f"{len(rows)} rows")


def test_reads_ahead_go_with_the_next_statement(engine: Any) -> None:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        before = uow.sql.round_trips
        ahead = uow.sql.ahead(
            [("SELECT 1 AS a", None), ("SELECT 2 AS b", None)], lambda a, b: (a[0].a, b[0].b)
        )
        assert uow.sql.round_trips == before  # nothing sent yet
        assert uow.sql.scalar("SELECT 3") == 3
        assert uow.sql.round_trips == before + 1  # BEGIN, both reads and the statement
        assert ahead.value() == (1, 2)
        assert uow.sql.round_trips == before + 1


def test_a_read_ahead_alone_is_sent_when_its_value_is_asked_for(engine: Any) -> None:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        before = uow.sql.round_trips
        ahead = uow.sql.ahead([("SELECT 1 AS a", None)], lambda rows: rows[0].a)
        assert ahead.value() == 1
        assert uow.sql.round_trips == before + 1


def test_a_failed_check_stands_before_the_next_statements_outcome(engine: Any) -> None:
    database = database_of(engine)
    with pytest.raises(Refused), PostgresUnitOfWork(database) as uow:
        uow.sql.ahead([("SELECT 1 AS a", None)], refuse)
        uow.sql.run("INSERT INTO carts (user_id) VALUES (-1)")  # fails too: no such user
    with pytest.raises(Refused), PostgresUnitOfWork(database) as uow:
        uow.sql.ahead([("SELECT 1 AS a", None)], refuse)
        uow.sql.run(INSERT_X1)
        uow.commit()  # not reached: the check refused before the insert's result was used
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


@pytest.mark.parametrize("where", ["ahead", "behind"])
def test_reads_ahead_or_behind_never_travel_with_the_commit(engine: Any, where: str) -> None:
    """A COMMIT sent with them would commit before their check ran."""
    database = database_of(engine)
    with pytest.raises(Refused), PostgresUnitOfWork(database) as uow:
        uow.sql.later(INSERT_X1)
        getattr(uow.sql, where)([("SELECT 1 AS a", None)], refuse)
        uow.commit()
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


def test_reads_behind_a_lock_see_what_its_holder_committed(engine: Any) -> None:
    """Reads ahead go before the next statement, reads behind right after it, in the same
    round trip: behind a row lock, they see the row as the lock's holder committed it."""
    database = database_of(engine)
    with PostgresUnitOfWork(database) as uow:
        uow.sql.run(INSERT_X1)
        uow.commit()
    stock = "SELECT stock_on_hand FROM products WHERE sku = 'x1'"
    seen: dict[str, Any] = {}

    def waiter() -> None:
        try:
            with PostgresUnitOfWork(database) as uow:
                before = uow.sql.round_trips
                ahead = uow.sql.ahead([(stock, None)], lambda rows: rows[0].stock_on_hand)
                behind = uow.sql.behind([(stock, None)], lambda rows: rows[0].stock_on_hand)
                uow.sql.run("SELECT 1 FROM products WHERE sku = 'x1' FOR UPDATE")
                seen.update(
                    ahead=ahead.value(),
                    behind=behind.value(),
                    round_trips=uow.sql.round_trips - before,
                )
        except BaseException as error:
            seen["error"] = error

    with PostgresUnitOfWork(database) as holder:
        holder.sql.run("UPDATE products SET stock_on_hand = 5 WHERE sku = 'x1'")
        thread = Thread(target=waiter)
        thread.start()
        try:
            wait_until_a_session_waits_on_a_lock(engine)
            holder.commit()
        finally:
            thread.join(timeout=60)
    assert "error" not in seen, seen
    assert seen == {"ahead": 0, "behind": 5, "round_trips": 1}


def test_reads_behind_go_right_after_the_next_statement(engine: Any) -> None:
    database = database_of(engine)
    with PostgresUnitOfWork(database) as uow:
        before = uow.sql.round_trips
        inserted = uow.sql.behind(
            [("SELECT count(*) AS n FROM products WHERE sku = 'x1'", None)], lambda rows: rows[0].n
        )
        uow.sql.run(INSERT_X1)
        assert (inserted.value(), uow.sql.round_trips - before) == (1, 1)


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[Shop]:
    opened = Shop(load_settings(database_url=db_url, config_dir=str(tmp_path), environ={}))
    yield opened
    opened.close()


def bob_and_products(shop: Shop, products: str) -> Principal:
    """A customer, Bob, and products (value lists of sku, name, price, stock_on_hand)."""
    with shop.uow() as uow:
        uow.sql.run("INSERT INTO products (sku, name, price, stock_on_hand) VALUES " + products)
        user_id = uow.sql.scalar(
            "INSERT INTO users (email, password_hash) VALUES ('bob@example.com', 'x') RETURNING id"
        )
        uow.commit()
    return Principal(user_id, "bob@example.com", Role.CUSTOMER)


def locked_skus(db_url: str, skus: list[str]) -> list[str]:
    """Which of these products another session cannot lock now."""
    locked = []
    with psycopg.connect(db_url, autocommit=True) as other:
        for sku in skus:
            try:
                other.execute("SELECT 1 FROM products WHERE sku = %s FOR UPDATE NOWAIT", (sku,))
            except psycopg.errors.LockNotAvailable:
                locked.append(sku)
    return locked


def test_placing_locks_the_carts_products_behind_the_carts_lock(shop: Shop, db_url: str) -> None:
    """In the cart lock's round trip, in id order, held until the unit of work ends."""
    bob = bob_and_products(shop, "('B-1', 'B', 2, 9), ('A-1', 'A', 2, 9), ('C-1', 'C', 2, 9)")
    shop.add_to_cart()(bob, "B-1", 1)
    shop.add_to_cart()(bob, "A-1", 1)
    with shop.uow() as uow:
        before = uow.sql.round_trips
        locking = uow.inventory.lock_cart_products_after_next(bob.user_id)
        cart = uow.carts.get(bob.user_id, for_update=True)
        products, due = locking()
        assert uow.sql.round_trips - before == 1
        assert [p.sku for p in products] == ["B-1", "A-1"]  # id order, the cart's only
        assert sorted(line.product.sku for line in cart.lines) == ["A-1", "B-1"]
        assert not due
        assert locked_skus(db_url, ["A-1", "B-1", "C-1"]) == ["A-1", "B-1"]


def test_a_sale_locks_the_products_the_orders_reservations_hold_behind_its_lock(
    shop: Shop, db_url: str
) -> None:
    bob = bob_and_products(shop, "('B-1', 'B', 2, 9), ('A-1', 'A', 2, 9), ('C-1', 'C', 2, 9)")
    shop.add_to_cart()(bob, "B-1", 1)
    shop.add_to_cart()(bob, "A-1", 2)
    placed = shop.place_order()(bob)
    with shop.uow() as uow:
        before = uow.sql.round_trips
        locking = uow.inventory.lock_order_products_after_next(placed.id)
        order = uow.orders.get(placed.id, for_update=True)
        products, _ = locking()
        assert uow.sql.round_trips - before == 1
        assert order is not None and len(order.reservations) == 2
        assert [p.sku for p in products] == ["B-1", "A-1"]  # id order, the order's only
        assert [p.reserved for p in products] == [1, 2]
        assert locked_skus(db_url, ["A-1", "B-1", "C-1"]) == ["A-1", "B-1"]


def test_the_session_check_refuses_a_deleted_user_before_the_carts_lock_fails(
    shop: Shop,
) -> None:
    """The check's reads go with the cart's lock, which fails for a user that is gone (its
    cart row has no user to point to): the user gets the session error, not that failure."""
    bob_and_products(shop, "('SKU-1', 'One', 2, 9)")
    ghost = Principal(10**9, "ghost@example.com", Role.CUSTOMER)
    with pytest.raises(NotAuthenticated, match="no longer exists"):
        shop.add_to_cart()(ghost, "SKU-1", 1)
    with pytest.raises(NotAuthenticated, match="no longer exists"):
        shop.place_order()(ghost)
    with pytest.raises(NotAuthenticated, match="no longer exists"):
        shop.pay_order()(ghost, 1)


def test_a_deactivated_user_changes_nothing_and_an_unknown_sku_is_not_found(shop: Shop) -> None:
    bob = bob_and_products(shop, "('SKU-1', 'One', 2, 9)")
    shop.add_to_cart()(bob, "SKU-1", 1)
    cart = "SELECT c.version, l.quantity FROM carts c JOIN cart_lines l ON l.cart_id = c.id"
    with shop.uow() as uow:
        stored = uow.sql.first(cart)
    with pytest.raises(NotFound, match="no product with SKU 'SKU-2'"):
        shop.add_to_cart()(bob, "SKU-2", 1)
    with shop.uow() as uow:
        uow.sql.run("UPDATE users SET active = false WHERE id = %(id)s", {"id": bob.user_id})
        uow.commit()
    with pytest.raises(NotAuthenticated):
        shop.add_to_cart()(bob, "SKU-1", 5)
    with shop.uow() as uow:
        assert uow.sql.first(cart) == stored  # neither try changed the cart


def test_a_flow_takes_the_round_trips_of_the_benchmarks_copy(shop: Shop) -> None:
    """bench/checkout compares simulate with pgbench running bench/checkout.sql: shopctl must
    take as many round trips for a purchase flow as that script (no more, or the script
    flatters it; no fewer, or it flatters pgbench)."""
    bob = bob_and_products(
        shop, "('BENCH-1', 'Bench product 1', 2, 100), ('BENCH-2', 'Bench product 2', 3, 100)"
    )
    sql = shop.database.sql()
    for _ in range(PREPARE_AT + 1):  # unprepared, then prepared: the same round trips
        before = sql.round_trips
        shop.list_products()(ProductQuery(limit=10))
        shop.add_to_cart()(bob, "BENCH-1", 1)
        shop.add_to_cart()(bob, "BENCH-2", 2)
        order = shop.place_order()(bob)
        shop.pay_order()(bob, order.id)
        assert sql.round_trips - before == round_trips(full_flow=True)


def test_no_statement_of_a_purchase_is_planned_anew_on_every_run(shop: Shop) -> None:
    """PostgreSQL plans a prepared statement for the values at hand five times, then keeps
    its generic plan unless that one costs more; a statement whose generic plan costs more
    (say, one that assumes an array parameter of ten elements) is planned on every run, and
    planning it costs the server more than running it. Every way a purchase goes: paid,
    declined then cancelled, cancelled."""
    bob = bob_and_products(
        shop,
        "('BENCH-1', 'Bench product 1', 2, 1000), ('BENCH-2', 'Bench product 2', 3, 1000),"
        " ('BENCH-3', 'Bench product 3', 4, 1000)",
    )
    with shop.uow() as uow:  # a shop's catalog and its orders of two lines, with statistics:
        uow.sql.run(  # a plan's cost depends on them
            "INSERT INTO products (sku, name, price, stock_on_hand)"
            " SELECT 'MORE-' || n, 'More ' || n, 1, 5 FROM generate_series(1, 2000) n"
        )
        uow.sql.run(
            "WITH o AS (INSERT INTO orders (user_id, status, total, units, currency, expires_at,"
            " paid_at) SELECT %(user)s, 'paid', 1, 1, 'USD', now(), now()"
            " FROM generate_series(1, 2000) RETURNING id)"
            " INSERT INTO inventory_reservations (order_id, product_id, quantity, status,"
            " expires_at) SELECT o.id, p.id, 1, 'committed', now() FROM o,"
            " (SELECT id FROM products WHERE sku IN ('MORE-1', 'MORE-2')) p",
            {"user": bob.user_id},
        )
        uow.commit()
    with shop.read_uow() as uow:
        uow.sql.run("ANALYZE")
    for run in range(PREPARE_AT + 7):
        shop.list_products()(ProductQuery(limit=10, offset=run * 397 % 1990))  # as simulate
        for sku in ("BENCH-1", "BENCH-2", "BENCH-3")[: 2 + run % 2]:  # 2 or 3 lines
            shop.add_to_cart()(bob, sku, 1 + run % 3)
        paid = shop.place_order()(bob)
        shop.pay_order()(bob, paid.id)
        shop.add_to_cart()(bob, "BENCH-2", 1)
        declined = shop.place_order()(bob)
        with pytest.raises(PaymentFailed):
            shop.pay_order()(bob, declined.id, card=DECLINED_CARD)
        shop.cancel_order()(bob, declined.id)
        shop.add_to_cart()(bob, "BENCH-3", 2)
        shop.cancel_order()(bob, shop.place_order()(bob).id)
    with shop.read_uow() as uow:
        rows = uow.sql.rows(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        )
    assert sum(row.generic_plans for row in rows) > 0
    planned_anew = [" ".join(row.statement.split()) for row in rows if row.custom_plans > 5]
    assert planned_anew == [], "\n".join(planned_anew)


def test_workers_on_one_thread_wait_for_each_others_locks_in_the_hub(
    db_url: str, engine: Any
) -> None:
    """simulate's workers share one thread: one that waits for a row lock must let the lock's
    holder go on and commit (were the wait to block the thread, neither would ever go on)."""
    from shopctl.simulation.greenlets import Hub

    with PostgresUnitOfWork(database_of(engine)) as uow:
        uow.sql.run(INSERT_X1)
        uow.commit()
    hub = Hub()
    databases = [Database(ConnectionSettings(db_url)) for _ in range(2)]
    log: list[str] = []
    lock = "SELECT stock_on_hand FROM products WHERE sku = 'x1' FOR UPDATE"

    def holder() -> None:
        with PostgresUnitOfWork(databases[0]) as uow:
            uow.sql.run(lock)
            log.append("holder locked")
            while "waiter asks" not in log:  # the waiter runs meanwhile
                hub.sleep(0.001)
            wait_until_a_session_waits_on_a_lock(engine)  # the waiter's, in the server
            uow.sql.run("UPDATE products SET stock_on_hand = 7 WHERE sku = 'x1'")
            log.append("holder commits")
            uow.commit()

    def waiter() -> None:
        with PostgresUnitOfWork(databases[1]) as uow:
            # were the wait to block the thread, this ends it with an error instead of a hang
            uow.sql.run("SET LOCAL lock_timeout = '20s'")
            while "holder locked" not in log:  # asked first, the waiter could take the lock
                hub.sleep(0.001)
            log.append("waiter asks")
            (row,) = uow.sql.tuples(lock)
            log.append(f"waiter got {row[0]}")
            uow.commit()

    hub.spawn(holder)
    hub.spawn(waiter)
    try:
        hub.run(60, lambda: None, lambda: None)
    finally:
        for database in databases:
            database.close()
    assert sorted(log[:2]) == ["holder locked", "waiter asks"]
    assert log[2:] == ["holder commits", "waiter got 7"]  # what the holder committed
