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


# -- administration (admins) -----------------------------------------------------------------


@app.command("create")
def create_product(
    ctx: typer.Context,
    sku: Annotated[str, typer.Option("--sku", help="Unique, immutable: 1-64 of A-Z a-z 0-9 . _ -")],
    name: Annotated[str, typer.Option("--name", help="1-200 characters.")],
    price: Annotated[str, typer.Option("--price", help="e.g. 9.90 (at most 2 decimals).")],
    stock: Annotated[int, typer.Option("--stock", help="Initial stock on hand.")] = 0,
    description: Annotated[str, typer.Option("--description", help="Up to 5000 characters.")] = "",
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Add a product (admin). Prints it."""
    cli = state(ctx)
    product = cli.shop.create_product()(
        cli.principal(), sku=sku, name=name, price=price, description=description, stock=stock
    )
    cli.output.record(product, output_format(fmt, json_), title=product.sku)
    cli.output.success(f"created {product.sku}")


@app.command("update")
def update_product(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The product's SKU (it cannot change).")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    price: Annotated[str | None, typer.Option("--price", help="New price, e.g. 9.90.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Show in or hide from the catalog."),
    ] = None,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Change a product's name, price, description or active flag (admin). Prints it."""
    cli = state(ctx)
    product = cli.shop.update_product()(
        cli.principal(), sku, name=name, price=price, description=description, active=active
    )
    cli.output.record(product, output_format(fmt, json_), title=product.sku)


@app.command("delete")
def delete_product(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Delete a product (admin). One that orders refer to is archived instead (inactive)."""
    cli = state(ctx)
    result = cli.shop.delete_product()(cli.principal(), sku)
    fmt = output_format(fmt, json_)
    if fmt is not OutputFormat.table:
        cli.output.record(result, fmt)
    if result.outcome == "deleted":
        cli.output.success(f"deleted {result.sku}")
    else:
        cli.output.success(f"archived {result.sku}: orders refer to it, so it was not deleted")


@app.command("stock")
def change_stock(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    set_to: Annotated[int | None, typer.Option("--set", help="Set stock on hand to N.")] = None,
    add: Annotated[int | None, typer.Option("--add", help="Add N units.")] = None,
    remove: Annotated[
        int | None, typer.Option("--remove", help="Remove N units (at most what is available).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, kept in the stock ledger.")
    ] = None,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Change stock on hand (admin): exactly one of --set, --add, --remove. Prints the product."""
    cli = state(ctx)
    change = cli.shop.change_stock()(
        cli.principal(), sku, set_to=set_to, add=add, remove=remove, note=reason
    )
    product = change.product
    cli.output.record(product, output_format(fmt, json_), title=product.sku)
    if change.delta:
        cli.output.success(
            f"{product.sku}: stock {change.previous} → {product.stock_on_hand} ({change.delta:+d})"
        )
    else:
        cli.output.message(f"{product.sku}: stock unchanged at {product.stock_on_hand}")
