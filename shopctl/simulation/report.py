"""The report of a simulation run (also the shape of ``--json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shopctl.application.audit import Audit
from shopctl.simulation.stats import LatencySummary

# connection_lost: flows whose connection broke (a restart, a failover); each waited for the
# database and settled what it left, so the audit still holds.
OUTCOMES = ("paid", "declined", "out_of_stock", "cancelled", "connection_lost", "errors")
STEPS = ("browse", "cart", "place", "pay", "cancel", "flow")


@dataclass(frozen=True)
class ThresholdResult:
    """A ``--threshold`` judged on the run (``simulation.thresholds``)."""

    expr: str
    held: bool
    actual: float | None  # None: the step had no samples in this run
    unit: str = ""  # "ms" for a latency

    @property
    def shown(self) -> str:
        """The actual value for people: ``312.4 ms``, ``0``, ``no samples``."""
        if self.actual is None:
            return "no samples"
        number = f"{self.actual:g}"
        return f"{number} {self.unit}" if self.unit else number

    def as_json(self) -> dict[str, object]:
        return {"expr": self.expr, "held": self.held, "actual": self.actual}


@dataclass(frozen=True)
class ArrivalsReport:
    """The open model's schedule: flows per second meant and started, and the flows that
    started late (after their time) or were dropped (no worker free within a second)."""

    target: float
    achieved: float
    late: int
    dropped: int


@dataclass(frozen=True)
class WorkerReport:
    """A Locust worker process that took part in a run: its id (host name and a tag), the
    flows it finished, and whether it finished (``finished``) or went silent (``lost``: its
    leased flows that it never reported are ``unfinished``)."""

    id: str
    flows: int
    state: str  # finished | lost
    unfinished: int = 0


@dataclass(frozen=True)
class SimulationReport:
    run_id: str
    seed: int
    options: dict[str, Any]
    duration_seconds: float
    flows: int
    placed_orders: int
    outcomes: dict[str, int]
    latency: dict[str, LatencySummary]
    audit: Audit
    error_samples: tuple[str, ...] = ()
    cleaned_up: bool = True
    thresholds: tuple[ThresholdResult, ...] = ()
    arrivals: ArrivalsReport | None = None  # None: a closed loop
    # one point per second: {second, flows, paid_orders, latency_ms: {step: {p50, p95, p99}}}
    timeline: tuple[dict[str, Any], ...] = ()
    processes: int = 1  # worker processes (Locust's) that ran the flows; 1: threads here
    workers: tuple[WorkerReport, ...] = ()  # the Locust workers, when there were any

    @property
    def model(self) -> str:
        return "closed" if self.arrivals is None else "open"

    @property
    def broken_thresholds(self) -> tuple[ThresholdResult, ...]:
        return tuple(t for t in self.thresholds if not t.held)

    @property
    def paid_orders(self) -> int:
        return self.outcomes.get("paid", 0)

    @property
    def flows_per_second(self) -> float:
        return round(self.flows / self.duration_seconds, 2) if self.duration_seconds else 0.0

    @property
    def orders_per_second(self) -> float:
        """Paid orders per second."""
        return round(self.paid_orders / self.duration_seconds, 2) if self.duration_seconds else 0.0

    @property
    def lost_workers(self) -> tuple[WorkerReport, ...]:
        return tuple(w for w in self.workers if w.state == "lost")

    @property
    def unfinished_flows(self) -> int:
        return sum(w.unfinished for w in self.workers)

    @property
    def ok(self) -> bool:
        """No invariant broke, no flow hit an unexpected error, no worker was lost, every
        threshold held."""
        return (
            self.audit.ok
            and self.outcomes.get("errors", 0) == 0
            and not self.lost_workers
            and not self.broken_thresholds
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "run_id": self.run_id,
            "seed": self.seed,
            "options": self.options,
            "model": self.model,
            "rate": None if self.arrivals is None else asdict(self.arrivals),
            "processes": self.processes,
            "workers": [asdict(worker) for worker in self.workers],
            "unfinished_flows": self.unfinished_flows,
            "duration_seconds": round(self.duration_seconds, 3),
            "flows": self.flows,
            "placed_orders": self.placed_orders,
            "paid_orders": self.paid_orders,
            "flows_per_second": self.flows_per_second,
            "orders_per_second": self.orders_per_second,
            "outcomes": {name: self.outcomes.get(name, 0) for name in OUTCOMES},
            "latency_ms": {
                step: {
                    "count": s.count,
                    "p50": s.p50,
                    "p95": s.p95,
                    "p99": s.p99,
                    "max": s.max,
                }
                for step, s in self.latency.items()
            },
            "invariants": {
                "ok": self.audit.ok,
                "violations": list(self.audit.violations),
                "products": self.audit.products,
                "stock": self.audit.stock,
                "units_sold": self.audit.units_sold,
                "units_reserved": self.audit.units_reserved,
            },
            "thresholds": [t.as_json() for t in self.thresholds],
            "timeline": list(self.timeline),
            "errors": list(self.error_samples),
            "cleaned_up": self.cleaned_up,
        }
