"""The open model: flows start at a fixed arrival rate, however slow the shop gets.

A closed loop (each worker starts its next flow when the last one ended) sends a slow shop
fewer flows, and its latencies look fine: coordinated omission. Here flow ``i`` is due at
``start + i / rate``; a free worker takes the next due flow, waits for its time if it is
early, and its latency is measured from when it was due, so time spent waiting for a
worker counts. A flow that could not start within ``MAX_LAG`` of its time (every worker
busy) is dropped, as k6's constant-arrival-rate executor drops iterations, and counted.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from shopctl.domain.errors import InvalidInput
from shopctl.simulation.report import ArrivalsReport

LATE_AFTER = 0.010  # seconds after its time: a flow that starts later counts as late
MAX_LAG = 1.0  # seconds after its time: a flow that has not started by then is dropped
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|m|min|h))?\s*")
_PER = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """``20/s``, ``600/m``, ``20`` → flows per second."""
    match = _RATE.fullmatch(text.lower())
    if not match or float(match.group(1)) <= 0:
        raise InvalidInput(f"--rate {text!r}: give flows per second, e.g. 20/s (or 600/m)")
    return float(match.group(1)) / _PER[match.group(2)]


class Arrivals:
    """The schedule of one run, shared by its workers (thread-safe)."""

    def __init__(
        self,
        rate: float,
        duration: float,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.rate = rate
        self.duration = duration
        self._clock = clock
        # time.sleep as it is now: gevent's in a process it patched, whenever this was imported
        self._sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._next = 0
        self._start: float | None = None
        self.started = 0
        self.late = 0
        self.dropped = 0

    def begin(self) -> None:
        self._start = self._clock()

    def take(self) -> tuple[int, float] | None:
        """The next flow to run and when it was due (having waited for that time); None when
        the schedule is over. Flows whose time passed ``MAX_LAG`` ago are dropped."""
        assert self._start is not None, "begin() first"
        with self._lock:
            while True:
                index = self._next
                due = self._start + index / self.rate
                if due >= self._start + self.duration:
                    return None
                self._next += 1
                lag = self._clock() - due
                if lag <= MAX_LAG:
                    break
                self.dropped += 1
            self.started += 1
            if lag > LATE_AFTER:
                self.late += 1
        if lag < 0:
            self._sleep(-lag)
        return index, due

    def report(self) -> ArrivalsReport:
        return ArrivalsReport(
            target=round(self.rate, 2), achieved=self.achieved, late=self.late, dropped=self.dropped
        )

    @property
    def achieved(self) -> float:
        """Flows started per second of the schedule."""
        return round(self.started / self.duration, 2)
