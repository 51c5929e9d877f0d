"""Re-run a unit of work that lost a serialization race or a deadlock."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from shopctl.application.errors import TransientConflict

T = TypeVar("T")

ATTEMPTS = 5
# How a retry pauses, where the caller's context says (an engine that runs many units of work
# on one thread lets the others run meanwhile: simulate's greenlets); else ``time.sleep``.
pause: ContextVar[Callable[[float], None] | None] = ContextVar("shopctl_retry_pause", default=None)


def run_with_retries(
    work: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``work`` until it does not raise ``TransientConflict``, at most ``attempts`` times.
    ``sleep``: default ``pause``'s, else ``time.sleep`` as it is when called (gevent's, once
    it patched)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except TransientConflict:
            if attempt == attempts:
                raise
            (sleep or pause.get() or time.sleep)(
                random.uniform(0, 0.01 * 2**attempt)
            )  # jitter spreads the racers apart
    raise AssertionError("unreachable")
