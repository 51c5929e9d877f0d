"""Simulation pieces that need no database: options, the seeded flow mix, percentiles, report."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from shopctl.application.audit import Audit
from shopctl.application.errors import ConnectionLost, DatabaseUnavailable, DatabaseUnreachable
from shopctl.cli.output import Output, OutputFormat
from shopctl.cli.simulate import render
from shopctl.domain.errors import InvalidInput
from shopctl.simulation.plan import (
    HOT_SHARE,
    MAX_LINES,
    MAX_QUANTITY,
    Intent,
    SimulationOptions,
    parse_seconds,
    plan_flow,
)
from shopctl.simulation.report import SimulationReport
from shopctl.simulation.runner import when_answered
from shopctl.simulation.stats import LatencyRecorder, LatencySummary, percentile


def test_default_is_100_orders() -> None:
    assert SimulationOptions().orders == 100
    assert SimulationOptions(duration=5).orders is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"orders": 5, "duration": 1.0}, "not both"),
        ({"shoppers": 2, "concurrency": 3}, "--shoppers (2) must be at least --concurrency (3)"),
        ({"concurrency": 0, "shoppers": 1}, "--concurrency must be 1 or more"),
        ({"concurrency": 65, "shoppers": 100}, "at most 64"),
        ({"orders": 0}, "--orders must be 1 or more"),
        ({"duration": 0.0}, "--duration must be more than 0"),
        ({"products": 0}, "--products must be 1 or more"),
        ({"stock": -1}, "--stock must be 0 or more"),
        ({"products": 2, "hot_skus": 3}, "--hot-skus (3) cannot exceed --products (2)"),
        ({"decline_rate": 1.5}, "--decline-rate must be between 0 and 1"),
        ({"cancel_rate": -0.1}, "--cancel-rate must be between 0 and 1"),
        ({"decline_rate": 0.6, "cancel_rate": 0.5}, "cannot exceed 1"),
    ],
)
def test_options_are_checked(options: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        SimulationOptions(**options)  # type: ignore[arg-type]
    assert message in raised.value.message


def test_parse_seconds() -> None:
    assert parse_seconds("30") == 30.0
    assert parse_seconds("2.5s") == 2.5
    assert parse_seconds("500ms") == 0.5
    assert parse_seconds("2m") == 120.0
    with pytest.raises(InvalidInput):
        parse_seconds("soon")
    assert parse_seconds("0s") == 0.0


def test_a_wait_names_its_option_and_must_be_longer_than_0() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_seconds("soon", "--master-max-wait")
    assert raised.value.message.startswith("--master-max-wait 'soon'")
    with pytest.raises(InvalidInput) as raised:
        parse_seconds("0ms", "--master-max-wait", positive=True)
    assert "longer than 0" in raised.value.message
    assert parse_seconds("1ms", "--master-max-wait", positive=True) == 0.001


def test_the_same_seed_gives_the_same_flows() -> None:
    options = SimulationOptions(seed=7, products=50, hot_skus=2, decline_rate=0.2, cancel_rate=0.1)
    first = [plan_flow(options, i) for i in range(200)]
    again = [plan_flow(options, i) for i in reversed(range(200))][::-1]
    assert first == again
    other = [plan_flow(SimulationOptions(seed=8, products=50), i) for i in range(200)]
    assert [f.items for f in first] != [f.items for f in other]


def test_flows_stay_within_the_catalog() -> None:
    options = SimulationOptions(seed=1, products=5)
    for i in range(500):
        flow = plan_flow(options, i)
        products = [p for p, _ in flow.items]
        assert 1 <= len(products) <= MAX_LINES and len(set(products)) == len(products)
        assert all(0 <= p < 5 for p in products)
        assert all(1 <= q <= MAX_QUANTITY for _, q in flow.items)
        assert 0 <= flow.browse_offset < 5


def test_one_product_catalog_has_one_line_flows() -> None:
    flow = plan_flow(SimulationOptions(products=1), 0)
    assert [p for p, _ in flow.items] == [0]


def test_the_mix_follows_the_rates() -> None:
    options = SimulationOptions(seed=3, decline_rate=0.1, cancel_rate=0.2, products=100, hot_skus=1)
    flows = [plan_flow(options, i) for i in range(5000)]
    intents = Counter(f.intent for f in flows)
    assert 400 <= intents[Intent.DECLINE] <= 600
    assert 850 <= intents[Intent.CANCEL] <= 1150
    # each line picks the hot SKU half of the time: most flows hold it (uniform: ~2 %)
    with_hot = sum(1 for f in flows if any(p == 0 for p, _ in f.items)) / len(flows)
    assert HOT_SHARE < with_hot < 0.9


def test_no_rates_means_every_flow_pays() -> None:
    assert {plan_flow(SimulationOptions(seed=5), i).intent for i in range(300)} == {Intent.PAY}


def test_percentile_interpolates() -> None:
    samples = [1.0, 2.0, 3.0, 4.0]
    assert percentile(samples, 0.0) == 1.0
    assert percentile(samples, 1.0) == 4.0
    assert percentile(samples, 0.5) == 2.5
    assert percentile([5.0], 0.99) == 5.0
    assert percentile(list(map(float, range(1, 101))), 0.95) == pytest.approx(95.05)
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_latency_summary_in_milliseconds_and_merged_across_workers() -> None:
    one, two = LatencyRecorder(), LatencyRecorder()
    for ms in range(1, 51):
        one.add("pay", ms / 1000)
    for ms in range(51, 101):
        two.add("pay", ms / 1000)
    two.add("browse", 0.002)
    summary = LatencyRecorder.summarise([one, two], order=("browse", "cart", "pay"))
    assert list(summary) == ["browse", "pay"]
    assert summary["pay"] == LatencySummary(count=100, p50=50.5, p95=95.05, p99=99.01, max=100.0)
    assert LatencySummary.of([]).count == 0


def report(errors: int = 0, violations: tuple[str, ...] = ()) -> SimulationReport:
    return SimulationReport(
        run_id="ab12cd",
        seed=42,
        options={"shoppers": 3, "concurrency": 2},
        duration_seconds=2.0,
        flows=10,
        placed_orders=9,
        outcomes={"paid": 6, "declined": 1, "out_of_stock": 1, "cancelled": 2, "errors": errors},
        latency={"place": LatencySummary(9, 3.0, 5.0, 6.0, 7.5)},
        audit=Audit(products=3, stock=30, units_sold=12, units_reserved=0, violations=violations),
    )


def test_report_json_has_the_spec_shape() -> None:
    data = report().as_json()
    assert data["paid_orders"] == 6
    assert data["orders_per_second"] == 3.0 and data["flows_per_second"] == 5.0
    assert data["outcomes"] == {
        "paid": 6,
        "declined": 1,
        "out_of_stock": 1,
        "cancelled": 2,
        "connection_lost": 0,
        "errors": 0,
    }
    assert data["latency_ms"]["place"] == {
        "count": 9,
        "p50": 3.0,
        "p95": 5.0,
        "p99": 6.0,
        "max": 7.5,
    }
    assert data["invariants"]["ok"] is True and data["invariants"]["violations"] == []
    assert data["ok"] is True


def test_report_is_not_ok_on_errors_or_violations() -> None:
    assert not report(errors=1).ok
    lost = replace(report(), outcomes={**report().outcomes, "connection_lost": 3})
    assert lost.ok  # lost connections are the database's faults, settled: not a broken rule
    broken = report(violations=("SIM-1: sold 11 > stock 10",))
    assert not broken.ok and broken.as_json()["invariants"]["ok"] is False


def rendered(fmt: OutputFormat, item: SimulationReport) -> str:
    out = io.StringIO()
    render(Output(out, io.StringIO()), item, fmt)
    return out.getvalue()


def test_render_json_and_table() -> None:
    assert json.loads(rendered(OutputFormat.json, report()))["paid_orders"] == 6
    table = rendered(OutputFormat.table, report(violations=("SIM-1: sold 11 > stock 10",)))
    assert "3.0" in table and "paid orders/s" in table
    assert "place" in table and "7.5" in table
    assert "SIM-1: sold 11 > stock 10" in table


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_call_is_tried_again_until_the_database_answers() -> None:
    clock = FakeClock()
    answers = iter(
        [ConnectionLost("lost"), DatabaseUnreachable("down"), DatabaseUnreachable("down")]
    )

    def call() -> str:
        failure = next(answers, None)
        if failure is not None:
            raise failure
        return "answered"

    assert (
        when_answered(call, patience=10, sleep=clock.sleep, clock=lambda: clock.now) == "answered"
    )
    assert clock.sleeps == [0.05, 0.1, 0.2]  # doubling from the first wait


def test_a_database_that_never_answers_ends_the_wait_after_the_patience() -> None:
    clock = FakeClock()

    def down() -> None:
        raise DatabaseUnreachable("cannot reach the database")

    with pytest.raises(DatabaseUnreachable):
        when_answered(down, patience=5, sleep=clock.sleep, clock=lambda: clock.now)
    assert 5 <= clock.now <= 6 and max(clock.sleeps) == 1.0  # the waits stop growing at 1 s


def test_other_errors_are_not_waited_on() -> None:
    clock = FakeClock()

    def refused() -> None:
        raise DatabaseUnavailable("the database is read-only (a standby?)")

    with pytest.raises(DatabaseUnavailable):
        when_answered(refused, patience=5, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.sleeps == []


class FlakyShop:
    """The use cases a worker calls, in memory; ``lose`` names the calls whose connection
    breaks once (after the server did the work, as when the reply is what was lost)."""

    def __init__(self, *lose: str) -> None:
        from types import SimpleNamespace

        self.lose = list(lose)
        self.orders: dict[int, str] = {}
        self.cart: list[str] = []
        self.calls: list[str] = []
        self.View = SimpleNamespace

    def _maybe_lose(self, name: str) -> None:
        if name in self.lose:
            self.lose.remove(name)
            raise ConnectionLost("lost the connection to the database")

    def list_products(self) -> object:
        return lambda query: []

    def add_to_cart(self) -> object:
        return lambda shopper, sku, quantity: self.cart.append(sku)

    def clear_cart(self) -> object:
        def clear(shopper: object) -> None:
            self.calls.append("clear_cart")
            self.cart.clear()

        return clear

    def place_order(self) -> object:
        def place(shopper: object) -> object:
            order_id = len(self.orders) + 1
            self.orders[order_id] = "pending_payment"
            self.cart.clear()
            self._maybe_lose("place")
            return self.View(id=order_id)

        return place

    def pay_order(self) -> object:
        def pay(shopper: object, order_id: int, card: str = "") -> None:
            self.calls.append(f"pay {order_id}")
            self.orders[order_id] = "paid"
            self._maybe_lose("pay")

        return pay

    def cancel_order(self) -> object:
        def cancel(shopper: object, order_id: int) -> None:
            self.calls.append(f"cancel {order_id}")
            self.orders[order_id] = "cancelled"

        return cancel

    def get_order(self) -> object:
        return lambda shopper, order_id: self.View(status=self.orders[order_id])

    def list_orders(self) -> object:
        return lambda shopper, status=None: [
            self.View(id=i) for i, s in self.orders.items() if status is None or s == status
        ]


def worker_for(shop: FlakyShop) -> object:
    from shopctl.infrastructure.db.simulation import SimulatedProduct, SimulatedShopper
    from shopctl.simulation.runner import Worker

    return Worker(
        shop,  # type: ignore[arg-type]
        [SimulatedShopper(7, "s@x.invalid")],
        [SimulatedProduct(1, "SIM-1"), SimulatedProduct(2, "SIM-2")],
        sleep=lambda seconds: None,
    )


def test_a_payment_whose_reply_was_lost_is_counted_once_as_paid() -> None:
    from shopctl.simulation.plan import FlowPlan

    shop = FlakyShop("pay")
    worker: Any = worker_for(shop)
    assert worker.run(FlowPlan(0, 0, ((0, 2), (1, 1)), Intent.PAY)) == "connection_lost"
    assert shop.orders == {1: "paid"}  # the payment went through: not paid twice, not cancelled
    assert shop.calls.count("pay 1") == 1 and "cancel 1" not in shop.calls
    assert (worker.paid_unseen, worker.units_paid) == (1, 3)


def test_a_lost_placement_leaves_no_pending_order_and_no_cart() -> None:
    from shopctl.simulation.plan import FlowPlan

    shop = FlakyShop("place")
    worker: Any = worker_for(shop)
    assert worker.run(FlowPlan(0, 0, ((0, 1),), Intent.PAY)) == "connection_lost"
    assert shop.orders == {1: "cancelled"} and shop.cart == []  # placed, unknown: cancelled
    assert (worker.paid_unseen, worker.units_paid) == (0, 0)
    assert worker.run(FlowPlan(1, 0, ((1, 1),), Intent.PAY)) == "paid"  # and the run goes on


# -- thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "compare", "limit"),
    [
        ("pay.p95<300ms", "pay.p95", "<", 300.0),
        (" place.max <= 1.5s ", "place.max", "<=", 1500.0),
        ("flow.p99<2m", "flow.p99", "<", 120_000.0),
        ("errors==0", "errors", "==", 0.0),
        ("out_of_stock<5", "out_of_stock", "<", 5.0),
        ("orders_per_second>50", "orders_per_second", ">", 50.0),
        ("flows_per_second>=12.5", "flows_per_second", ">=", 12.5),
    ],
)
def test_a_threshold_is_read_from_its_expression(
    text: str, metric: str, compare: str, limit: float
) -> None:
    from shopctl.simulation.thresholds import parse_threshold

    threshold = parse_threshold(text)
    assert (threshold.expr, threshold.metric, threshold.compare) == (text.strip(), metric, compare)
    assert threshold.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("pay.p95", "write it as"),
        ("pay.p95 300ms", "write it as"),
        ("checkout.p95<1s", "no step 'checkout'"),
        ("pay.p90<1s", "'p90' is not one of"),
        ("pay.p95<300", "not a duration"),
        ("pay.p95<fast", "not a duration"),
        ("errors==none", "not a number"),
        ("orders_per_second>nan", "not a number"),
        ("latency<1s", "neither a STEP.statistic"),
        ("", "write it as"),
        ("errors==0; rm -rf /", "write it as"),
    ],
)
def test_a_malformed_threshold_says_what_is_wrong(text: str, says: str) -> None:
    from shopctl.simulation.thresholds import parse_threshold

    with pytest.raises(InvalidInput, match=says) as raised:
        parse_threshold(text)
    assert "\n" not in raised.value.message


def test_thresholds_are_judged_on_the_report() -> None:
    from shopctl.simulation.thresholds import judged as judge_all
    from shopctl.simulation.thresholds import parse_thresholds

    exprs = ["place.p95<6ms", "place.max<7ms", "errors==0", "orders_per_second>3",
             "flows_per_second>=5", "pay.p50<1s"]  # fmt: skip
    judged = judge_all(report(), parse_thresholds(exprs))
    assert [(t.held, t.actual) for t in judged.thresholds] == [
        (True, 5.0),
        (False, 7.5),
        (True, 0.0),
        (False, 3.0),
        (True, 5.0),
        (False, None),  # no pay samples in this run: not held
    ]
    assert not judged.ok and [t.expr for t in judged.broken_thresholds] == [
        "place.max<7ms",
        "orders_per_second>3",
        "pay.p50<1s",
    ]
    assert judged.as_json()["thresholds"][1] == {
        "expr": "place.max<7ms",
        "held": False,
        "actual": 7.5,
    }
    assert [t.shown for t in judged.thresholds] == [
        "5 ms", "7.5 ms", "0", "3", "5", "no samples"
    ]  # fmt: skip
    assert judge_all(report(), parse_thresholds(["errors==0"])).ok


# -- the open model -------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def one_worker(arrivals: Any, time: FakeTime, service: Any) -> list[float]:
    """A worker of the open model on a fake clock: each flow's latency from its due time."""
    latencies = []
    arrivals.begin()
    while (taken := arrivals.take()) is not None:
        index, due = taken
        time.now += service(index)
        latencies.append(time.now - due)
    return latencies


def test_a_stall_shows_in_the_open_models_percentiles_and_a_closed_loop_hides_it() -> None:
    """Flows take 10 ms, except flow 5, which stalls for 2 s. At 10 flows/s, the flows due
    during the stall wait for it: measured from their due time they are slow (or dropped).
    A closed loop measuring from when it got round to each flow sees one slow flow only."""
    from shopctl.simulation.arrivals import Arrivals

    def service(index: int) -> float:
        return 2.0 if index == 5 else 0.01

    time = FakeTime()
    arrivals = Arrivals(10, 10, clock=time.clock, sleep=time.sleep)
    open_model = sorted(one_worker(arrivals, time, service))
    closed_loop = sorted(service(i) for i in range(100))
    assert percentile(closed_loop, 0.95) == pytest.approx(0.01)
    # the flows that waited for the stall fill the tail (0.92, 0.83, ... s), not just one
    assert percentile(open_model, 0.95) > 0.5 and percentile(open_model, 0.90) > 0.1
    # flows 6-14 were due more than a second before the worker was free (at 2.5 s): dropped;
    # flows 15-26 started late, each catching up by 90 ms
    assert (arrivals.dropped, arrivals.late, arrivals.started) == (9, 12, 91)
    assert arrivals.achieved == 9.1


def test_the_open_model_keeps_its_rate_when_the_shop_is_fast() -> None:
    from shopctl.simulation.arrivals import Arrivals

    time = FakeTime()
    arrivals = Arrivals(20, 5, clock=time.clock, sleep=time.sleep)
    latencies = one_worker(arrivals, time, lambda index: 0.005)
    assert arrivals.started == 100 and arrivals.achieved == 20.0
    assert (arrivals.late, arrivals.dropped) == (0, 0)
    assert max(latencies) == pytest.approx(0.005)
    assert time.now == pytest.approx(100 + 99 / 20 + 0.005)  # it waited for each due time


@pytest.mark.parametrize(
    ("text", "per_second"), [("20/s", 20.0), ("20", 20.0), ("600/m", 10.0), (" 7.5 / s ", 7.5)]
)
def test_a_rate_is_read_in_flows_per_second(text: str, per_second: float) -> None:
    from shopctl.simulation.arrivals import parse_rate

    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["0/s", "fast", "-5/s", "20/day", ""])
def test_a_malformed_rate_is_refused(text: str) -> None:
    from shopctl.simulation.arrivals import parse_rate

    with pytest.raises(InvalidInput, match="--rate"):
        parse_rate(text)


def test_a_rate_needs_a_duration() -> None:
    with pytest.raises(InvalidInput, match="--rate needs --duration"):
        SimulationOptions(rate=5.0)
    assert SimulationOptions(rate=5.0, duration=2.0).rate == 5.0


def test_the_timeline_has_a_point_per_second_with_its_own_percentiles() -> None:
    from shopctl.simulation.stats import timeline

    now = [10.0]
    recorder = LatencyRecorder(clock=lambda: now[0])
    for ended, ms in ((10.2, 5), (10.7, 15), (11.5, 100), (12.9, 7)):
        now[0] = ended
        recorder.add("flow", ms / 1000)
    now[0] = 11.6
    recorder.add("pay", 0.040)
    points = timeline([recorder], [10.3, 12.95], start=10.0, seconds=2.95, order=("pay", "flow"))
    assert [(p["second"], p["flows"], p["paid_orders"]) for p in points] == [
        (0, 2, 1), (1, 1, 0), (2, 1, 1)
    ]  # fmt: skip
    assert points[0]["latency_ms"] == {"flow": {"p50": 10.0, "p95": 14.5, "p99": 14.9}}
    assert list(points[1]["latency_ms"]) == ["pay", "flow"]  # type: ignore[call-overload]
    # the last 0.2 s of a 3.2 s run count into its third second: no point for a sliver
    shorter = timeline([recorder], [10.3, 13.1], start=10.0, seconds=3.2, order=("flow",))
    assert [(p["second"], p["flows"], p["paid_orders"]) for p in shorter] == [
        (0, 2, 1), (1, 1, 0), (2, 1, 1)
    ]  # fmt: skip
    assert timeline([], [], start=0.0, seconds=0.0, order=()) == [
        {"second": 0, "flows": 0, "paid_orders": 0, "latency_ms": {}}
    ]
