"""Run a simulation: tagged catalog and shoppers, concurrent purchase flows, audit, cleanup.

The flows call the same use cases as the CLI, through a ``Shop`` per worker (so each
worker has its own database connection), on behalf of shoppers
whose ``Principal`` is built here: no login and no password hashing per flow.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from shopctl.application.auth import Principal, authorize, require_user
from shopctl.application.errors import ConnectionLost, DatabaseUnreachable, Interrupted
from shopctl.domain.errors import Conflict, PaymentFailed, ShopError
from shopctl.domain.orders import OrderStatus
from shopctl.domain.repositories import ProductQuery
from shopctl.domain.users import Role
from shopctl.simulation.arrivals import Arrivals
from shopctl.simulation.plan import BROWSE_PAGE, FlowPlan, Intent, SimulationOptions, plan_flow
from shopctl.simulation.report import STEPS, ArrivalsReport, SimulationReport, WorkerReport
from shopctl.simulation.stats import LatencyRecorder, timeline

if TYPE_CHECKING:
    from shopctl.application.audit import Audit
    from shopctl.bootstrap import Shop
    from shopctl.infrastructure.config import Settings
    from shopctl.infrastructure.db.simulation import SimulatedProduct, SimulatedShopper
    from shopctl.simulation.greenlets import Hub

T = TypeVar("T")

DECLINED_CARD = "4000000000000002"  # the mock gateway declines it: card_declined
ERROR_SAMPLES = 5
# How long a run waits for a database that stopped answering (a restart, a failover) before
# it gives up with exit 8; the waits between tries double up to a second.
PATIENCE_SECONDS = 60.0
FIRST_WAIT, LONGEST_WAIT = 0.05, 1.0
DISCONNECTED = (ConnectionLost, DatabaseUnreachable)


def when_answered(
    call: Callable[[], T],
    *,
    patience: float = PATIENCE_SECONDS,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``call()``, tried again while the database does not answer (a lost connection is
    replaced on the next use), for at most ``patience`` seconds; then its error. ``sleep``:
    default ``time.sleep`` as it is when called (gevent's, once it patched)."""
    deadline = clock() + patience
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except DISCONNECTED:
            if clock() >= deadline:
                raise
            (sleep or time.sleep)(wait)
            wait = min(wait * 2, LONGEST_WAIT)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None  # None with --duration
    elapsed: float
    duration: float | None
    paid: int
    errors: int


class Worker:
    """One worker: its own Shop (its own connection) and its own shoppers, one flow at a time."""

    def __init__(
        self,
        shop: Shop,
        shoppers: Sequence[SimulatedShopper],
        products: Sequence[SimulatedProduct],
        *,
        patience: float = PATIENCE_SECONDS,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.shop = shop
        self.principals = [Principal(s.id, s.email, Role.CUSTOMER) for s in shoppers]
        self.products = products
        self.latency = LatencyRecorder()
        self.paid_at: list[float] = []  # when each paid flow ended, for the timeline
        self.outcomes: Counter[str] = Counter()
        self.placed = 0
        self.done = 0  # plain ints: read by the progress display without a lock
        self.paid = 0
        self.units_paid = 0
        self.errors: list[str] = []
        self.paid_unseen = 0  # flows that lost their connection, and whose payment went through
        self._next_shopper = 0
        self._order_id: int | None = None  # the current flow's order, once placed
        self._patience = patience
        self._sleep = sleep
        # told of each step as it ends (step, seconds, its error or None): Locust's statistics
        self.on_step: Callable[[str, float, BaseException | None], None] | None = None
        # the use cases, built once per worker
        self.browse = shop.list_products()
        self.add_to_cart = shop.add_to_cart()
        self.clear_cart = shop.clear_cart()
        self.place_order = shop.place_order()
        self.pay_order = shop.pay_order()
        self.cancel_order = shop.cancel_order()
        self.get_order = shop.get_order()
        self.list_orders = shop.list_orders()

    def _timed(self, step: str, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            return call()
        except BaseException as raised:
            error = raised
            raise
        finally:
            seconds = time.perf_counter() - started
            self.latency.add(step, seconds)
            if self.on_step is not None:
                self.on_step(step, seconds, error)

    def run(
        self, plan: FlowPlan, *, due: float | None = None, shopper: Principal | None = None
    ) -> str:
        """One purchase flow; returns its outcome. A flow that lost its connection waits for
        the database to answer and settles what it left (``connection_lost``); if the database
        does not answer within the patience, its error ends the run. ``due``: when the flow
        was meant to start (the open model), from which its latency is measured. ``shopper``:
        who runs it (default: the worker's own shoppers in turn)."""
        if shopper is None:
            shopper = self.principals[self._next_shopper % len(self.principals)]
            self._next_shopper += 1
        self._order_id = None
        started = time.perf_counter() if due is None else due
        try:
            outcome = self._flow(plan, shopper)
        except DISCONNECTED:
            outcome = self._lost(plan, shopper)
        except ShopError as error:
            outcome = self._unexpected(plan, f"{type(error).__name__}: {error.message}", shopper)
        except Exception as error:  # a bug or a driver error: report it, keep the run going
            outcome = self._unexpected(plan, f"{type(error).__name__}: {error}", shopper)
        self.latency.add("flow", time.perf_counter() - started)
        if outcome == "paid":
            self.paid_at.append(time.perf_counter())
        self.outcomes[outcome] += 1
        self.done += 1
        self.paid += outcome == "paid"
        return outcome

    def _flow(self, plan: FlowPlan, shopper: Principal) -> str:
        # A page of the shop's catalog as any shopper sees it (in SKU order): a search for the
        # run's tag would cost the server a pattern match on every product of every page.
        query = ProductQuery(limit=BROWSE_PAGE, offset=plan.browse_offset)
        self._timed("browse", lambda: self.browse(query))
        try:
            for product_index, quantity in plan.items:
                add = partial(self.add_to_cart, shopper, self.products[product_index].sku, quantity)
                self._timed("cart", add)
            order = self._timed("place", lambda: self.place_order(shopper))
        except Conflict:  # sold out (at the cart, or at placement): give up this flow
            self.clear_cart(shopper)
            return "out_of_stock"
        self.placed += 1
        order_id = self._order_id = order.id
        if plan.intent is Intent.CANCEL:
            self._timed("cancel", lambda: self.cancel_order(shopper, order_id))
            return "cancelled"
        if plan.intent is Intent.DECLINE:
            try:
                self._timed("pay", lambda: self.pay_order(shopper, order_id, card=DECLINED_CARD))
            except PaymentFailed:
                # the shopper gives up: release the units instead of holding them for the TTL
                self._timed("cancel", lambda: self.cancel_order(shopper, order_id))
                return "declined"
            raise AssertionError(f"the declined card was accepted for order {order_id}")
        self._timed("pay", lambda: self.pay_order(shopper, order_id))
        self.units_paid += sum(quantity for _, quantity in plan.items)
        return "paid"

    def _lost(self, plan: FlowPlan, shopper: Principal) -> str:
        """A flow whose connection broke: settled once the database answers. If it does not
        answer within the patience, its error ends the run; any other error settling it is
        the flow's error."""
        try:
            self._when_answered(lambda: self._settle(plan, shopper))
        except DISCONNECTED:
            raise
        except Exception as error:
            return self._unexpected(plan, f"settling a lost flow: {type(error).__name__}: "
                                    f"{getattr(error, 'message', error)}", shopper)  # fmt: skip
        return "connection_lost"

    def _when_answered(self, call: Callable[[], T]) -> T:
        return when_answered(call, patience=self._patience, sleep=self._sleep)

    def _settle(self, plan: FlowPlan, shopper: Principal) -> None:
        """After a lost connection, end what the flow left as its shopper would: the cart
        emptied; an order it meant to pay paid (again: the same attempt, which the gateway
        replays, never a second charge) and counted; any other pending order cancelled (one
        whose placement was lost included). Safe to run again: each step looks first."""
        self.clear_cart(shopper)
        order_id = self._order_id
        if order_id is not None and plan.intent is Intent.PAY:
            status = self.get_order(shopper, order_id).status
            if status == OrderStatus.PENDING_PAYMENT:
                self.pay_order(shopper, order_id)
                status = OrderStatus.PAID
            self._order_id = None  # counted once, even if a later step is tried again
            if status == OrderStatus.PAID:
                self.paid_unseen += 1
                self.units_paid += sum(quantity for _, quantity in plan.items)
        for pending in self.list_orders(shopper, status=OrderStatus.PENDING_PAYMENT):
            self.cancel_order(shopper, pending.id)

    def _unexpected(self, plan: FlowPlan, message: str, shopper: Principal) -> str:
        if len(self.errors) < ERROR_SAMPLES:
            self.errors.append(f"flow {plan.index}: {message}")
        with suppress(Exception):  # the flow already failed: keep its error, not this one
            self.clear_cart(shopper)
        return "errors"


class Tally(Protocol):
    """What a worker counted: a thread's ``Worker`` here, a Locust worker process's report
    elsewhere (``shopctl.load``)."""

    latency: LatencyRecorder
    paid_at: list[float]
    outcomes: Counter[str]
    placed: int
    done: int
    paid: int
    units_paid: int
    paid_unseen: int
    errors: list[str]


@dataclass(frozen=True)
class Ran:
    """What an engine ran: its workers' tallies, when the flows started
    (``time.perf_counter``) and for how long they ran."""

    tallies: Sequence[Tally]
    started: float
    elapsed: float
    arrivals: ArrivalsReport | None = None
    processes: int = 1
    workers: tuple[WorkerReport, ...] = ()
    # flows of lost workers that never reported back: the database may hold up to this many
    # more paid orders, and units, than the tallies say
    unsure_orders: int = 0
    unsure_units: int = 0


@dataclass(frozen=True)
class Run:
    """What an engine is given: the run's options, catalog and shoppers."""

    run_id: str
    options: SimulationOptions
    products: Sequence[SimulatedProduct]
    shoppers: Sequence[SimulatedShopper]


class Engine(Protocol):
    """Runs a run's flows: in this process (``InProcess``), or on Locust's workers."""

    def __call__(self, run: Run, simulation: Simulation) -> Ran: ...


class Simulation:
    """``shopctl simulate``: admins only. Creates the run's catalog and shoppers, has an engine
    run the flows, audits, and removes its data at the end unless ``keep``."""

    def __init__(
        self,
        settings: Settings,
        *,
        shop_factory: Callable[[str], Shop] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_interval: float = 0.25,
        patience: float = PATIENCE_SECONDS,
        sleep: Callable[[float], None] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.shop_factory = shop_factory or self._new_shop
        self.on_progress = on_progress
        self.interval = progress_interval
        self.patience = patience
        self.sleep = sleep
        self._engine = engine or InProcess()

    def _new_shop(self, name: str) -> Shop:
        """A Shop whose connections name their part (``shopctl simulate worker 3``)."""
        from shopctl.bootstrap import Shop

        return Shop(self.settings, application_name=name)

    def __call__(
        self, principal: Principal | None, options: SimulationOptions, *, run_id: str | None = None
    ) -> SimulationReport:
        from shopctl.infrastructure.db.simulation import SimulationData

        require_user(principal)
        run_id = run_id or secrets.token_hex(4)
        admin_shop = self.shop_factory("shopctl simulate")
        try:
            with admin_shop.read_uow() as uow:
                authorize(uow.accounts, principal, admin=True)
        except BaseException:
            admin_shop.close()
            raise
        data = SimulationData(admin_shop.database, run_id)
        cleaned_up = False
        answered = partial(when_answered, patience=self.patience, sleep=self.sleep)
        ran: Ran | None = None
        try:
            products = data.create_catalog(options.products, options.stock, options.seed)
            shoppers = data.create_shoppers(options.shoppers)
            ran = self._engine(Run(run_id, options, products, shoppers), self)
            audit = answered(
                lambda: data.audit(
                    stock=options.stock,
                    paid_orders=sum(t.outcomes["paid"] + t.paid_unseen for t in ran.tallies),
                    units_paid=sum(t.units_paid for t in ran.tallies),
                    unsure_orders=ran.unsure_orders,
                    unsure_units=ran.unsure_units,
                )
            )
        except KeyboardInterrupt as interrupt:
            kept = "kept (--keep): its run id is " + run_id if options.keep else "removed"
            what = interrupt.kept if isinstance(interrupt, Interrupted) else "the run stopped"
            raise Interrupted(f"{what}; its data was {kept}") from None
        finally:
            if not options.keep:
                answered(data.cleanup)
                cleaned_up = True
            admin_shop.close()
        return report_of(run_id, options, ran, audit, cleaned_up=cleaned_up)

    def progress(self, tallies: Sequence[Tally], start: float, options: SimulationOptions) -> None:
        if self.on_progress is not None:
            self.on_progress(
                Progress(
                    done=sum(t.done for t in tallies),
                    total=options.orders,
                    elapsed=time.perf_counter() - start,
                    duration=options.duration,
                    paid=sum(t.paid for t in tallies),
                    errors=sum(t.outcomes["errors"] for t in tallies),
                )
            )


def report_of(
    run_id: str, options: SimulationOptions, ran: Ran, audit: Audit, *, cleaned_up: bool
) -> SimulationReport:
    outcomes: Counter[str] = Counter()
    for tally in ran.tallies:
        outcomes.update(tally.outcomes)
    recorders = [t.latency for t in ran.tallies]
    return SimulationReport(
        run_id=run_id,
        seed=options.seed,
        options=asdict(options),
        duration_seconds=ran.elapsed,
        flows=sum(outcomes.values()),
        placed_orders=sum(t.placed for t in ran.tallies),
        outcomes=dict(outcomes),
        latency=LatencyRecorder.summarise(recorders, STEPS),
        timeline=tuple(
            timeline(
                recorders,
                [instant for t in ran.tallies for instant in t.paid_at],
                start=ran.started,
                seconds=ran.elapsed,
                order=STEPS,
            )
        ),
        audit=audit,
        error_samples=tuple(e for t in ran.tallies for e in t.errors)[:ERROR_SAMPLES],
        cleaned_up=cleaned_up,
        arrivals=ran.arrivals,
        processes=ran.processes,
        workers=ran.workers,
    )


class InProcess:
    """The engine of one process: a worker per ``--concurrency``, each with its own connection,
    all on this thread as greenlets (``greenlets.Hub``): one poll() serves every connection,
    and no thread hands Python's GIL to another on each round trip."""

    def __call__(self, run: Run, simulation: Simulation) -> Ran:
        from shopctl.simulation.greenlets import Hub

        options = run.options
        hub = Hub()
        sleep = simulation.sleep or hub.sleep
        workers: list[Worker] = []
        try:
            for index in range(options.concurrency):
                workers.append(
                    Worker(
                        simulation.shop_factory(f"shopctl simulate worker {index + 1}"),
                        run.shoppers[index :: options.concurrency],
                        run.products,
                        patience=simulation.patience,
                        sleep=sleep,
                    )
                )
            arrivals = None
            if options.rate is not None and options.duration is not None:
                arrivals = Arrivals(options.rate, options.duration, sleep=sleep)
            try:
                started, elapsed = self._run(hub, workers, options, arrivals, simulation)
            except KeyboardInterrupt:
                flows = sum(w.done for w in workers)
                raise Interrupted(f"the run stopped after {flows} flows") from None
        finally:
            for worker in workers:
                worker.shop.close()
        return Ran(
            tallies=workers,
            started=started,
            elapsed=elapsed,
            arrivals=None if arrivals is None else arrivals.report(),
        )

    @staticmethod
    def _run(
        hub: Hub,
        workers: list[Worker],
        options: SimulationOptions,
        arrivals: Arrivals | None,
        simulation: Simulation,
    ) -> tuple[float, float]:
        """When the flows started (``time.perf_counter``), and for how long they ran."""
        next_index = 0
        stopped = False
        deadline: float | None = None

        def take() -> tuple[int, float | None] | None:
            """The next flow, and when it is due (the open model; None: now)."""
            nonlocal next_index
            if stopped:
                return None
            if arrivals is not None:
                return arrivals.take()
            if options.orders is not None and next_index >= options.orders:
                return None
            if deadline is not None and time.perf_counter() >= deadline:
                return None
            index = next_index
            next_index += 1
            return index, None

        def stop() -> None:  # the running flows end, no new one starts
            nonlocal stopped
            stopped = True

        failed: list[BaseException] = []

        def work(worker: Worker) -> None:
            try:
                while (taken := take()) is not None:
                    index, due = taken
                    worker.run(plan_flow(options, index), due=due)
            except BaseException as error:  # the database stopped answering, or Ctrl-C
                failed.append(error)
                stop()

        for worker in workers:
            hub.spawn(partial(work, worker))
        start = time.perf_counter()
        if options.duration is not None:
            deadline = start + options.duration
        if arrivals is not None:
            arrivals.begin()
        hub.run(simulation.interval, lambda: simulation.progress(workers, start, options), stop)
        if failed:
            raise failed[0]
        return start, time.perf_counter() - start
