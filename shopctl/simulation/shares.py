"""The parts of a run on several processes that need no Locust: handing out the flows,
a worker's tally as the master keeps it, and what a lost worker's flows may have left."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shopctl.simulation.plan import Intent, SimulationOptions, plan_flow
from shopctl.simulation.report import ArrivalsReport
from shopctl.simulation.stats import LatencyRecorder

if TYPE_CHECKING:
    from shopctl.simulation.runner import Run


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

    def all_ended(self, reported: Mapping[str, set[int]]) -> bool:
        """Whether none is left to hand out (``--orders`` all given, ``--duration`` over) and
        every flow given was ``reported`` ended (by node): the run is over, whatever a worker
        still says of itself."""
        if self._endless or self._options.rate is not None:
            return False
        if self._options.orders is not None:
            if self._next < self._options.orders:
                return False
        elif self._deadline is None or self._clock() < self._deadline:
            return False
        return all(set(given) <= reported.get(node, set()) for node, given in self.leased.items())

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
