"""The master's part of a run on Locust workers: hand out the flows, gather the tallies,
notice lost workers. ``Simulation`` (set-up, audit, cleanup, the report) runs around it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shopctl.load.shoppers import FLOWS, JOIN, RUN, TAKE, TALLY
from shopctl.simulation.report import ArrivalsReport, WorkerReport
from shopctl.simulation.runner import Ran, Run
from shopctl.simulation.shares import Dispenser, RemoteTally, run_message, unsure_of

if TYPE_CHECKING:
    from locust.runners import MasterRunner


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
        self._nodes: list[str] = []
        if register:  # else the caller routes the messages here (one listener per runner)
            runner.register_message(TAKE, self._on_take)
            runner.register_message(TALLY, self._on_tally)
            runner.register_message(JOIN, self._on_join)

    def begin(self, nodes: Sequence[str]) -> None:
        """Send each worker the run and its share of the shoppers; the flows start now."""
        self.start = time.perf_counter()
        self.dispenser.begin()
        self._nodes = list(nodes)
        for node in nodes:
            self.tallies[node] = RemoteTally()
            self._send_run(node)

    def _send_run(self, node: str) -> None:
        k = self._nodes.index(node)
        self.runner.send_message(RUN, run_message(self.run, k, len(self._nodes)), client_id=node)

    def _on_join(self, msg: Any, **_: Any) -> None:
        if msg.node_id in self._nodes:  # its run may have come before it listened: again
            self._send_run(msg.node_id)

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
        if all(t.finished or self.lost(node) for node, t in self.tallies.items()):
            return True
        # Every flow handed out came back ended: nothing is left to wait for, even when a
        # worker never says it finished (its last tally lost, or a worker that never began:
        # both seen under load, and mended at their source, JOIN and ``Side._report``).
        return self.dispenser.all_ended({node: t.flows for node, t in self.tallies.items()})

    @property
    def failure(self) -> str | None:
        return next((t.failure for t in self.tallies.values() if t.failure), None)

    def ran(self, elapsed: float) -> Ran:
        workers, unsure_orders, unsure_units = [], 0, 0
        options = self.run.options
        for node, tally in self.tallies.items():
            unfinished: list[int] = []
            if not tally.finished:
                unfinished = [i for i in self._given(node) if i not in tally.flows]
                orders, units = unsure_of(options, unfinished)
                unsure_orders, unsure_units = unsure_orders + orders, unsure_units + units
            # gone silent, or flows of its never came back (else all it had came back ended)
            lost = not tally.finished and (bool(unfinished) or self.lost(node))
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
