"""Re-run a unit of work that lost a serialization race or a deadlock."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from shopctl.application.errors import TransientConflict

T = TypeVar("T")

ATTEMPTS = 5


def run_with_retries(
    work: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``work`` until it does not raise ``TransientConflict``, at most ``attempts`` times.
    ``sleep``: default ``time.sleep`` as it is when called (gevent's, once it patched)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except TransientConflict:
            if attempt == attempts:
                raise
            (sleep or time.sleep)(
                random.uniform(0, 0.01 * 2**attempt)
            )  # jitter spreads the racers apart
    raise AssertionError("unreachable")
