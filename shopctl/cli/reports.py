"""``shopctl report``: sales, top products and low stock, for admins. Reads only."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json, parse_day
from shopctl.cli.output import Columns, Output, OutputFormat

if TYPE_CHECKING:
    from shopctl.application.reports import SalesLine

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

FIGURES = ("orders", "units", "gross", "refunds", "net", "average_order_value")
LABELS = {"average_order_value": "avg order"}
BY_PERIOD = Columns(("period", *FIGURES), labels=LABELS)
BY_PRODUCT = Columns(("sku", *FIGURES), labels=LABELS, no_wrap=("sku",))
TOP = Columns(
    ("sku", "name", "units", "revenue", "stock_on_hand", "available"),
    labels={"stock_on_hand": "on hand", "available": "avail."},
    no_wrap=("sku",),
)
LOW = Columns(
    ("sku", "name", "available", "daily_rate", "days_left"),
    labels={"daily_rate": "a day", "days_left": "days left"},
    no_wrap=("sku",),
)


class By(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    product = "product"


class Rank(StrEnum):
    units = "units"
    revenue = "revenue"


Since = Annotated[
    str | None,
    typer.Option("--since", metavar="DATE", help="First day, YYYY-MM-DD (UTC). Default: 29 days "
                 "before --until."),
]  # fmt: skip
Until = Annotated[
    str | None,
    typer.Option("--until", metavar="DATE", help="Last day, included. Default: today (UTC)."),
]
NoChart = Annotated[bool, typer.Option("--no-chart", help="No bar chart under the table.")]


def _chart(output: Output, fmt: OutputFormat, no_chart: bool, bars: list[tuple[str, Any]]) -> None:
    """A bar chart under a table, where people look at one: at a terminal only."""
    if fmt is OutputFormat.table and output.terminal and not no_chart and bars:
        output.bar_chart(bars)


@app.command()
def sales(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    by: Annotated[By, typer.Option("--by", help="One row per day, week, month or product.")] = (
        By.day
    ),
    no_chart: NoChart = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Orders paid, units, gross revenue, refunds (paid orders cancelled later), net revenue
    and average order value, per period or product, then the totals. An order counts in the
    period it was paid in; days are UTC; a period without sales is a row of zeros."""
    from shopctl.application.reports import SalesBy

    cli = state(ctx)
    report = cli.shop.sales_report()(
        cli.principal(),
        since=parse_day(since, "--since"),
        until=parse_day(until, "--until"),
        by=SalesBy(by.value),
    )
    key = "sku" if by is By.product else "period"
    fmt = output_format(fmt, json_)

    def row(line: SalesLine) -> dict[str, Any]:
        return {key: line.key, **{name: getattr(line, name) for name in FIGURES}}

    rows = [row(line) for line in report.rows]
    columns = BY_PRODUCT if by is By.product else BY_PERIOD
    if fmt is OutputFormat.json:
        totals = {name: getattr(report.totals, name) for name in FIGURES}
        summary = {"since": report.since, "until": report.until, "by": by.value}
        cli.output.report_json(summary, rows, columns, totals)
        return
    if fmt is OutputFormat.table:
        rows.append(row(report.totals))
    cli.output.rows(rows, columns, fmt, empty="no sales")
    _chart(cli.output, fmt, no_chart, [(line.key, line.net) for line in report.rows])


@app.command("top-products")
def top_products(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option("--limit", help="How many products.")] = 10,
    by: Annotated[Rank, typer.Option("--by", help="Rank by units or by revenue.")] = Rank.units,
    no_chart: NoChart = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """The best sellers of the window (orders paid and not refunded), with their stock now."""
    from shopctl.application.reports import RankBy

    cli = state(ctx)
    found = cli.shop.top_products()(
        cli.principal(),
        since=parse_day(since, "--since"),
        until=parse_day(until, "--until"),
        by=RankBy(by.value),
        limit=limit,
    )
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.json:
        cli.output.report_json({}, found, TOP)
        return
    cli.output.rows(found, TOP, fmt, empty="no sales")
    _chart(cli.output, fmt, no_chart, [(p.sku, getattr(p, by.value)) for p in found])


@app.command("low-stock")
def low_stock(
    ctx: typer.Context,
    below: Annotated[int, typer.Option("--below", help="Fewer units available than N.")] = 5,
    days: Annotated[
        int, typer.Option("--days", help="Or out within N days at the last 14 days' rate.")
    ] = 14,
    fail_if_any: Annotated[
        bool, typer.Option("--fail-if-any", help="Exit 9 when any product is listed (cron).")
    ] = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Active products about to run out: fewer than --below units available, or out within
    --days at the rate they sold over the last 14 days (days_left: empty when none sold)."""
    from shopctl.domain.errors import CheckFailed

    cli = state(ctx)
    found = cli.shop.low_stock()(cli.principal(), below=below, days=days)
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.json:
        cli.output.report_json({}, found, LOW)
    else:
        cli.output.rows(found, LOW, fmt, empty="no product is low on stock")
    if fail_if_any and found:
        raise CheckFailed(f"{len(found)} product(s) low on stock")
