"""``shopctl inventory``: reservations and their expiry (admins only)."""

from __future__ import annotations

from typing import Annotated

import typer

from shopctl.application.dto import ReservationView
from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

COLUMNS = Columns.of(ReservationView, ("id", "order_id", "sku", "quantity", "status", "expires_at"))


@app.command()
def reservations(
    ctx: typer.Context,
    active: Annotated[bool, typer.Option("--active", help="Only active reservations.")] = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """List reservations, newest first."""
    cli = state(ctx)
    found = cli.shop.list_reservations()(cli.principal(), active_only=active)
    cli.output.rows(found, COLUMNS, output_format(fmt, json_), empty="no reservations")


@app.command("release-expired")
def release_expired(
    ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False
) -> None:
    """Expire pending orders past their TTL and release their reserved units."""
    cli = state(ctx)
    report = cli.shop.release_expired_reservations()(cli.principal())
    cli.output.record(report, output_format(fmt, json_))
    cli.output.success(f"{report.expired_orders} expired order(s) released")
