"""``shopctl simulate``: concurrent virtual shoppers on a catalog of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, Output, OutputFormat, console

if TYPE_CHECKING:
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
    import secrets

    from shopctl.domain.errors import CheckFailed, InvalidInput
    from shopctl.simulation.arrivals import parse_rate
    from shopctl.simulation.plan import SimulationOptions, parse_seconds
    from shopctl.simulation.runner import Simulation
    from shopctl.simulation.thresholds import judged, parse_thresholds

    cli = state(ctx)
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.csv:
        raise InvalidInput("simulate reports as a table or as JSON, not CSV")
    thresholds = parse_thresholds(threshold or [])
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
    principal = cli.principal()
    with live_progress(cli.output) as show:
        report = Simulation(cli.settings, on_progress=show)(principal, options)
    report = judged(report, thresholds)
    render(cli.output, report, fmt)
    if not report.ok:
        broken, errors = len(report.audit.violations), report.outcomes.get("errors", 0)
        missed = "; ".join(f"{t.expr} (actual {t.shown})" for t in report.broken_thresholds)
        what = [
            *([f"{broken} invariant violation(s)"] if broken else []),
            *([f"{errors} flow error(s)"] if errors else []),
            *([f"threshold(s) broken: {missed}"] if missed else []),
        ]
        raise CheckFailed(f"simulation failed: {', '.join(what)}")
    cli.output.success(
        f"{report.paid_orders} orders paid, {report.orders_per_second} orders/s; invariants hold"
    )


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
