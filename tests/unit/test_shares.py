"""A run on several processes, without Locust: the flows handed out, tallies, lost flows."""

from __future__ import annotations

from typing import Any

from shopctl.infrastructure.db.simulation import SimulatedProduct, SimulatedShopper
from shopctl.simulation.plan import Intent, SimulationOptions, plan_flow
from shopctl.simulation.runner import Run
from shopctl.simulation.shares import Dispenser, RemoteTally, run_message, unsure_of


def test_the_flows_are_handed_out_once_each_in_order_up_to_orders() -> None:
    dispenser = Dispenser(SimulationOptions(orders=10))
    dispenser.begin()
    given = [dispenser.lease("a", 4), dispenser.lease("b", 4), dispenser.lease("a", 4)]
    assert given == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert dispenser.lease("b", 4) == []  # none left: the end
    assert dispenser.leased == {"a": [0, 1, 2, 3, 8, 9], "b": [4, 5, 6, 7]}


def test_a_duration_stops_the_hand_out_at_its_deadline() -> None:
    now = [100.0]
    dispenser = Dispenser(SimulationOptions(duration=2.0), clock=lambda: now[0])
    dispenser.begin()
    assert dispenser.lease("a", 2) == [0, 1]
    now[0] = 101.99
    assert dispenser.lease("a", 1) == [2]
    now[0] = 102.0
    assert dispenser.lease("a", 1) == []


def test_the_run_is_over_once_every_flow_given_came_back_ended() -> None:
    dispenser = Dispenser(SimulationOptions(orders=4))
    dispenser.begin()
    dispenser.lease("a", 2), dispenser.lease("b", 1)
    assert not dispenser.all_ended({"a": {0, 1}, "b": {2}})  # flow 3 is still to hand out
    dispenser.lease("b", 2)
    assert not dispenser.all_ended({"a": {0, 1}, "b": {2}})  # flow 3 has not come back
    assert not dispenser.all_ended({"a": {0, 1, 3}, "b": {2}})  # nor from whom it went to
    assert dispenser.all_ended({"a": {0, 1}, "b": {2, 3}})


def test_a_duration_is_over_for_the_flows_only_after_its_deadline() -> None:
    now = [100.0]
    dispenser = Dispenser(SimulationOptions(duration=2.0), clock=lambda: now[0])
    dispenser.begin()
    dispenser.lease("a", 2)
    assert not dispenser.all_ended({"a": {0, 1}})  # more may be handed out
    now[0] = 102.0
    assert dispenser.all_ended({"a": {0, 1}}) and not dispenser.all_ended({"a": {0}})


def test_an_open_model_or_an_endless_run_is_never_over_by_its_flows() -> None:
    now = [100.0]
    scheduled = Dispenser(SimulationOptions(rate=5.0, duration=1.0), clock=lambda: now[0])
    scheduled.begin()
    now[0] = 200.0  # past its duration, nothing leased: each worker keeps its own schedule
    assert not scheduled.all_ended({})
    endless = Dispenser(SimulationOptions(orders=1), endless=True)
    endless.begin()
    assert endless.lease("a", 1) == [0]
    assert not endless.all_ended({"a": {0}})  # as many as --orders, all back: Locust decides


def test_an_endless_hand_out_ignores_orders_locust_says_when_to_stop() -> None:
    dispenser = Dispenser(SimulationOptions(orders=1), endless=True)
    dispenser.begin()
    assert dispenser.lease("a", 3) == [0, 1, 2] and dispenser.lease("a", 0) == [3]


def test_a_tally_replaces_totals_adds_samples_and_counts_instants_from_the_start() -> None:
    tally = RemoteTally()
    message: dict[str, Any] = {
        "finished": False, "failure": None, "flows": [0, 1], "outcomes": {"paid": 2},
        "placed": 2, "done": 2, "paid": 2, "units_paid": 5, "paid_unseen": 0, "errors": [],
        "samples": {"pay": [[0.01, 0.5], [0.02, 1.5]]}, "paid_at": [0.6, 1.6],
        "arrivals": None, "scheduled": 0,
    }  # fmt: skip
    tally.update(message, start=10.0)
    later = {**message, "flows": [2], "outcomes": {"paid": 2, "declined": 1}, "done": 3}
    later |= {"samples": {"pay": [[0.03, 2.5]]}, "paid_at": [], "finished": True}
    later["arrivals"] = [10.0, 9.5, 1, 0]
    tally.update(later, start=10.0)
    assert tally.flows == {0, 1, 2} and tally.done == 3 and tally.finished
    assert tally.outcomes == {"paid": 2, "declined": 1}
    assert tally.latency.samples["pay"] == [0.01, 0.02, 0.03]
    assert tally.latency.ended["pay"] == [10.5, 11.5, 12.5]
    assert tally.paid_at == [10.6, 11.6]
    assert tally.arrivals is not None and tally.arrivals.achieved == 9.5


def test_only_unfinished_flows_meant_to_pay_may_have_paid() -> None:
    options = SimulationOptions(decline_rate=0.3, cancel_rate=0.3, seed=4)
    plans = [plan_flow(options, i) for i in range(40)]
    paying = [p for p in plans if p.intent is Intent.PAY]
    assert 0 < len(paying) < len(plans)
    orders, units = unsure_of(options, [p.index for p in plans])
    assert orders == len(paying)
    assert units == sum(q for p in paying for _, q in p.items)
    assert unsure_of(options, []) == (0, 0)


def test_each_worker_gets_its_own_shoppers_and_the_whole_catalog() -> None:
    shoppers = [SimulatedShopper(i, f"s{i}@r.simulate.invalid") for i in range(1, 8)]
    products = [SimulatedProduct(i, f"SIM-r-{i:05}") for i in range(1, 4)]
    run = Run("r", SimulationOptions(shoppers=7, concurrency=3), products, shoppers)
    messages = [run_message(run, k, 3) for k in range(3)]
    given = [id_ for m in messages for id_, _ in m["shoppers"]]
    assert sorted(given) == list(range(1, 8))  # each shopper to one worker only
    assert all(m["products"] == [[p.id, p.sku] for p in products] for m in messages)
    assert [m["share"] for m in messages] == [[0, 3], [1, 3], [2, 3]]
    assert SimulationOptions(**messages[0]["options"]) == run.options
