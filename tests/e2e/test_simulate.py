"""e2e: ``shopctl simulate`` through the real CLI."""

from __future__ import annotations

from tests.e2e.conftest import Shopctl


def test_simulate_json_report_and_nothing_left_behind(shopctl: Shopctl, admin: str) -> None:
    result = shopctl(
        "simulate",
        "--shoppers",
        "6",
        "--concurrency",
        "3",
        "--orders",
        "40",
        "--hot-skus",
        "1",
        "--stock",
        "10",
        "--decline-rate",
        "0.1",
        "--cancel-rate",
        "0.1",
        "--seed",
        "5",
        "--json",
        profile=admin,
    )
    assert result.exit_code == 0, result
    report = result.json()
    assert report["ok"] is True and report["paid_orders"] == report["outcomes"]["paid"]
    assert sum(report["outcomes"].values()) == 40
    assert set(report["outcomes"]) == {
        "paid",
        "declined",
        "out_of_stock",
        "cancelled",
        "connection_lost",
        "errors",
    }
    assert report["outcomes"]["connection_lost"] == 0
    assert report["orders_per_second"] > 0 and report["flows_per_second"] > 0
    assert set(report["latency_ms"]["place"]) >= {"p50", "p95", "p99", "max"}
    assert report["invariants"] == {
        "ok": True,
        "violations": [],
        "products": 20,
        "stock": 200,
        "units_sold": report["invariants"]["units_sold"],
        "units_reserved": 0,
    }
    assert report["cleaned_up"] is True
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []
    users = shopctl("users", "list", "--json", profile=admin).json()
    assert [u["email"] for u in users] == ["admin@example.com"]
    assert shopctl("audit", profile=admin).exit_code == 0


def test_simulate_table_report(shopctl: Shopctl, admin: str) -> None:
    result = shopctl("simulate", "--orders", "10", "--seed", "1", profile=admin)
    assert result.exit_code == 0, result
    assert "paid orders/s" in result.stdout and "p99" in result.stdout
    assert "invariants hold" in result.stderr


def test_simulate_needs_an_admin(shopctl: Shopctl, customer: str) -> None:
    assert shopctl("simulate", "--orders", "1").exit_code == 3  # no session
    refused = shopctl("simulate", "--orders", "1", profile=customer)
    assert refused.exit_code == 4, refused


def test_simulate_bad_options(shopctl: Shopctl, admin: str) -> None:
    both = shopctl("simulate", "--orders", "5", "--duration", "1s", profile=admin)
    assert both.exit_code == 2 and "not both" in both.stderr
    rate = shopctl("simulate", "--decline-rate", "2", profile=admin)
    assert rate.exit_code == 2 and "--decline-rate must be between 0 and 1" in rate.stderr
    csv = shopctl("simulate", "--format", "csv", profile=admin)
    assert csv.exit_code == 2 and "not CSV" in csv.stderr
    duration = shopctl("simulate", "--duration", "soon", profile=admin)
    assert duration.exit_code == 2 and "Traceback" not in duration.stderr


def test_thresholds_held_and_broken(shopctl: Shopctl, admin: str) -> None:
    """Each threshold is judged with its actual value; a broken one exits 9 after the report
    (the run's data is removed all the same)."""
    held = shopctl(
        "simulate", "--orders", "10", "--seed", "1", "--json", "--threshold", "errors==0",
        "--threshold", "flow.max<10m", profile=admin,
    )  # fmt: skip
    assert held.exit_code == 0, held
    assert [(t["expr"], t["held"]) for t in held.json()["thresholds"]] == [
        ("errors==0", True),
        ("flow.max<10m", True),
    ]
    broken = shopctl(
        "simulate", "--orders", "10", "--seed", "1", "--threshold", "place.p50<1ms",
        "--threshold", "orders_per_second>1000000", profile=admin,
    )  # fmt: skip
    assert broken.exit_code == 9, broken
    assert "BROKEN" in broken.stdout and "threshold(s) broken: place.p50<1ms" in broken.stderr
    assert "Traceback" not in broken.stderr
    as_json = shopctl(
        "simulate", "--orders", "5", "--json", "--threshold", "place.p50<1ms", profile=admin
    )
    assert as_json.exit_code == 9 and as_json.json()["ok"] is False
    assert as_json.json()["thresholds"][0]["held"] is False
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []


def test_an_open_model_run_keeps_its_arrival_rate(shopctl: Shopctl, admin: str) -> None:
    result = shopctl(
        "simulate", "--rate", "20/s", "--duration", "5s", "--concurrency", "8",
        "--shoppers", "16", "--products", "50", "--stock", "1000", "--json", profile=admin,
    )  # fmt: skip
    assert result.exit_code == 0, result
    report = result.json()
    assert report["model"] == "open" and report["rate"]["target"] == 20.0
    assert abs(report["rate"]["achieved"] - 20.0) <= 2.0, report["rate"]  # within 10 %
    assert report["flows"] == round(report["rate"]["achieved"] * 5)
    timeline = report["timeline"]  # a point per second of the run
    assert len(timeline) >= 5 and [p["second"] for p in timeline] == list(range(len(timeline)))
    assert sum(p["flows"] for p in timeline) == report["flows"]
    assert sum(p["paid_orders"] for p in timeline) == report["paid_orders"]
    assert all(set(p["latency_ms"]) <= {"browse", "cart", "place", "pay", "cancel", "flow"}
               for p in timeline)  # fmt: skip
    assert report["invariants"]["ok"] is True
    closed = shopctl("simulate", "--orders", "5", "--json", profile=admin).json()
    assert closed["model"] == "closed" and closed["rate"] is None
    table = shopctl("simulate", "--rate", "10/s", "--duration", "1s", profile=admin)
    assert table.exit_code == 0 and "open: 10.0/s meant" in table.stdout
    refused = shopctl("simulate", "--rate", "20/s", "--orders", "5", profile=admin)
    assert refused.exit_code == 2 and "--rate needs --duration" in refused.stderr
    malformed = shopctl("simulate", "--rate", "fast", "--duration", "1s", profile=admin)
    assert malformed.exit_code == 2 and "e.g. 20/s" in malformed.stderr


def test_a_malformed_threshold_exits_2_before_anything_runs(shopctl: Shopctl, admin: str) -> None:
    for expr in ("pay.p95<300", "checkout.p95<1s", "errors=0", "pay.p95 < soon"):
        result = shopctl("simulate", "--orders", "5", "--threshold", expr, profile=admin)
        assert result.exit_code == 2, (expr, result)
        assert "--threshold" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []


def test_eight_concurrent_shoppers_run_400_flows_without_an_error(
    shopctl: Shopctl, admin: str
) -> None:
    """Eight workers on their own connections, a hot SKU that sells out: no flow errors, the
    audit holds and the data is gone afterwards. Through PgBouncer in transaction mode every
    transaction may land on another server session, so nothing may rely on session state
    (prepared statements, SET, session locks, temporary tables)."""
    result = shopctl(
        "simulate",
        "--concurrency",
        "8",
        "--orders",
        "400",
        "--hot-skus",
        "2",
        "--stock",
        "30",
        "--seed",
        "8",
        "--json",
        profile=admin,
    )
    assert result.exit_code == 0, result
    report = result.json()
    assert report["outcomes"]["errors"] == 0, report
    assert report["outcomes"]["out_of_stock"] > 0  # the hot SKUs sold out under contention
    assert sum(report["outcomes"].values()) == 400
    assert report["invariants"]["ok"] is True and report["invariants"]["units_reserved"] == 0
    assert report["cleaned_up"] is True
    assert shopctl("audit", profile=admin).exit_code == 0
