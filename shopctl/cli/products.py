"""``shopctl products``: the catalog."""

from __future__ import annotations

from typing import Annotated

import typer

from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import OutputFormat

app = typer.Typer(help="Browse and manage the catalog.", no_args_is_help=True)

LIST_COLUMNS = ("sku", "name", "price", "stock_on_hand", "reserved", "available", "active")


@app.command("list")
def list_products(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Match SKU or name (case-insensitive).")
    ] = None,
    in_stock: Annotated[
        bool, typer.Option("--in-stock", help="Only products with units available.")
    ] = False,
    include_inactive: Annotated[
        bool, typer.Option("--include-inactive", help="Also show archived products.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many rows.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many rows first.")] = 0,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """List products, ordered by SKU. Needs no session."""
    from shopctl.domain.repositories import ProductQuery

    cli = state(ctx)
    query = ProductQuery(
        search=search,
        in_stock=in_stock,
        include_inactive=include_inactive,
        limit=limit,
        offset=offset,
    )
    found = cli.shop.list_products()(query)
    cli.output.rows(found, LIST_COLUMNS, output_format(fmt, json_), empty="no products")


@app.command("get")
def get_product(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Show one product by SKU (archived products too). Needs no session."""
    cli = state(ctx)
    product = cli.shop.get_product()(sku)
    cli.output.record(product, output_format(fmt, json_), title=product.sku)
