"""``shopctl simulate``: concurrent virtual shoppers on a catalog of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from shopctl.cli.context import CliContext, output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, Output, OutputFormat, console, open_output

if TYPE_CHECKING:
    from shopctl.bootstrap import Shop
    from shopctl.infrastructure.config import Settings
    from shopctl.simulation.report import SimulationReport
    from shopctl.simulation.runner import Progress

LATENCY_COLUMNS = Columns(("step", "count", "p50", "p95", "p99", "max"))
THRESHOLD_COLUMNS = Columns(("threshold", "result", "actual"))


def render(output: Output, report: SimulationReport, fmt: OutputFormat) -> None:
    data = report.as_json()
    if fmt is OutputFormat.json:
        output.json(data)
        return
    outcomes = data["outcomes"]
    invariants = data["invariants"]
    summary = {
        "run": f"{report.run_id} (seed {report.seed})",
        "flows": f"{report.flows} in {data['duration_seconds']} s",
        "model": "closed loop"
        if report.arrivals is None
        else (
            f"open: {report.arrivals.target}/s meant, {report.arrivals.achieved}/s started, "
            f"{report.arrivals.late} late, {report.arrivals.dropped} dropped"
        ),
        "flows/s": report.flows_per_second,
        "paid orders/s": report.orders_per_second,
        "outcomes": " · ".join(f"{name} {count}" for name, count in outcomes.items()),
        "invariants": (
            f"ok: {invariants['units_sold']} sold of {invariants['stock']} in stock, "
            f"{invariants['units_reserved']} reserved"
            if invariants["ok"]
            else f"BROKEN ({len(invariants['violations'])})"
        ),
        "data": "removed" if report.cleaned_up else f"kept (SKU prefix SIM-{report.run_id}-)",
    }
    if report.workers:
        summary["processes"] = " · ".join(
            f"{w.id} {w.flows} flows"
            + (f" LOST ({w.unfinished} unfinished)" if w.state == "lost" else "")
            for w in report.workers
        )
    output.record(summary, OutputFormat.table, title="simulation")
    rows = [{"step": step, **values} for step, values in data["latency_ms"].items()]
    output.rows(rows, LATENCY_COLUMNS, OutputFormat.table, empty="no latency samples")
    if report.thresholds:
        judged = [
            {
                "threshold": t.expr,
                "result": "held" if t.held else "BROKEN",
                "actual": t.shown,
            }
            for t in report.thresholds
        ]
        output.rows(judged, THRESHOLD_COLUMNS, OutputFormat.table)
    for violation in invariants["violations"]:
        output.record({"violation": violation}, OutputFormat.table)
    for error in report.error_samples:
        output.record({"error": error}, OutputFormat.table)


def simulate(
    ctx: typer.Context,
    shoppers: Annotated[int, typer.Option("--shoppers", help="Virtual shoppers.")] = 10,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", help="Workers, each with its own connection.")
    ] = 4,
    orders: Annotated[
        int | None, typer.Option("--orders", help="Purchase flows to run. [default: 100]")
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Run for this long instead, e.g. 30s, 2m.")
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            help="Start flows at this rate (e.g. 20/s) for --duration, however slow the shop"
            " gets; latency counts from each flow's due time. [default: a closed loop]",
        ),
    ] = None,
    products: Annotated[
        int, typer.Option("--products", help="Products in the run's catalog.")
    ] = 20,
    stock: Annotated[int, typer.Option("--stock", help="Units on hand of each product.")] = 100,
    hot_skus: Annotated[
        int, typer.Option("--hot-skus", help="Products that half of all order lines pick.")
    ] = 0,
    decline_rate: Annotated[
        float, typer.Option("--decline-rate", help="Share of flows paying with a declined card.")
    ] = 0.0,
    cancel_rate: Annotated[
        float, typer.Option("--cancel-rate", help="Share of flows cancelling instead of paying.")
    ] = 0.0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the flow mix. [default: random]")
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the run's products, shoppers and orders.")
    ] = False,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help="A pass condition, repeatable: STEP.p50|p95|p99|max<DURATION (pay.p95<300ms),"
            " errors==0, orders_per_second>N, flows_per_second>N. A broken one exits 9.",
        ),
    ] = None,
    html_file: Annotated[
        str | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Also write the report as one self-contained HTML page: throughput and"
            " latency per step over time, outcomes, thresholds, the audit. Needs"
            " shopctl[html].",
        ),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            help="Run on this many local worker processes (Locust's master and workers) instead"
            " of one: every core of the machine. Needs shopctl[load].",
            rich_help_panel="Load beyond one process",
        ),
    ] = None,
    master: Annotated[
        bool,
        typer.Option(
            "--master",
            help="Run the flows on workers that connect from other machines"
            " (shopctl simulate --worker); this process sets up, audits and reports.",
            rich_help_panel="Load beyond one process",
        ),
    ] = False,
    expect_workers: Annotated[
        int,
        typer.Option(
            "--expect-workers",
            help="With --master: start once this many workers are connected.",
            rich_help_panel="Load beyond one process",
        ),
    ] = 1,
    expect_workers_max_wait: Annotated[
        str,
        typer.Option(
            "--expect-workers-max-wait",
            help="With --master: give up (exit 8) when they are not connected by then.",
            rich_help_panel="Load beyond one process",
        ),
    ] = "120s",
    master_bind_host: Annotated[
        str,
        typer.Option(
            "--master-bind-host",
            help="With --master: the interface to listen on. [default: all]",
            rich_help_panel="Load beyond one process",
        ),
    ] = "*",
    master_bind_port: Annotated[
        int,
        typer.Option(
            "--master-bind-port",
            help="With --master: the port to listen on.",
            min=1,
            max=65535,
            rich_help_panel="Load beyond one process",
        ),
    ] = 5557,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker",
            help="Serve a master's runs (its options apply) until it ends; this process needs"
            " only its database URL, no login.",
            rich_help_panel="Load beyond one process",
        ),
    ] = False,
    master_host: Annotated[
        str,
        typer.Option(
            "--master-host",
            help="With --worker: the master's host.",
            rich_help_panel="Load beyond one process",
        ),
    ] = "127.0.0.1",
    master_port: Annotated[
        int,
        typer.Option(
            "--master-port",
            help="With --worker: the master's port.",
            min=1,
            max=65535,
            rich_help_panel="Load beyond one process",
        ),
    ] = 5557,
    master_max_wait: Annotated[
        str,
        typer.Option(
            "--master-max-wait",
            help="With --worker: give up (exit 8) when no master answers by then.",
            rich_help_panel="Load beyond one process",
        ),
    ] = "300s",
    locustfile: Annotated[
        bool,
        typer.Option(
            "--locustfile",
            help="Print the path of the packaged locustfile, for locust -f, and exit.",
            rich_help_panel="Load beyond one process",
        ),
    ] = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Each flow browses, fills the cart, places the order, then pays, pays with a
    declined card (and gives up), or cancels. The run's products (SKU prefix
    SIM-<run>-) and shoppers (@<run>.simulate.invalid) are removed at the end
    unless --keep. Exit code 9 when an invariant broke, a flow hit an
    unexpected error or a --threshold broke; a malformed --threshold is exit 2
    before anything runs.
    """
    cli = state(ctx)
    if locustfile:
        cli.output.stdout.write(f"{LOCUSTFILE}\n")
        return
    if processes is not None or master or worker:
        # First: gevent patches the standard library before anything else is imported
        import shopctl.load  # noqa: F401
    import secrets

    from shopctl.domain.errors import CheckFailed, InvalidInput
    from shopctl.simulation.arrivals import parse_rate
    from shopctl.simulation.plan import SimulationOptions, parse_seconds
    from shopctl.simulation.runner import Simulation
    from shopctl.simulation.thresholds import judged, parse_thresholds

    if sum((processes is not None, master, worker)) > 1:
        raise InvalidInput("give one of --processes, --master and --worker")
    refuse_options_of_other_roles(ctx, master=master, worker=worker)
    if worker:
        from shopctl.load.engine import run_worker

        host = network_host(master_host, "--master-host")
        wait = parse_seconds(master_max_wait, "--master-max-wait", positive=True)
        settings = cli.settings
        cli.output.message(f"worker: connecting to the master at {host}:{master_port}")
        run_worker(partial(new_shop, settings), host, master_port, max_wait=wait)
        return
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.csv:
        raise InvalidInput("simulate reports as a table or as JSON, not CSV")
    thresholds = parse_thresholds(threshold or [])
    page = None if html_file is None else html_page(html_file)
    options = SimulationOptions(
        shoppers=shoppers,
        concurrency=concurrency,
        orders=orders,
        duration=None if duration is None else parse_seconds(duration),
        products=products,
        stock=stock,
        hot_skus=hot_skus,
        decline_rate=decline_rate,
        cancel_rate=cancel_rate,
        seed=secrets.randbelow(2**31) if seed is None else seed,
        keep=keep,
        rate=None if rate is None else parse_rate(rate),
    )
    engine = None
    if processes is not None or master:
        if processes is not None and processes < 1:
            raise InvalidInput(f"--processes must be 1 or more, got {processes}")
        if expect_workers < 1:
            raise InvalidInput(f"--expect-workers must be 1 or more, got {expect_workers}")
        workers = processes or expect_workers
        if concurrency < workers:
            raise InvalidInput(
                f"--concurrency ({concurrency}) must be at least the number of worker"
                f" processes ({workers}): each runs one shopper or more"
            )
        from shopctl.load.engine import OnLocust

        engine = OnLocust(
            processes=processes,
            expect_workers=expect_workers,
            bind_host="127.0.0.1"
            if processes is not None
            else network_host(master_bind_host, "--master-bind-host", anywhere="*"),
            bind_port=0 if processes is not None else master_bind_port,
            max_wait=parse_seconds(
                expect_workers_max_wait, "--expect-workers-max-wait", positive=True
            ),
            worker_command=partial(worker_command, cli),
            on_listening=None if processes is not None else partial(listening, cli.output),
        )
    principal = cli.principal()
    with live_progress(cli.output) as show:
        simulation = Simulation(cli.settings, on_progress=show, engine=engine)
        report = simulation(principal, options)
    report = judged(report, thresholds)
    render(cli.output, report, fmt)
    if page is not None:
        from shopctl.simulation.html import render_html

        with page:
            page.write(render_html(report))
    if not report.ok:
        broken, errors = len(report.audit.violations), report.outcomes.get("errors", 0)
        missed = "; ".join(f"{t.expr} (actual {t.shown})" for t in report.broken_thresholds)
        lost = len(report.lost_workers)
        what = [
            *([f"{broken} invariant violation(s)"] if broken else []),
            *([f"{errors} flow error(s)"] if errors else []),
            *(
                [f"{lost} worker(s) lost, {report.unfinished_flows} flow(s) unfinished"]
                if lost
                else []
            ),
            *([f"threshold(s) broken: {missed}"] if missed else []),
        ]
        raise CheckFailed(f"simulation failed: {', '.join(what)}")
    cli.output.success(
        f"{report.paid_orders} orders paid, {report.orders_per_second} orders/s; invariants hold"
    )


LOCUSTFILE = Path(__file__).resolve().parent.parent / "load" / "locustfile.py"

# The options of one role only: given to another, they would be silently ignored. Every
# other option but the roles themselves belongs to the run, which a worker takes from its
# master.
MASTER_OPTIONS = (
    "expect_workers",
    "expect_workers_max_wait",
    "master_bind_host",
    "master_bind_port",
)
WORKER_OPTIONS = ("master_host", "master_port", "master_max_wait")
NOT_OF_THE_RUN = {"processes", "master", "worker", "locustfile", *MASTER_OPTIONS, *WORKER_OPTIONS}


def refuse_options_of_other_roles(ctx: typer.Context, *, master: bool, worker: bool) -> None:
    from click.core import ParameterSource

    from shopctl.domain.errors import InvalidInput

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)

    flags = {p.name: p.opts[0] for p in ctx.command.params if p.name is not None}
    for names, allowed, needs in (
        (MASTER_OPTIONS, master, "--master"),
        (WORKER_OPTIONS, worker, "--worker"),
    ):
        for name in names:
            if given(name) and not allowed:
                raise InvalidInput(f"{flags[name]} is an option of {needs}")
    if worker:
        for name in flags.keys() - NOT_OF_THE_RUN:
            if given(name):
                raise InvalidInput(
                    f"{flags[name]} is the master's: a worker runs the flows its master hands out"
                )


def network_host(value: str, option: str, *, anywhere: str | None = None) -> str:
    """A host name or address for ZeroMQ: refused (exit 2) when it cannot be one, before
    anything listens or connects."""
    from shopctl.domain.errors import InvalidInput

    if value == anywhere:
        return value
    if (
        not value
        or len(value) > 253
        or any(c.isspace() or not c.isprintable() or c in "/@?#*'\"\\" for c in value)
    ):
        raise InvalidInput(f"{option} {value!r} is not a host name or an IP address")
    return value


def html_page(path: str) -> IO[str]:
    """The ``--html`` file, opened before the run: a missing library or an unwritable path
    is exit 2 before anything runs."""
    import importlib.util

    from shopctl.domain.errors import InvalidInput

    if importlib.util.find_spec("matplotlib") is None:
        raise InvalidInput("--html draws its charts with matplotlib, which is not installed",
                           hint="pip install 'shopctl[html]'")  # fmt: skip
    return open_output(path)


def new_shop(settings: Settings, name: str) -> Shop:
    from shopctl.bootstrap import Shop

    return Shop(settings, application_name=name)


def worker_command(cli: CliContext, port: int) -> list[str]:
    """A local worker process: this shopctl, with this command line's profile and database."""
    import sys

    given = [
        *(["--profile", cli.profile] if cli.profile else []),
        *(["--config-dir", cli.config_dir] if cli.config_dir else []),
        *(["--database-url", cli.database_url] if cli.database_url else []),
    ]
    worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    return [sys.executable, "-m", "shopctl", *given, "simulate", *worker]


def listening(output: Output, host: str, port: int, workers: int) -> None:
    where = f"{'every interface' if host == '*' else host}, port {port}"
    output.message(f"master: listening on {where}; waiting for {workers} worker(s)")


@contextmanager
def live_progress(output: Output) -> Iterator[Callable[[Progress], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not output.interactive:
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console(output.stderr),
        transient=True,
    )
    task = bar.add_task("flows", total=None, status="")

    def show(progress: Progress) -> None:
        if progress.total is not None:
            total, completed = float(progress.total), float(progress.done)
        else:
            total = progress.duration or 1.0
            completed = min(progress.elapsed, total)
        status = f"{progress.done} flows · {progress.paid} paid · {progress.errors} errors"
        bar.update(task, total=total, completed=completed, status=status)

    with bar:
        yield show
