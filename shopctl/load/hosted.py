"""A simulation run under Locust's own front end (``locust -f "$(shopctl simulate
--locustfile)"``, headless or with its web UI): Locust starts and stops the users; shopctl
sets up the run's catalog and shoppers when a test starts and, when it stops, audits,
removes the run's data (unless ``--keep``) and prints its report. The exit code is
shopctl's: 0, or 9 when an invariant broke or a flow hit an unexpected error."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

from shopctl.load.coordinator import Coordinator
from shopctl.load.shoppers import CURRENT, FLOWS, RUN, STOP, TAKE, TALLY, Leased, Side
from shopctl.simulation.report import WorkerReport
from shopctl.simulation.runner import Ran, Run, Simulation
from shopctl.simulation.shares import Dispenser, run_message, unsure_of

if TYPE_CHECKING:
    from locust.env import Environment

    from shopctl.bootstrap import Shop
    from shopctl.cli.context import CliContext
    from shopctl.simulation.report import SimulationReport

STOP_GRACE = 15.0  # seconds the master waits for its workers' last tallies
FLOW_GRACE = 30.0  # seconds Locust lets a stopped user finish its flow (--stop-timeout)


def add_arguments(parser: Any) -> None:
    """The run's options as Locust's custom arguments (also shown in its web UI)."""
    group = parser.add_argument_group("shopctl", "the simulation's catalog and flow mix")
    group.add_argument("--products", type=int, default=20, help="Products in the run's catalog.")
    group.add_argument("--stock", type=int, default=100, help="Units on hand of each product.")
    group.add_argument("--hot-skus", type=int, default=0, help="Products half the lines pick.")
    group.add_argument("--decline-rate", type=float, default=0.0, help="Declined-card share.")
    group.add_argument("--cancel-rate", type=float, default=0.0, help="Cancelled-order share.")
    group.add_argument("--shoppers", type=int, default=100, help="Virtual shoppers.")
    group.add_argument("--seed", type=int, default=None, help="Seed of the flow mix.")
    group.add_argument("--keep", action="store_true", default=False, help="Keep the run's data.")
    group.add_argument(
        "--shopctl-profile", default=None, help="shopctl profile (its database and session)."
    )


class Hosted:
    """The engine of a run that Locust's front end starts and stops (``runner.Engine``)."""

    def __init__(self, environment: Environment, cli: CliContext) -> None:
        self.environment = environment
        self.cli = cli
        self.stopped = Event()
        self.ended = 0.0  # when the test stopped (time.perf_counter)
        self.coordinator: Coordinator | None = None
        self.task: gevent.Greenlet[Any, Any] | None = None

    def __call__(self, run: Run, simulation: Simulation) -> Ran:
        from locust.runners import MasterRunner

        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            return self._on_workers(runner, run)
        return self._here(run)

    def _here(self, run: Run) -> Ran:
        dispenser = Dispenser(run.options, endless=True)
        side = Side(shop_factory(self.cli))
        side.begin(run_message(run, 0, 1), lambda want: given(dispenser.lease("here", want)))
        CURRENT.set(side)

        def given(indices: list[int]) -> None:
            assert isinstance(side.source, Leased)
            side.source.given(indices)

        self.stopped.wait()
        ended = self.ended
        unfinished = [i for i in dispenser.leased.get("here", []) if i not in side.all_done]
        orders, units = unsure_of(run.options, unfinished)
        return Ran(
            tallies=side.workers,
            started=side.started,
            elapsed=ended - side.started,
            unsure_orders=orders,
            unsure_units=units,
            workers=(WorkerReport("here", len(side.all_done), "finished", len(unfinished)),)
            if unfinished
            else (),
        )

    def _on_workers(self, runner: Any, run: Run) -> Ran:
        coordinator = self.coordinator = Coordinator(runner, run, endless=True, register=False)
        # the workers of this test: Locust may have told them to spawn already
        from locust.runners import STATE_MISSING

        coordinator.begin([c.id for c in runner.clients.all if c.state != STATE_MISSING])
        self.stopped.wait()
        return coordinator.ran(self.ended - coordinator.start)

    def stop(self) -> None:
        """The test stops: no more flows; on workers, wait for their last tallies while the
        master still receives them (Locust's own stop does not wait for what it does not know)."""
        self.ended = time.perf_counter()
        if (coordinator := self.coordinator) is not None:
            for node in coordinator.tallies:
                coordinator.runner.send_message(STOP, {}, client_id=node)
            deadline = time.monotonic() + STOP_GRACE
            while not coordinator.over and time.monotonic() < deadline:
                gevent.sleep(0.05)
            self.ended = max(
                [self.ended]
                + [i for t in coordinator.tallies.values() for i in t.latency.ended.get("flow", [])]
            )
        self.stopped.set()


def install(environment: Environment) -> None:
    """Wire a Locust environment (the packaged locustfile's ``init`` event)."""
    from locust.runners import MasterRunner, WorkerRunner

    from shopctl.cli.context import CliContext

    options = environment.parsed_options
    cli = CliContext(profile=getattr(options, "shopctl_profile", None))
    if not environment.stop_timeout:
        environment.stop_timeout = FLOW_GRACE  # a stopped user ends its flow, then stops
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _serve(environment, runner, cli)
        return
    hosted: list[Hosted] = []
    if isinstance(runner, MasterRunner):
        runner.register_message(TAKE, lambda msg, **_: _route(hosted, "_on_take", msg))
        runner.register_message(TALLY, lambda msg, **_: _route(hosted, "_on_tally", msg))

    def test_start(**_: Any) -> None:
        CURRENT.clear()  # the users of this test wait for its run
        engine = Hosted(environment, cli)
        hosted[:] = [engine]
        engine.task = gevent.spawn(_simulate, environment, cli, engine)

    def test_stop(**_: Any) -> None:
        if hosted and not hosted[0].stopped.is_set():
            hosted[0].stop()
        CURRENT.clear()

    def quitting(**_: Any) -> None:
        if hosted and hosted[0].task is not None:
            if not hosted[0].stopped.is_set():
                hosted[0].stop()
            hosted[0].task.join()

    environment.events.test_start.add_listener(test_start)
    environment.events.test_stop.add_listener(test_stop)
    environment.events.quitting.add_listener(quitting)


def shop_factory(cli: CliContext) -> Callable[[str], Shop]:
    def new_shop(name: str) -> Shop:
        from shopctl.bootstrap import Shop

        return Shop(cli.settings, application_name=name)

    return new_shop


def _route(hosted: list[Hosted], handler: str, msg: Any) -> None:
    if hosted and hosted[0].coordinator is not None:
        getattr(hosted[0].coordinator, handler)(msg)


def _serve(environment: Environment, runner: Any, cli: CliContext) -> None:
    """A Locust worker: a fresh ``Side`` for each run its master sends."""

    def on_run(msg: Any, **_: Any) -> None:
        side = Side(shop_factory(cli), send=lambda kind, data: runner.send_message(kind, data))
        side.begin(msg.data, lambda want: runner.send_message(TAKE, {"want": want}))
        CURRENT.set(side)

    def on_flows(msg: Any, **_: Any) -> None:
        side = CURRENT.side
        if side is not None and isinstance(side.source, Leased):
            side.source.given(msg.data["indices"])

    def test_stop(**_: Any) -> None:
        if (side := CURRENT.side) is not None:
            side.stopped = True
            side.report()
        CURRENT.clear()

    def on_stop(msg: Any, **_: Any) -> None:
        if (side := CURRENT.side) is not None:
            side.stopped = True  # its users end their flows, then it reports its end

    runner.register_message(RUN, on_run)
    runner.register_message(FLOWS, on_flows)
    runner.register_message(STOP, on_stop)
    environment.events.test_stop.add_listener(test_stop)


def _simulate(environment: Environment, cli: CliContext, engine: Hosted) -> None:
    """One run, from set-up to report; its exit code becomes Locust's."""
    import secrets

    from shopctl.cli.errors import EXIT_CODES, hint_text
    from shopctl.cli.output import OutputFormat
    from shopctl.cli.simulate import render
    from shopctl.simulation.plan import MAX_CONCURRENCY, SimulationOptions

    parsed: Any = environment.parsed_options
    output = cli.output
    try:
        options = SimulationOptions(
            shoppers=parsed.shoppers,
            concurrency=min(parsed.shoppers, MAX_CONCURRENCY, max(1, parsed.num_users or 1)),
            duration=float(parsed.run_time) if parsed.run_time else None,
            products=parsed.products,
            stock=parsed.stock,
            hot_skus=parsed.hot_skus,
            decline_rate=parsed.decline_rate,
            cancel_rate=parsed.cancel_rate,
            seed=secrets.randbelow(2**31) if parsed.seed is None else parsed.seed,
            keep=parsed.keep,
        )
        report: SimulationReport = Simulation(cli.settings, engine=engine)(cli.principal(), options)
    except Exception as error:
        shop_error = cli.translate(error)
        if shop_error is None:
            output.error(f"internal error: {type(error).__name__}: {error}".splitlines()[0])
            environment.process_exit_code = 1
        else:
            output.error(shop_error.message, hint_text(shop_error.hint))
            environment.process_exit_code = EXIT_CODES[shop_error.kind]
        CURRENT.abandon()  # the users waiting for the run stop now, not at --stop-timeout
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)
        return
    render(output, report, OutputFormat.table)
    environment.process_exit_code = 0 if report.ok else 9
    if not report.ok:
        output.error("simulation failed: see the report above")
