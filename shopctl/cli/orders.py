"""``shopctl order``: place orders from the cart, follow and change them."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from shopctl.application.dto import LineView
from shopctl.cli.context import CliContext, output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat

if TYPE_CHECKING:
    from shopctl.application.dto import OrderView

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

# A listed order: its summary and how many items it has (``order show`` has the items).
LIST_COLUMNS = Columns(("id", "status", "total", "currency", "items", "created_at"))
ITEM_COLUMNS = Columns.of(LineView)
# CSV of ``order show``: a row per item, each with its order's id.
ORDER_ITEMS = Columns(("order_id", *ITEM_COLUMNS.fields))
SUMMARY = ("id", "status", "total", "currency", "created_at", "expires_at", "paid_at")

OrderId = Annotated[int, typer.Argument(help="The order's id.", show_default=False)]


def render_order(cli: CliContext, order: OrderView, fmt: OutputFormat) -> None:
    """JSON: the order; table: its summary then its items; CSV: one row per item."""
    if fmt is OutputFormat.json:
        cli.output.json(order)
    elif fmt is OutputFormat.csv:
        rows = [{"order_id": order.id, **_plain(item)} for item in order.items]
        cli.output.rows(rows, ORDER_ITEMS, fmt)
    elif cli.output.fields is not None:  # --fields: the order's own fields, as one record
        cli.output.record(order, fmt, title=f"order {order.id}")
    else:
        cli.output.record({k: getattr(order, k) for k in SUMMARY}, fmt, title=f"order {order.id}")
        cli.output.rows(order.items, ITEM_COLUMNS, fmt)


def _plain(item: object) -> dict[str, object]:
    from shopctl.cli.output import plain

    data = plain(item)
    assert isinstance(data, dict)
    return data


@app.command()
def place(ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False) -> None:
    """Order everything in your cart: its units are reserved until the order expires."""
    cli = state(ctx)
    order = cli.shop.place_order()(cli.principal())
    render_order(cli, order, output_format(fmt, json_))
    cli.output.success(
        f"order {order.id} placed: pay it before it expires (shopctl pay order {order.id})"
    )


@app.command("list")
def list_orders(
    ctx: typer.Context,
    all_users: Annotated[
        bool, typer.Option("--all", help="Every user's orders (admins only).")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only orders in this status: pending_payment, paid, fulfilled, cancelled, "
            "expired.",
        ),
    ] = None,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """List your orders (or everyone's with --all), newest first."""
    from shopctl.domain.orders import parse_order_status

    cli = state(ctx)
    wanted = None if status is None else parse_order_status(status)
    found = cli.shop.list_orders()(cli.principal(), all_users=all_users, status=wanted)
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.json:
        cli.output.json(found)
        return
    rows = [
        {**{k: getattr(o, k) for k in LIST_COLUMNS.fields if k != "items"}, "items": len(o.items)}
        for o in found
    ]
    cli.output.rows(rows, LIST_COLUMNS, fmt, empty="no orders")


@app.command()
def show(
    ctx: typer.Context, order_id: OrderId, fmt: Format = OutputFormat.table, json_: Json = False
) -> None:
    """Show one order with its items."""
    cli = state(ctx)
    render_order(cli, cli.shop.get_order()(cli.principal(), order_id), output_format(fmt, json_))


@app.command()
def cancel(
    ctx: typer.Context, order_id: OrderId, fmt: Format = OutputFormat.table, json_: Json = False
) -> None:
    """Cancel an order: a pending one releases its units; a paid one is refunded and restocked."""
    from shopctl.cli.errors import outcome_unknown

    cli = state(ctx)
    cancel_order = cli.shop.cancel_order()
    principal = cli.principal()
    with outcome_unknown(f"the cancellation of order {order_id}", f"shopctl order show {order_id}"):
        order = cancel_order(principal, order_id)
    render_order(cli, order, output_format(fmt, json_))
    cli.output.success(f"order {order.id} cancelled")


@app.command()
def fulfill(
    ctx: typer.Context, order_id: OrderId, fmt: Format = OutputFormat.table, json_: Json = False
) -> None:
    """Mark a paid order as fulfilled (shipped). Admins only."""
    cli = state(ctx)
    order = cli.shop.fulfill_order()(cli.principal(), order_id)
    render_order(cli, order, output_format(fmt, json_))
    cli.output.success(f"order {order.id} fulfilled")


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    json = "json"


@app.command("export")
def export_orders(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="Placed on or after, YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="DATE", help="Placed on or before (UTC).")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only orders in this status.")] = (
        None
    ),
    lines: Annotated[bool, typer.Option("--lines", help="One row per order line.")] = False,
    output_format_: Annotated[
        ExportFormat, typer.Option("--output-format", help="csv, jsonl or json.")
    ] = ExportFormat.csv,
    output_file: Annotated[
        str | None, typer.Option("--output-file", "-o", help="Default: stdout.")
    ] = None,
) -> None:
    """Write orders for accounting (admin): one row per order (its total, units, customer,
    when placed and paid), or with --lines one per order line; streamed, so memory stays flat
    whatever their number. Days are UTC."""
    from contextlib import ExitStack
    from dataclasses import fields

    from shopctl.application.reports import OrderLineRecord, OrderRecord
    from shopctl.cli.options import parse_day
    from shopctl.cli.output import open_output, plain
    from shopctl.domain.orders import parse_order_status
    from shopctl.infrastructure.catalog_files import CatalogFormat, write_records

    cli = state(ctx)
    records = cli.shop.export_orders()(
        cli.principal(),
        since=parse_day(since, "--since"),
        until=parse_day(until, "--until"),
        status=None if status is None else parse_order_status(status),
        lines=lines,
    )
    names = [f.name for f in fields(OrderLineRecord if lines else OrderRecord)]
    with ExitStack() as stack:
        sink = cli.output.stdout
        if output_file is not None and output_file != "-":
            sink = stack.enter_context(open_output(output_file))
        items = (plain(record) for record in records)
        count = write_records(items, names, sink, CatalogFormat(output_format_.value))
    cli.output.success(f"exported {count} {'order line' if lines else 'order'}(s)")
