"""simulate on a real database: concurrent shoppers, no oversell, clean audit, full cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from shopctl.application.auth import Principal
from shopctl.domain.errors import Forbidden
from shopctl.domain.users import Role
from shopctl.infrastructure.config import load_settings
from shopctl.infrastructure.db.invariants import PostgresInvariantAuditor
from shopctl.infrastructure.db.simulation import SimulationData
from shopctl.simulation.plan import SimulationOptions
from shopctl.simulation.runner import Progress, Simulation
from tests.database import database_of, seed_users

ADMIN = Principal(1, "admin@example.com", Role.ADMIN)
CUSTOMER = Principal(2, "alice@example.com", Role.CUSTOMER)


@pytest.fixture(autouse=True)
def stored_users(engine: Any) -> None:
    seed_users(engine, ADMIN, CUSTOMER)


@pytest.fixture
def simulation(db_url: str, tmp_path: Path) -> Simulation:
    settings = load_settings(database_url=db_url, config_dir=str(tmp_path), environ={})
    return Simulation(settings)


def count(engine: Any, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def simulated_rows(engine: Any) -> dict[str, int]:
    return {
        "products": count(engine, "SELECT count(*) FROM products WHERE sku LIKE 'SIM-%'"),
        "users": count(engine, "SELECT count(*) FROM users WHERE email LIKE '%.simulate.invalid'"),
        "orders": count(engine, "SELECT count(*) FROM orders"),
        "payments": count(engine, "SELECT count(*) FROM payments"),
        "gateway": count(engine, "SELECT count(*) FROM mock_gateway_charges"),
        "movements": count(engine, "SELECT count(*) FROM stock_movements"),
        "carts": count(engine, "SELECT count(*) FROM carts"),
    }


def seed_bystanders(engine: Any) -> None:
    """A product and a user that are not the simulation's: it must not touch them."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO products (sku, name, price, stock_on_hand) "
                "VALUES ('TEA-1', 'Tea', 4.50, 7)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO stock_movements (product_id, delta, reason) "
                "SELECT id, 7, 'import' FROM products WHERE sku = 'TEA-1'"
            )
        )
        connection.execute(
            text("INSERT INTO users (email, password_hash) VALUES ('bob@example.com', 'x-hash')")
        )


def test_a_hot_sku_never_oversells_and_the_run_cleans_up(
    simulation: Simulation, engine: Any
) -> None:
    seed_bystanders(engine)
    options = SimulationOptions(
        shoppers=8,
        concurrency=4,
        orders=80,
        products=4,
        stock=6,
        hot_skus=1,
        decline_rate=0.15,
        cancel_rate=0.15,
        seed=11,
    )
    report = simulation(ADMIN, options)

    assert report.ok, report.as_json()
    assert report.flows == 80 and sum(report.outcomes.values()) == 80
    assert report.outcomes["out_of_stock"] > 0  # 4 products × 6 units cannot serve 80 flows
    assert report.outcomes["paid"] > 0 and report.outcomes.get("errors", 0) == 0
    assert report.audit.products == 4 and report.audit.stock == 24
    assert 0 < report.audit.units_sold <= 24
    assert report.audit.units_reserved == 0  # every flow ended: paid, cancelled or gave up
    assert set(report.latency) >= {"browse", "cart", "place", "pay", "flow"}
    assert report.latency["flow"].count == 80
    assert report.cleaned_up
    assert simulated_rows(engine) == {
        "products": 0,
        "users": 0,
        "orders": 0,
        "payments": 0,
        "gateway": 0,
        "movements": 1,  # the bystander's
        "carts": 0,
    }
    assert count(engine, "SELECT stock_on_hand FROM products WHERE sku = 'TEA-1'") == 7
    assert count(engine, "SELECT count(*) FROM users WHERE email = 'bob@example.com'") == 1


def test_keep_leaves_the_data_and_the_audit_catches_a_broken_ledger(
    simulation: Simulation, engine: Any
) -> None:
    options = SimulationOptions(
        shoppers=2, concurrency=2, orders=10, products=2, stock=50, seed=3, keep=True
    )
    report = simulation(ADMIN, options, run_id="feedbeef")
    assert report.ok and not report.cleaned_up
    assert report.paid_orders == 10  # no rates: every flow pays
    data = SimulationData(database_of(engine), "feedbeef")
    rows = simulated_rows(engine)
    assert rows["products"] == 2 and rows["users"] == 2 and rows["orders"] == 10

    units = report.audit.units_sold
    assert data.audit(stock=50, paid_orders=10, units_paid=units).ok
    # what the shoppers were told must match the database
    assert not data.audit(stock=50, paid_orders=11, units_paid=units).ok
    # shoppers lost with their worker may have been told more than the tallies say: the
    # database may hold up to that many more paid orders and units, never fewer
    assert data.audit(
        stock=50, paid_orders=9, units_paid=units - 1, unsure_orders=1, unsure_units=3
    ).ok
    short = data.audit(stock=50, paid_orders=8, units_paid=units, unsure_orders=1)
    assert any("told 8 (+ up to 1 unsure) order(s)" in v for v in short.violations), short
    assert not data.audit(stock=50, paid_orders=11, units_paid=units, unsure_orders=5).ok
    with engine.begin() as connection:  # stock changed behind the ledger's back
        connection.execute(
            text("UPDATE products SET stock_on_hand = stock_on_hand + 1 WHERE sku = :sku"),
            {"sku": "SIM-feedbeef-00001"},
        )
    broken = data.audit(stock=50, paid_orders=10, units_paid=units)
    assert any("SIM-feedbeef-00001: stock_on_hand" in v for v in broken.violations)
    # the same checks as `shopctl audit`, scoped: the whole shop sees the broken product too,
    # a run's audit only its own products
    shop_wide = PostgresInvariantAuditor(database_of(engine)).violations()
    assert [v.subject for v in shop_wide if v.check == "stock_matches_ledger"] == [
        "SIM-feedbeef-00001"
    ]
    other_run = SimulationData(database_of(engine), "0ther000")
    assert other_run.audit(stock=50, paid_orders=0, units_paid=0).ok

    data.cleanup()
    assert simulated_rows(engine)["products"] == 0 and simulated_rows(engine)["users"] == 0


def test_progress_is_reported_and_duration_mode_stops(db_url: str, tmp_path: Path) -> None:
    seen: list[Progress] = []
    settings = load_settings(database_url=db_url, config_dir=str(tmp_path), environ={})
    simulation = Simulation(settings, on_progress=seen.append, progress_interval=0.05)
    report = simulation(ADMIN, SimulationOptions(shoppers=2, concurrency=2, duration=0.5, seed=1))
    assert report.ok and report.flows > 0
    assert 0.5 <= report.duration_seconds < 5
    assert seen and seen[-1].done == report.flows and seen[-1].total is None


def test_only_admins_simulate(simulation: Simulation, engine: Any) -> None:
    with pytest.raises(Forbidden):
        simulation(CUSTOMER, SimulationOptions(orders=1))
    assert simulated_rows(engine)["products"] == 0


def test_each_worker_has_its_own_connection_named_after_it(
    db_url: str, tmp_path: Path, engine: Any
) -> None:
    """While the flows run, the database sees one session per worker, each named
    ``shopctl simulate worker N`` in pg_stat_activity (a DBA can tell them apart)."""
    seen: list[int] = []
    names: set[str] = set()

    def probe(_: Progress) -> None:
        with engine.connect() as connection:
            sessions = connection.execute(
                text(
                    "SELECT pid, application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE 'shopctl%' "
                    "AND pid <> pg_backend_pid()"
                )
            ).all()
        seen.append(len({pid for pid, _ in sessions}))
        names.update(name for _, name in sessions)

    settings = load_settings(database_url=db_url, config_dir=str(tmp_path), environ={})
    simulation = Simulation(settings, on_progress=probe, progress_interval=0.05)
    report = simulation(ADMIN, SimulationOptions(shoppers=4, concurrency=4, duration=0.6, seed=2))
    assert report.ok
    assert seen and max(seen) >= 4 + 1  # 4 workers + the run's own (catalog, audit)
    assert {f"shopctl simulate worker {n}" for n in range(1, 5)} <= names
    assert names <= {
        "shopctl",
        "shopctl simulate",
        *(f"shopctl simulate worker {n}" for n in range(1, 5)),
    }
