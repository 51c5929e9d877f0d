"""Read ahead: run a producer (reading and validating a catalog file) in a thread ahead of
its consumer (the import's database work).

Both are kept for a measured gain (the import benchmark, 100 000 rows, medians of 5, two
rounds side by side; bench/README.md): the thread saves a fifth of the time (2.18-2.23 s
without, 1.78-1.80 s with), and a short switch interval while it runs 13 % more (2.13-2.18 s
without, 1.84-1.93 s with): the consumer mostly waits on the database, and when the answer
arrives it gets the GIL back from the busy producer at once instead of after 5 ms.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Raised:
    error: BaseException


_DONE = object()
SWITCH_INTERVAL = 0.0002  # seconds, while a producer runs (the default is 0.005)


@contextmanager
def in_background(items: Iterator[T], *, ahead: int = 1) -> Iterator[Iterator[T]]:
    """Iterate ``items`` in a daemon thread, at most ``ahead`` items in advance.

    The consumer's database waits release the GIL, so the producer's CPU work overlaps
    them. An exception in the producer is raised in the consumer; leaving the block early
    stops the producer at its next item.
    """
    channel: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed over to the consumer, raised there
            put(_Raised(error))

    thread = threading.Thread(target=produce, name="shopctl-producer", daemon=True)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    thread.start()
    try:
        yield _Consumer[T](channel)
    finally:
        stop.set()
        thread.join(timeout=1.0)
        sys.setswitchinterval(switch_interval)


class _Consumer(Generic[T]):
    def __init__(self, channel: queue.Queue[object]) -> None:
        self._channel = channel

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        item = self._channel.get()
        if item is _DONE:
            self._channel.put(_DONE)  # stay exhausted
            raise StopIteration
        if isinstance(item, _Raised):
            raise item.error
        return item  # type: ignore[return-value]
