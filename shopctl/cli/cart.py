"""``shopctl cart``: the logged-in customer's cart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shopctl.application.dto import LineView
from shopctl.cli.context import CliContext, output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat

if TYPE_CHECKING:
    from shopctl.application.dto import CartView

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

ITEM_COLUMNS = Columns.of(LineView)

Sku = Annotated[str, typer.Argument(help="The product's SKU.")]


def render_cart(cli: CliContext, cart: CartView, fmt: OutputFormat) -> None:
    """JSON: the whole cart; table and CSV: one row per item (the table adds the total)."""
    if fmt is OutputFormat.json:
        cli.output.json(cart)
        return
    cli.output.rows(cart.items, ITEM_COLUMNS, fmt, empty="your cart is empty")
    if fmt is OutputFormat.table and cart.items:
        cli.output.message(f"total {cart.total} {cart.currency}")


@app.command()
def show(ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False) -> None:
    """Show your cart with current prices, line totals and the total."""
    cli = state(ctx)
    render_cart(cli, cli.shop.show_cart()(cli.principal()), output_format(fmt, json_))


@app.command()
def add(
    ctx: typer.Context,
    sku: Sku,
    quantity: Annotated[int, typer.Option("--quantity", "-q", help="Units to add (1-999).")] = 1,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Add units of a product (merged with what the cart already holds)."""
    cli = state(ctx)
    cart = cli.shop.add_to_cart()(cli.principal(), sku, quantity)
    render_cart(cli, cart, output_format(fmt, json_))


@app.command("set")
def set_quantity(
    ctx: typer.Context,
    sku: Sku,
    quantity: Annotated[int, typer.Argument(help="The new quantity (1-999).")],
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Set how many units of a product the cart holds."""
    cli = state(ctx)
    cart = cli.shop.set_cart_quantity()(cli.principal(), sku, quantity)
    render_cart(cli, cart, output_format(fmt, json_))


@app.command()
def remove(
    ctx: typer.Context, sku: Sku, fmt: Format = OutputFormat.table, json_: Json = False
) -> None:
    """Take a product out of the cart."""
    cli = state(ctx)
    cart = cli.shop.remove_from_cart()(cli.principal(), sku)
    render_cart(cli, cart, output_format(fmt, json_))


@app.command()
def clear(ctx: typer.Context) -> None:
    """Empty the cart."""
    cli = state(ctx)
    cli.shop.clear_cart()(cli.principal())
    cli.output.success("cart emptied")
