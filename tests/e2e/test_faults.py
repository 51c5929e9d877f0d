"""e2e: faults mid-command. A lost connection (a terminated backend, a PgBouncer restart) ends a
command with exit 8 and one line, its transaction rolled back; Ctrl-C ends it with exit 130
and says what was kept; a simulate run rides them out. After each, the audit holds.

Each fault is timed by the database's own state (a session that wrote, one that waits on a
lock, one in the middle of a transaction), never by a sleep."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.database import PgBouncer, inspection_engine, wait_until_a_session_waits_on_a_lock
from tests.e2e.conftest import Result, Shopctl, Spawned
from tests.e2e.test_catalog_import import all_products, catalog_csv


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    engine = inspection_engine(db_url)
    yield engine
    engine.dispose()


def scalar(engine: Any, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def wait_for(condition: Callable[[], bool], what: str, *, spawned: Spawned | None = None) -> None:
    """Until ``condition()`` holds; fails after 60 s, or at once if ``spawned`` has ended."""
    deadline = time.monotonic() + 60
    while not condition():
        if spawned is not None and spawned.process.poll() is not None:
            pytest.fail(f"shopctl ended before {what}: {spawned.finish()}")
        assert time.monotonic() < deadline, f"not within 60 s: {what}"
        time.sleep(0.01)


def terminate(engine: Any, condition: str) -> int:
    """pg_terminate_backend for the test database's other sessions that match ``condition``."""
    with engine.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                f" WHERE datname = current_database() AND pid <> pg_backend_pid() AND {condition}"
            )
        ).scalar_one()
        connection.commit()
    return int(killed)


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result
    return lines[0]


def audit_passes(shopctl: Shopctl, admin: str) -> None:
    audit = shopctl("audit", profile=admin)
    assert audit.exit_code == 0, audit


IMPORTING = "application_name = 'shopctl products import'"
WROTE = (
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    f" WHERE a.{IMPORTING} AND a.datname = current_database()"
    " AND l.relation = 'products'::regclass AND l.mode = 'RowExclusiveLock'"
)
IMPORTED = "SELECT count(*) FROM products WHERE sku LIKE 'SKU-%'"  # as committed


def start_import(shopctl: Shopctl, admin: str, *mode: str) -> Spawned:
    """An import from a pipe that stays open: 30,000 rows fed, more to come."""
    importing = shopctl.spawn(
        "products", "import", "-", "--quiet", *mode, profile=admin, stdin=subprocess.PIPE
    )
    assert importing.process.stdin is not None
    importing.process.stdin.write(catalog_csv(30_000).encode())
    importing.process.stdin.flush()
    return importing


# -- a lost connection ---------------------------------------------------------------------


def test_a_backend_terminated_mid_import_ends_it_with_exit_8_and_nothing_half_written(
    shopctl: Shopctl, admin: str, engine: Any
) -> None:
    before = all_products(shopctl)
    importing = start_import(shopctl, admin)  # abort mode: one transaction
    wait_for(lambda: scalar(engine, WROTE) > 0, "the import wrote", spawned=importing)
    assert terminate(engine, IMPORTING) >= 1
    result = importing.finish()  # its stdin closes: it reads to the end, then it commits
    assert result.exit_code == 8, result
    assert "lost the connection to the database" in one_line(result)
    assert all_products(shopctl) == before
    audit_passes(shopctl, admin)


# In skip mode each batch commits on its own: the first has 1,000 rows, the next 5,000 each. A
# product the fifth batch updates is locked by the test, so that batch waits, mid-transaction,
# with four batches (16,000 new products) committed before it.
LOCKED_SKU = "SKU-20000"
COMMITTED_BEFORE_IT = 16_000


def test_a_skip_mode_import_keeps_its_committed_batches_and_a_rerun_completes_it(
    shopctl: Shopctl, admin: str, engine: Any
) -> None:
    result = while_it_waits_on(
        engine, a_product(shopctl, admin, LOCKED_SKU),
        lambda: start_import(shopctl, admin, "--on-error", "skip"),
        cut_the_waiting_connection(engine),
    )  # fmt: skip
    assert result.exit_code == 8, result
    assert "lost the connection" in one_line(result)
    assert scalar(engine, IMPORTED) == COMMITTED_BEFORE_IT + 1  # the locked one was there
    audit_passes(shopctl, admin)
    again = shopctl("products", "import", "-", "--on-error", "skip", "--json",
                    input=catalog_csv(30_000), profile=admin)  # fmt: skip
    assert again.exit_code == 0, again
    assert again.json()["created"] == 30_000 - COMMITTED_BEFORE_IT - 1
    assert again.json()["unchanged"] == COMMITTED_BEFORE_IT
    audit_passes(shopctl, admin)


def a_product(shopctl: Shopctl, admin: str, sku: str, stock: int = 5) -> str:
    created = shopctl("products", "create", "--sku", sku, "--name", "Tea", "--price", "4.50",
                      "--stock", str(stock), profile=admin)  # fmt: skip
    assert created.exit_code == 0, created
    return sku


def lock_the_product(engine: Any, sku: str) -> Any:
    """A session of the test's that holds ``sku``'s row lock until it rolls back."""
    holder = engine.connect()
    holder.execute(text("SELECT id FROM products WHERE sku = :sku FOR UPDATE"), {"sku": sku})
    return holder


def while_it_waits_on(
    engine: Any, sku: str, start: Callable[[], Spawned], fault: Callable[[Spawned], Result]
) -> Result:
    """``start()`` a command while ``sku``'s row is locked; once it waits on that lock, the
    ``fault``, which ends it; then the lock goes. The command's result."""
    holder = lock_the_product(engine, sku)
    try:
        spawned = start()
        wait_until_a_session_waits_on_a_lock(engine)
        return fault(spawned)
    finally:
        holder.rollback()
        holder.close()


def cut_the_waiting_connection(engine: Any) -> Callable[[Spawned], Result]:
    def fault(spawned: Spawned) -> Result:
        assert terminate(engine, "wait_event_type = 'Lock'") == 1
        return spawned.finish()

    return fault


def a_pending_order(shopctl: Shopctl, admin: str, customer: str) -> int:
    a_product(shopctl, admin, "TEA-1")
    assert shopctl("cart", "add", "TEA-1", "--quantity", "2", profile=customer).exit_code == 0
    placed = shopctl("order", "place", "--json", profile=customer)
    assert placed.exit_code == 0, placed
    return int(placed.json()["id"])


def test_a_payment_lost_after_the_charge_says_how_to_find_out_and_a_rerun_charges_once(
    shopctl: Shopctl, admin: str, customer: str, engine: Any
) -> None:
    order_id = a_pending_order(shopctl, admin, customer)
    # The product's row is locked: the payment's second step (recording the charge, selling
    # the units) waits on it, after the gateway charged. Then its connection goes.
    lost = while_it_waits_on(
        engine, "TEA-1",
        lambda: shopctl.spawn("pay", "order", str(order_id), profile=customer),
        cut_the_waiting_connection(engine),
    )  # fmt: skip
    assert lost.exit_code == 8, lost
    line = one_line(lost)
    assert f"the payment of order {order_id} may have happened" in line
    assert f"shopctl pay show {order_id}" in line and "running the same command again" in line
    assert shopctl("order", "show", str(order_id), "--json", profile=customer).json()["status"] == (
        "pending_payment"
    )
    again = shopctl("pay", "order", str(order_id), "--json", profile=customer)
    assert again.exit_code == 0, again
    payments = shopctl("pay", "show", str(order_id), "--json", profile=customer).json()
    assert [p["status"] for p in payments] == ["succeeded"]
    assert scalar(engine, "SELECT count(*) FROM mock_gateway_charges") == 1  # charged once
    audit_passes(shopctl, admin)


def test_a_cancel_whose_connection_is_lost_says_how_to_find_out(
    shopctl: Shopctl, admin: str, customer: str, engine: Any
) -> None:
    order_id = a_pending_order(shopctl, admin, customer)
    lost = while_it_waits_on(
        engine, "TEA-1",
        lambda: shopctl.spawn("order", "cancel", str(order_id), profile=customer),
        cut_the_waiting_connection(engine),
    )  # fmt: skip
    assert lost.exit_code == 8, lost
    assert f"`shopctl order show {order_id}` tells" in one_line(lost)
    shown = shopctl("order", "show", str(order_id), "--json", profile=customer).json()
    assert shown["status"] == "pending_payment"  # rolled back, so cancelling again is the fix
    assert shopctl("order", "cancel", str(order_id), profile=customer).exit_code == 0
    audit_passes(shopctl, admin)


SIMULATE = ["simulate", "--concurrency", "4", "--orders", "600", "--hot-skus", "2",
            "--stock", "40", "--seed", "3", "--json"]  # fmt: skip
WORKERS = "application_name LIKE 'shopctl simulate worker %'"


def simulated(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["outcomes"]["errors"] == 0, report
    assert report["outcomes"]["connection_lost"] >= 1, report
    assert sum(report["outcomes"].values()) == 600
    assert report["invariants"]["ok"] is True, report["invariants"]
    assert report["cleaned_up"] is True
    return report


def test_simulate_rides_out_terminated_backends_and_still_audits_clean(
    shopctl: Shopctl, admin: str, engine: Any
) -> None:
    running = shopctl.spawn(*SIMULATE, profile=admin)
    killed = 0

    def kill_mid_transaction() -> bool:
        nonlocal killed  # workers inside a transaction: their flows are cut in the middle
        killed += terminate(engine, f"{WORKERS} AND state IN ('active', 'idle in transaction')")
        return killed >= 3

    wait_for(kill_mid_transaction, "three workers were cut mid-transaction", spawned=running)
    simulated(running.finish())
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []
    audit_passes(shopctl, admin)


@pytest.mark.pgbouncer_only
def test_simulate_rides_out_a_pgbouncer_restart(
    shopctl: Shopctl, admin: str, engine: Any, pgbouncer: PgBouncer
) -> None:
    running = shopctl.spawn(*SIMULATE, profile=admin)
    # Orders in the (fresh) database: the flows run. (PgBouncer's idle server sessions keep
    # the name of their last client: a worker's name alone does not say the run is on.)
    wait_for(lambda: scalar(engine, "SELECT count(*) FROM orders") > 0, "orders were placed",
             spawned=running)  # fmt: skip
    pgbouncer.restart()  # every client connection breaks; it is back on the same port
    simulated(running.finish())
    audit_passes(shopctl, admin)


@pytest.mark.pgbouncer_only
def test_a_pgbouncer_restart_mid_import_ends_it_with_exit_8(
    shopctl: Shopctl, admin: str, engine: Any, pgbouncer: PgBouncer
) -> None:
    before = all_products(shopctl)
    importing = start_import(shopctl, admin)
    wait_for(lambda: scalar(engine, WROTE) > 0, "the import wrote", spawned=importing)
    pgbouncer.restart()
    result = importing.finish()
    assert result.exit_code == 8, result
    assert "lost the connection" in one_line(result)
    assert all_products(shopctl) == before
    audit_passes(shopctl, admin)


@pytest.mark.pgbouncer_only
def test_a_payment_cut_by_a_pgbouncer_restart_is_safe_to_run_again(
    shopctl: Shopctl, admin: str, customer: str, engine: Any, pgbouncer: PgBouncer
) -> None:
    order_id = a_pending_order(shopctl, admin, customer)

    def restart(paying: Spawned) -> Result:
        pgbouncer.restart()
        return paying.finish()

    lost = while_it_waits_on(
        engine, "TEA-1",
        lambda: shopctl.spawn("pay", "order", str(order_id), profile=customer),
        restart,
    )  # fmt: skip
    assert lost.exit_code == 8, lost
    assert f"shopctl pay show {order_id}" in one_line(lost)
    assert shopctl("pay", "order", str(order_id), profile=customer).exit_code == 0
    payments = shopctl("pay", "show", str(order_id), "--json", profile=customer).json()
    assert [p["status"] for p in payments] == ["succeeded"]
    audit_passes(shopctl, admin)


# -- Ctrl-C ---------------------------------------------------------------------------------


def interrupt(spawned: Spawned) -> Result:
    spawned.process.send_signal(signal.SIGINT)
    result = spawned.finish()
    assert result.exit_code == 130, result
    return result


def terminated(spawned: Spawned) -> Result:
    """SIGTERM (kill, docker stop) ends a command as Ctrl-C does, with exit 143."""
    spawned.process.send_signal(signal.SIGTERM)
    result = spawned.finish()
    assert result.exit_code == 143, result
    return result


STOPS = {"ctrl-c": (interrupt, "interrupted"), "sigterm": (terminated, "terminated")}


@pytest.mark.parametrize("stop", STOPS)
def test_ctrl_c_or_sigterm_mid_import_says_nothing_was_imported_and_nothing_was(
    shopctl: Shopctl, admin: str, engine: Any, stop: str
) -> None:
    before = all_products(shopctl)
    importing = start_import(shopctl, admin)
    wait_for(lambda: scalar(engine, WROTE) > 0, "the import wrote", spawned=importing)
    ending, said = STOPS[stop]
    assert one_line(ending(importing)) == f"error: {said}: nothing was imported"
    assert all_products(shopctl) == before
    audit_passes(shopctl, admin)


def test_ctrl_c_mid_skip_mode_import_names_the_batches_it_kept(
    shopctl: Shopctl, admin: str, engine: Any
) -> None:
    line = one_line(
        while_it_waits_on(
            engine, a_product(shopctl, admin, LOCKED_SKU),
            lambda: start_import(shopctl, admin, "--on-error", "skip"),
            interrupt,
        )
    )  # fmt: skip
    assert line.startswith(
        f"error: interrupted: 4 batches of the file were committed ({COMMITTED_BEFORE_IT} created,"
        " 0 updated, 0 unchanged); importing it again applies the rest"
    ), line
    assert scalar(engine, IMPORTED) == COMMITTED_BEFORE_IT + 1
    audit_passes(shopctl, admin)


def test_ctrl_c_while_waiting_on_a_lock_rolls_back(
    shopctl: Shopctl, admin: str, engine: Any
) -> None:
    a_product(shopctl, admin, "TEA-1")
    changing = while_it_waits_on(
        engine, "TEA-1",
        lambda: shopctl.spawn("products", "stock", "TEA-1", "--add", "3", profile=admin),
        interrupt,
    )  # fmt: skip
    line = one_line(changing)
    assert line == "error: interrupted: any open transaction was rolled back"
    assert shopctl("products", "get", "TEA-1", "--json").json()["stock_on_hand"] == 5
    audit_passes(shopctl, admin)


@pytest.mark.parametrize("stop", STOPS)
def test_ctrl_c_or_sigterm_mid_simulate_removes_its_data(
    shopctl: Shopctl, admin: str, engine: Any, stop: str
) -> None:
    running = shopctl.spawn("simulate", "--duration", "5m", "--concurrency", "2", profile=admin)
    wait_for(lambda: scalar(engine, "SELECT count(*) FROM orders") > 0, "orders were placed",
             spawned=running)  # fmt: skip
    ending, said = STOPS[stop]
    line = one_line(ending(running))
    assert line.startswith(f"error: {said}: the run stopped after ")
    assert line.endswith("flows; its data was removed")
    assert scalar(engine, "SELECT count(*) FROM products WHERE sku LIKE 'SIM-%'") == 0
    assert scalar(engine, "SELECT count(*) FROM orders") == 0
    audit_passes(shopctl, admin)
