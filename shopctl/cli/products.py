"""``shopctl products``: the catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import IO, Annotated

import typer

from shopctl.application.dto import ProductView
from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat, open_output

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS

LIST_COLUMNS = Columns.of(
    ProductView,
    ("sku", "name", "price", "stock_on_hand", "reserved", "available", "active"),
    labels={"stock_on_hand": "on hand", "available": "avail."},
    no_wrap=("sku",),
)


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
    if name is None and price is None and description is None and active is None:
        raise typer.BadParameter("give --name, --price, --description or --active/--inactive")
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
    if sum(value is not None for value in (set_to, add, remove)) != 1:
        raise typer.BadParameter("give exactly one of --set, --add or --remove")
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


# -- import and export (admins) --------------------------------------------------------------


class InputFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    json = "json"


class ErrorMode(StrEnum):
    abort = "abort"
    skip = "skip"


@app.command("import")
def import_products(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV, JSON Lines or JSON file; - for stdin.")],
    input_format: Annotated[
        InputFormat | None,
        typer.Option("--input-format", help="Default: from the extension (csv for stdin)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate against the database; write nothing.")
    ] = False,
    on_error: Annotated[
        ErrorMode,
        typer.Option(
            "--on-error",
            help="abort: apply nothing if any row fails. skip: apply the valid rows.",
        ),
    ] = ErrorMode.abort,
    errors_file: Annotated[
        str | None,
        typer.Option("--errors-file", help="Write failing rows here as CSV, with an error column."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Upsert products by SKU from a file (admin). Columns: sku (required), name, price,
    description, stock, active. Failed rows: exit 2 with the report."""
    import sys
    from contextlib import ExitStack

    from shopctl.application.catalog import OnError, RowError
    from shopctl.domain.errors import InvalidInput
    from shopctl.infrastructure import catalog_files

    cli = state(ctx)
    cli.output.quiet = quiet
    principal = cli.principal()
    use_case = cli.shop.import_catalog()
    file_format = catalog_files.format_for(
        file, None if input_format is None else catalog_files.CatalogFormat(input_format.value)
    )
    with ExitStack() as stack:
        typed = False
        if file == "-":
            typed = cli.output.reading_stdin(f"the catalog ({file_format.value})")
            stream = sys.stdin.buffer
            size = None
        else:
            stream = stack.enter_context(_open_input(file))
            size = _size_of(stream)
        advance = stack.enter_context(cli.output.progress("importing", size, shown=not typed))
        reader = catalog_files.CatalogReader(_Counting(stream, advance), file_format)
        rejected = None
        if errors_file is not None:
            sink = stack.enter_context(open_output(errors_file))
            rejected = catalog_files.ErrorsFile(sink, reader)
        report = use_case(
            principal,
            reader,
            on_error=OnError(on_error.value),
            dry_run=dry_run,
            rejected=rejected,
        )
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.table:
        summary = {k: v for k, v in vars(report).items() if k != "errors"}
        cli.output.record(summary, fmt, title="import")
        if report.errors:
            cli.output.rows(report.errors, Columns.of(RowError), fmt)
    else:
        cli.output.record(report, fmt)
    counts = f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    if report.failed:
        if report.applied:
            outcome = f"the valid rows were applied ({counts})"
        elif report.dry_run:
            outcome = "dry run, nothing was written"
        else:
            outcome = "nothing was applied (--on-error abort)"
        raise InvalidInput(f"{report.failed} row(s) failed; {outcome}")
    if report.dry_run:
        cli.output.success(f"dry run, nothing was written: would be {counts}")
    else:
        cli.output.success(f"imported: {counts}")


@app.command("export")
def export_products(
    ctx: typer.Context,
    output_file: Annotated[
        str | None, typer.Option("--output-file", "-o", help="Default: stdout.")
    ] = None,
    output_format_: Annotated[
        InputFormat, typer.Option("--output-format", help="csv, jsonl or json.")
    ] = InputFormat.csv,
) -> None:
    """Write the whole catalog (admin), archived products included, in the import format:
    re-importing the file changes nothing."""
    from contextlib import ExitStack

    from shopctl.infrastructure import catalog_files

    cli = state(ctx)
    records = cli.shop.export_catalog()(cli.principal())
    with ExitStack() as stack:
        sink = cli.output.stdout
        if output_file is not None and output_file != "-":
            sink = stack.enter_context(open_output(output_file))
        count = catalog_files.write_catalog(
            records, sink, catalog_files.CatalogFormat(output_format_.value)
        )
    cli.output.success(f"exported {count} product(s)")


def _open_input(path: str) -> IO[bytes]:
    from shopctl.domain.errors import InvalidInput

    try:
        return open(path, "rb")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def _size_of(stream: IO[bytes]) -> int | None:
    import os

    try:
        return os.fstat(stream.fileno()).st_size or None
    except (OSError, ValueError):
        return None


class _Counting:
    """Report bytes read to the progress bar."""

    def __init__(self, stream: IO[bytes], advance: Callable[[int], None]) -> None:
        self._stream = stream
        self._advance = advance

    def __iter__(self) -> Iterator[bytes]:
        advance = self._advance
        for line in self._stream:
            advance(len(line))
            yield line

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._advance(len(data))
        return data
