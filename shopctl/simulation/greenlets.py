"""Many flows on one thread: a greenlet per worker, and one poll() for all their connections.

With a thread per worker, every round trip hands Python's GIL over: the thread lets it go to
wait in poll(), and on the answer waits for it again behind the thread that took it. That is
about 65 context switches per purchase flow, a fifth of the client's CPU. Here a worker that
waits for its connection switches to the hub, which runs whichever worker's answer has come
(one poll() for all of them) or sleeps in poll() when none has: about 6 per flow.

Only waits through ``Sql`` (every statement of a flow), a retry's pause and ``Hub.sleep`` let
another worker run. Anything else that blocks (connecting, psycopg's own ROLLBACK) holds them
all for its duration, which none of them waits on: no lock is waited for there.
"""

from __future__ import annotations

import heapq
import itertools
import select
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from greenlet import getcurrent, greenlet

from shopctl.application.retry import pause as retry_pause
from shopctl.infrastructure.db.connect import cooperative_wait

if TYPE_CHECKING:
    from psycopg.abc import PQGen

T = TypeVar("T")

# What psycopg's generators wait for (psycopg.waiting.Wait: R 1, W 2, RW 3) as poll() events,
# and what they are sent when it is ready (Ready: R 1, W 2).
_EVENTS = {1: select.POLLIN, 2: select.POLLOUT, 3: select.POLLIN | select.POLLOUT}
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL
_READY_R, _READY_W = 1, 2


class Hub:
    """Runs greenlets (``spawn``) until all have ended (``run``); they wait for sockets
    (``wait``) and time (``sleep``) here."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._sockets: dict[int, greenlet] = {}  # socket -> the greenlet waiting on it
        self._timers: list[tuple[float, int, greenlet]] = []  # (when, order, who), a heap
        self._order = itertools.count()
        self._spawned: list[greenlet] = []
        self._running = 0
        self._main: greenlet | None = None

    def spawn(self, work: Callable[[], Any]) -> greenlet:
        def run() -> Any:
            cooperative_wait.set(self.wait)  # in this greenlet's own context
            retry_pause.set(self.sleep)
            try:
                return work()
            finally:
                self._running -= 1

        spawned = greenlet(run)
        self._spawned.append(spawned)
        self._running += 1
        return spawned

    def run(self, every: float, tick: Callable[[], None], stop: Callable[[], None]) -> None:
        """Start the spawned greenlets and serve their waits until all have ended, calling
        ``tick`` about every ``every`` seconds and once at the end. On a KeyboardInterrupt
        here, ``stop`` (which must make them end), and the interrupt is raised once they
        have."""
        self._main = getcurrent()
        interrupted: BaseException | None = None
        for spawned in self._spawned:
            spawned.switch()
        next_tick = time.monotonic() + every
        while self._running:
            try:
                now = self._serve(next_tick)
                if now >= next_tick:
                    next_tick = now + every
                    tick()
            except KeyboardInterrupt as error:  # Ctrl-C while polling: end the flows first
                interrupted = error
                stop()
        self._main = None
        tick()  # the final figures
        if interrupted is not None:
            raise interrupted

    def _serve(self, next_tick: float) -> float:
        """Run the greenlets whose socket is ready or whose time came; what time it is."""
        sockets, timers = self._sockets, self._timers
        if not sockets and not timers:
            raise RuntimeError("every greenlet waits, and on nothing the hub serves")
        until = min(next_tick, timers[0][0]) if timers else next_tick
        timeout = int((until - time.monotonic()) * 1000) + 1  # ms, rounded up
        for socket, events in self._poll.poll(timeout if timeout > 0 else 0):
            waiting = sockets.pop(socket)
            self._poll.unregister(socket)
            if events & _READABLE:
                waiting.switch(_READY_R | (_READY_W if events & select.POLLOUT else 0))
            else:
                waiting.switch(_READY_W)
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            heapq.heappop(timers)[2].switch()
        return now

    def _switch_to_hub(self) -> Any:
        assert self._main is not None, "wait and sleep run in the hub's greenlets"
        return self._main.switch()

    def wait(self, generator: PQGen[T], socket: int) -> T:
        """Drive one of psycopg's generators on ``socket``: when it waits, other greenlets
        run until the socket is ready."""
        register, sockets, main = self._poll.register, self._sockets, self._main
        assert main is not None, "wait and sleep run in the hub's greenlets"
        try:
            waiting_for = next(generator)
            while True:
                register(socket, _EVENTS[waiting_for])
                sockets[socket] = getcurrent()
                waiting_for = generator.send(main.switch())
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]

    def sleep(self, seconds: float) -> None:
        """Let the others run for ``seconds``."""
        if seconds <= 0:
            return
        entry = (time.monotonic() + seconds, next(self._order), getcurrent())
        heapq.heappush(self._timers, entry)
        self._switch_to_hub()
