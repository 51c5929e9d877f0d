"""``shopctl pay``: pay an order through the payment gateway; its payment history."""

from __future__ import annotations

from typing import Annotated

import typer

from shopctl.application.dto import PaymentView
from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

COLUMNS = Columns.of(
    PaymentView, ("id", "order_id", "status", "amount", "currency", "decline_code", "created_at")
)

OrderId = Annotated[int, typer.Argument(help="The order's id.", show_default=False)]


@app.command("order")
def pay_order(
    ctx: typer.Context,
    order_id: OrderId,
    card: Annotated[
        str,
        typer.Option(
            "--card",
            help="Card number. Test cards: 4242424242424242 succeeds, 4000000000000002 "
            "declined, 4000000000009995 insufficient funds, 4000000000000119 processing "
            "error (transient).",
        ),
    ] = "4242424242424242",
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Replay protection key. Default: derived from the order, the card and the "
            "number of earlier transient failures, so re-running never charges twice.",
        ),
    ] = None,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Charge a pending order. Declined or failed: exit 7 and the order stays payable."""
    from shopctl.cli.errors import outcome_unknown

    cli = state(ctx)
    pay = cli.shop.pay_order()
    principal = cli.principal()
    with outcome_unknown(f"the payment of order {order_id}", f"shopctl pay show {order_id}"):
        payment = pay(principal, order_id, card=card, idempotency_key=idempotency_key)
    cli.output.record(payment, output_format(fmt, json_), title=f"payment {payment.id}")
    cli.output.success(f"order {order_id} paid")


@app.command()
def show(
    ctx: typer.Context, order_id: OrderId, fmt: Format = OutputFormat.table, json_: Json = False
) -> None:
    """List every payment attempt of an order, oldest first."""
    cli = state(ctx)
    found = cli.shop.list_payments()(cli.principal(), order_id)
    cli.output.rows(found, COLUMNS, output_format(fmt, json_), empty="no payments")
