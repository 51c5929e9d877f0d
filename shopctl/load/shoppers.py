"""A Locust worker process's part of a simulation run: its shoppers, the flows it is given,
and a ``Worker`` (its own connection) per Locust user.

The run arrives as a message from the master (``RUN``): the options, the catalog and this
process's share of the shoppers. In a closed loop the flows are leased from the master a
batch at a time (``TAKE`` → ``FLOWS``), so that ``--orders M`` means M flows in all and flow
*i* is the same flow (drawn from ``(seed, i)``) whichever process runs it. In the open model
each process keeps its own schedule at its share of the rate. Every half second the process
sends what it counted (``TALLY``): the master needs nothing else to report and to audit.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event
from gevent.queue import Queue
from locust import User, constant, task
from locust.exception import StopUser

from shopctl.application.auth import Principal
from shopctl.domain.errors import Conflict, PaymentFailed
from shopctl.domain.users import Role
from shopctl.infrastructure.db.simulation import SimulatedProduct
from shopctl.simulation.arrivals import Arrivals
from shopctl.simulation.plan import SimulationOptions, plan_flow
from shopctl.simulation.runner import DISCONNECTED, Worker

if TYPE_CHECKING:
    from locust.env import Environment

    from shopctl.bootstrap import Shop

# The messages between the master and its workers.
RUN = "shopctl_run"  # master → worker: {run_id, options, products, shoppers, share: [k, n]}
TAKE = "shopctl_take"  # worker → master: {want}: more flows, please
FLOWS = "shopctl_flows"  # master → worker: {indices: [index, …]}; none: no more
TALLY = "shopctl_tally"  # worker → master: what it counted so far (``Side.tally``)
STOP = "shopctl_stop"  # master → worker: start no more flows (Locust's front end stops the test)
# worker → master: it listens for the run now. Locust's worker connects (and may be sent the
# run) before it can register a listener; a run that came before is sent again.
JOIN = "shopctl_join"
TALLY_INTERVAL = 0.5  # seconds


class Leased:
    """A closed loop's flows, leased from the master (or a local dispenser) a batch at a time."""

    def __init__(self, request: Callable[[int], None]) -> None:
        self._request = request
        self._queue: deque[int] = deque()
        self._reply = Event()
        self._pending = False
        self.exhausted = False

    def take(self, want: int) -> tuple[int, float | None] | None:
        while not self._queue:
            if self.exhausted:
                return None
            if not self._pending:
                self._pending = True
                self._reply.clear()
                self._request(want)
            self._reply.wait()
        return self._queue.popleft(), None

    def given(self, indices: list[int]) -> None:
        self._pending = False
        if not indices:
            self.exhausted = True
        self._queue.extend(indices)
        self._reply.set()


class Scheduled:
    """The open model: this process's share of the rate, on a schedule of its own. Its flow
    ``j`` is the run's flow ``j * n + k`` (process ``k`` of ``n``)."""

    def __init__(self, arrivals: Arrivals, share: tuple[int, int]) -> None:
        self.arrivals = arrivals
        self._k, self._n = share
        self.exhausted = False

    def take(self, want: int) -> tuple[int, float | None] | None:
        taken = self.arrivals.take()
        if taken is None:
            self.exhausted = True
            return None
        local, due = taken
        return local * self._n + self._k, due


class Side:
    """This process's part of the run, shared by its Locust users (greenlets: no locks)."""

    def __init__(
        self,
        shop_factory: Callable[[str], Shop],
        send: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.shop_factory = shop_factory
        self._send = send  # None: the master is in this process and reads the workers itself
        self.options = SimulationOptions()
        self.products: list[SimulatedProduct] = []
        self.shoppers: Queue[Principal] = Queue()
        self.source: Leased | Scheduled = Leased(lambda want: None)
        self.workers: list[Worker] = []
        self.started = time.perf_counter()
        self.taking = 0  # users waiting for their next flow
        self.in_flight = 0  # flows running
        self.failure: str | None = None  # the database stopped answering
        self.begun = False
        self.stopped = False  # Locust stopped the users (its run time, or its UI)
        self._done: list[int] = []  # flows ended since the last tally
        self.all_done: set[int] = set()
        self._sent: dict[tuple[int, str], int] = {}  # samples sent, per worker and step
        self._paid_sent: dict[int, int] = {}
        self._users = 0

    def begin(self, run: dict[str, Any], request: Callable[[int], None]) -> None:
        """The run's message: from now on the users may take flows. Once: the run sent
        again (``JOIN``) changes nothing."""
        if self.begun:
            return
        self.begun = True
        self.options = SimulationOptions(**run["options"])
        self.products = [SimulatedProduct(id_, sku) for id_, sku in run["products"]]
        for id_, email in run["shoppers"]:
            self.shoppers.put(Principal(id_, email, Role.CUSTOMER))
        k, n = run["share"]
        self.started = time.perf_counter()
        if self.options.rate is not None and self.options.duration is not None:
            arrivals = Arrivals(self.options.rate / n, self.options.duration)
            arrivals.begin()
            self.source = Scheduled(arrivals, (k, n))
        else:
            self.source = Leased(request)
        if self._send is not None:
            gevent.spawn(self._report)

    def new_worker(self) -> Worker:
        self._users += 1
        worker = Worker(
            self.shop_factory(f"shopctl simulate {os.getpid()} user {self._users}"),
            [],
            self.products,
        )
        self.workers.append(worker)
        return worker

    def take(self) -> tuple[int, float | None] | None:
        self.taking += 1
        try:
            taken = self.source.take(max(1, len(self.workers)))
        finally:
            self.taking -= 1
        if taken is not None:
            self.in_flight += 1
        return taken

    def ended(self, index: int) -> None:
        self.in_flight -= 1
        self._done.append(index)
        self.all_done.add(index)

    @property
    def finished(self) -> bool:
        if self.failure is not None or (self.stopped and self.in_flight == 0):
            return True
        return self.source.exhausted and self.taking == 0 and self.in_flight == 0

    def tally(self) -> dict[str, Any]:
        """What this process counted: totals so far, and the samples and flows since the
        last tally (latency samples as [seconds, ended] with ``ended`` from the run's start)."""
        outcomes: Counter[str] = Counter()
        samples: dict[str, list[list[float]]] = {}
        paid_at: list[float] = []
        for number, worker in enumerate(self.workers):
            outcomes.update(worker.outcomes)
            for step, values in worker.latency.samples.items():
                sent = self._sent.get((number, step), 0)
                ended = worker.latency.ended[step]
                samples.setdefault(step, []).extend(
                    [value, ended[i] - self.started]
                    for i, value in enumerate(values[sent:], start=sent)
                )
                self._sent[number, step] = len(values)
            sent = self._paid_sent.get(number, 0)
            paid_at.extend(instant - self.started for instant in worker.paid_at[sent:])
            self._paid_sent[number] = len(worker.paid_at)
        done, self._done = self._done, []
        source = self.source
        arrivals = source.arrivals.report() if isinstance(source, Scheduled) else None
        return {
            "finished": self.finished,
            "failure": self.failure,
            "flows": done,
            "outcomes": dict(outcomes),
            "placed": sum(w.placed for w in self.workers),
            "done": sum(w.done for w in self.workers),
            "paid": sum(w.paid for w in self.workers),
            "units_paid": sum(w.units_paid for w in self.workers),
            "paid_unseen": sum(w.paid_unseen for w in self.workers),
            "errors": [e for w in self.workers for e in w.errors][:5],
            "samples": samples,
            "paid_at": paid_at,
            "arrivals": None
            if arrivals is None
            else [arrivals.target, arrivals.achieved, arrivals.late, arrivals.dropped],
            "scheduled": 0 if arrivals is None else source.arrivals.started,  # type: ignore[union-attr]
        }

    def _report(self) -> None:
        """A tally every ``TALLY_INTERVAL`` until one that says finished was sent. Sending
        yields to the users: one may learn meanwhile that no flow is left, and the process is
        finished after a tally that said it was not, which must not be the last."""
        assert self._send is not None
        while True:
            gevent.sleep(TALLY_INTERVAL)
            tally = self.tally()
            self._send(TALLY, tally)
            if tally["finished"]:
                return

    def report(self) -> None:
        if self._send is not None:
            self._send(TALLY, self.tally())


class Current:
    """The process's part of the run under way, once it is set up (by ``simulate --worker``
    or the packaged locustfile): Locust may start the users before the run's message comes,
    and they wait for it here."""

    def __init__(self) -> None:
        self.side: Side | None = None
        self._abandoned = False
        self._ready = Event()

    def set(self, side: Side) -> None:
        self.side = side
        self._ready.set()

    def clear(self) -> None:
        self.side = None
        self._abandoned = False
        self._ready.clear()

    def abandon(self) -> None:
        """The run will not come (its set-up failed): the users waiting for it stop."""
        self.side = None
        self._abandoned = True
        self._ready.set()

    def wait(self) -> Side | None:
        """The run's side, once it is set; None when the run was abandoned."""
        while True:
            self._ready.wait()
            if (side := self.side) is not None or self._abandoned:
                return side


CURRENT = Current()

EXPECTED = {"cart": Conflict, "place": Conflict, "pay": PaymentFailed}


def locust_reporter(environment: Environment) -> Callable[[str, float, BaseException | None], None]:
    """Each step as a request of its own kind (browse, cart, place, pay, cancel) in Locust's
    statistics; out of stock and a declined card are outcomes the flow expects, not failures."""

    def report(step: str, seconds: float, error: BaseException | None) -> None:
        expected = EXPECTED.get(step)
        failed = None if expected is not None and isinstance(error, expected) else error
        environment.events.request.fire(
            request_type=step,
            name=step,
            response_time=seconds * 1000,
            response_length=0,
            exception=failed,
            context={},
        )

    return report


class Shopper(User):
    """A virtual shopper of a simulation run: one purchase flow after another, through the
    same use cases as ``shopctl simulate``, on a connection of its own."""

    wait_time = constant(0)

    side: Side | None

    def on_start(self) -> None:
        self.side = side = CURRENT.wait()
        if side is not None:
            self.worker = side.new_worker()
            self.worker.on_step = locust_reporter(self.environment)

    @task
    def flow(self) -> None:
        side = self.side
        if side is None:  # the run was abandoned
            raise StopUser
        # A shopper first, then a flow: a user may wait for a shopper (a process can have
        # more users than shoppers) and be stopped while it waits (Locust moves users between
        # workers). Stopped holding a flow, it would leave that flow running forever, and this
        # process would never be finished.
        shopper = side.shoppers.get()
        try:
            taken = side.take() if side.failure is None and not side.stopped else None
            if taken is None:
                raise StopUser
            index, due = taken
            try:
                self.worker.run(plan_flow(side.options, index), due=due, shopper=shopper)
            except DISCONNECTED as error:  # the database did not answer within the patience
                side.failure = f"{type(error).__name__}: {getattr(error, 'message', error)}"
                raise StopUser from None
            finally:
                side.ended(index)
        finally:
            side.shoppers.put(shopper)

    def on_stop(self) -> None:
        if hasattr(self, "worker"):
            self.worker.shop.close()
