"""The master's part of a run on Locust workers: hand out the flows, gather the tallies,
notice lost workers. ``Simulation`` (set-up, audit, cleanup, the report) runs around it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shopctl.load.shoppers import FLOWS, RUN, TAKE, TALLY
from shopctl.simulation.plan import Intent, SimulationOptions, plan_flow
from shopctl.simulation.report import ArrivalsReport, WorkerReport
from shopctl.simulation.runner import Ran, Run
from shopctl.simulation.stats import LatencyRecorder

if TYPE_CHECKING:
    from locust.runners import MasterRunner


class Dispenser:
    """A closed loop's flows, in order, until ``--orders`` are handed out or ``--duration``
    is over; what each worker was given is kept (a lost worker's unfinished flows)."""

    def __init__(
        self,
        options: SimulationOptions,
        clock: Callable[[], float] = time.perf_counter,
        *,
        endless: bool = False,
    ) -> None:
        self._options = options
        self._endless = endless  # Locust's own front end says when the run is over
        self._clock = clock
        self._next = 0
        self._deadline: float | None = None
        self.leased: dict[str, list[int]] = {}

    def begin(self) -> None:
        if self._options.duration is not None:
            self._deadline = self._clock() + self._options.duration

    def lease(self, node: str, want: int) -> list[int]:
        count = max(1, want)
        if self._endless:
            pass
        elif self._options.orders is not None:
            count = min(count, self._options.orders - self._next)
        elif self._deadline is not None and self._clock() >= self._deadline:
            count = 0
        indices = list(range(self._next, self._next + count))
        self._next += count
        self.leased.setdefault(node, []).extend(indices)
        return indices


@dataclass
class RemoteTally:
    """A worker process's tally as its last message gave it (``runner.Tally``)."""

    latency: LatencyRecorder = field(default_factory=LatencyRecorder)
    paid_at: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    placed: int = 0
    done: int = 0
    paid: int = 0
    units_paid: int = 0
    paid_unseen: int = 0
    errors: list[str] = field(default_factory=list)
    flows: set[int] = field(default_factory=set)  # the flows it reported ended
    finished: bool = False
    failure: str | None = None
    arrivals: ArrivalsReport | None = None
    scheduled: int = 0  # open model: flows its schedule started

    def update(self, data: dict[str, Any], start: float) -> None:
        """Totals replace, samples and flows add up; instants count from the run's start."""
        for step, pairs in data["samples"].items():
            self.latency.samples.setdefault(step, []).extend(seconds for seconds, _ in pairs)
            self.latency.ended.setdefault(step, []).extend(start + ended for _, ended in pairs)
        self.paid_at.extend(start + instant for instant in data["paid_at"])
        self.flows.update(data["flows"])
        self.outcomes = Counter(data["outcomes"])
        for name in ("placed", "done", "paid", "units_paid", "paid_unseen", "finished"):
            setattr(self, name, data[name])
        self.errors = list(data["errors"])
        self.failure = data["failure"]
        self.scheduled = data["scheduled"]
        if data["arrivals"] is not None:
            self.arrivals = ArrivalsReport(*data["arrivals"])


def unsure_of(options: SimulationOptions, unfinished: Sequence[int]) -> tuple[int, int]:
    """At most how many paid orders, and units, flows that never reported back left."""
    orders = units = 0
    for index in unfinished:
        plan = plan_flow(options, index)
        if plan.intent is Intent.PAY:
            orders += 1
            units += sum(quantity for _, quantity in plan.items)
    return orders, units


def run_message(run: Run, k: int, n: int) -> dict[str, Any]:
    """What worker ``k`` of ``n`` needs of the run: options, catalog, its share of shoppers."""
    return {
        "run_id": run.run_id,
        "options": asdict(run.options),
        "products": [[p.id, p.sku] for p in run.products],
        "shoppers": [[s.id, s.email] for s in run.shoppers[k::n]],
        "share": [k, n],
    }


class Coordinator:
    """The master's side of one run, on a Locust ``MasterRunner``."""

    def __init__(
        self, runner: MasterRunner, run: Run, *, endless: bool = False, register: bool = True
    ) -> None:
        self.runner = runner
        self.run = run
        self.dispenser = Dispenser(run.options, endless=endless)
        self.tallies: dict[str, RemoteTally] = {}
        self.start = time.perf_counter()
        if register:  # else the caller routes the messages here (one listener per runner)
            runner.register_message(TAKE, self._on_take)
            runner.register_message(TALLY, self._on_tally)

    def begin(self, nodes: Sequence[str]) -> None:
        """Send each worker the run and its share of the shoppers; the flows start now."""
        self.start = time.perf_counter()
        self.dispenser.begin()
        for k, node in enumerate(nodes):
            self.tallies[node] = RemoteTally()
            self.runner.send_message(RUN, run_message(self.run, k, len(nodes)), client_id=node)

    def _on_take(self, msg: Any, **_: Any) -> None:
        if msg.node_id in self.tallies:
            indices = self.dispenser.lease(msg.node_id, int(msg.data["want"]))
            self.runner.send_message(FLOWS, {"indices": indices}, client_id=msg.node_id)

    def _on_tally(self, msg: Any, **_: Any) -> None:
        if (tally := self.tallies.get(msg.node_id)) is not None:
            tally.update(msg.data, self.start)

    def lost(self, node: str) -> bool:
        """Gone silent (Locust's heartbeat) or gone, before it reported the end of its part."""
        from locust.runners import STATE_MISSING

        if self.tallies[node].finished:
            return False
        client = self.runner.clients.get(node)
        return client is None or client.state == STATE_MISSING

    @property
    def over(self) -> bool:
        return all(t.finished or self.lost(node) for node, t in self.tallies.items())

    @property
    def failure(self) -> str | None:
        return next((t.failure for t in self.tallies.values() if t.failure), None)

    def ran(self, elapsed: float) -> Ran:
        workers, unsure_orders, unsure_units = [], 0, 0
        options = self.run.options
        for node, tally in self.tallies.items():
            lost = not tally.finished
            unfinished: list[int] = []
            if lost:
                unfinished = [i for i in self._given(node) if i not in tally.flows]
                orders, units = unsure_of(options, unfinished)
                unsure_orders, unsure_units = unsure_orders + orders, unsure_units + units
            workers.append(
                WorkerReport(
                    id=node,
                    flows=len(tally.flows),
                    state="lost" if lost else "finished",
                    unfinished=len(unfinished),
                )
            )
        schedules = [t.arrivals for t in self.tallies.values() if t.arrivals is not None]
        arrivals = None
        if options.rate is not None:
            arrivals = ArrivalsReport(
                target=round(options.rate, 2),
                achieved=round(sum(a.achieved for a in schedules), 2),
                late=sum(a.late for a in schedules),
                dropped=sum(a.dropped for a in schedules),
            )
        return Ran(
            tallies=list(self.tallies.values()),
            started=self.start,
            elapsed=elapsed,
            arrivals=arrivals,
            processes=len(self.tallies),
            workers=tuple(workers),
            unsure_orders=unsure_orders,
            unsure_units=unsure_units,
        )

    def _given(self, node: str) -> list[int]:
        """The flows a worker was given: leased, or (the open model) its whole schedule."""
        options = self.run.options
        if options.rate is None or options.duration is None:
            return self.dispenser.leased.get(node, [])
        k, n = list(self.tallies).index(node), len(self.tallies)
        due = int(options.rate / n * options.duration) + 1
        return [j * n + k for j in range(due)]
