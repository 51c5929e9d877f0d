"""``shopctl db``: schema migrations and the embedded server."""

from __future__ import annotations

from typing import Annotated

import typer

from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import OutputFormat

app = typer.Typer(no_args_is_help=True)  # its help: cli/app.py COMMANDS


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create the database if needed and migrate it to the latest revision (idempotent)."""
    from shopctl.infrastructure.db import migrations

    cli = state(ctx)
    shop = cli.shop
    if migrations.create_database_if_missing(shop.connection_settings):
        cli.output.message("created the database")
    migrations.upgrade(shop.connection_settings, revision)
    current = migrations.status(shop.connection_settings).current
    cli.output.success(f"database at revision {current}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 0001 or base.")],
) -> None:
    """Migrate the schema down to REVISION (``base`` removes every table)."""
    from shopctl.infrastructure.db import migrations

    cli = state(ctx)
    migrations.downgrade(cli.shop.connection_settings, revision)
    current = migrations.status(cli.shop.connection_settings).current
    cli.output.success(f"database at revision {current or 'base'}")


@app.command()
def status(ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False) -> None:
    """Show the current and latest revision, and which database is used."""
    from shopctl.infrastructure.db import migrations
    from shopctl.infrastructure.db.urls import mask_url

    cli = state(ctx)
    shop = cli.shop
    schema = migrations.status(shop.connection_settings)
    report = {
        "database_url": mask_url(shop.database_url),
        "embedded": shop.embedded,
        "current_revision": schema.current,
        "head_revision": schema.head,
        "up_to_date": schema.up_to_date,
    }
    cli.output.record(report, output_format(fmt, json_))


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL (it starts again on the next command)."""
    from shopctl.infrastructure.db import embedded

    cli = state(ctx)
    if cli.settings.database_url:
        cli.output.message("an external database is configured; nothing to stop")
    elif embedded.stop(cli.settings.data_dir):
        cli.output.success("embedded PostgreSQL stopped")
    else:
        cli.output.message("embedded PostgreSQL is not running")


@app.command()
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: every row is deleted.")] = False,
) -> None:
    """Delete all data: drop every table, then migrate to the latest revision."""
    from shopctl.domain.errors import InvalidInput
    from shopctl.infrastructure.db import migrations

    if not yes:
        raise InvalidInput("db reset deletes all data; pass --yes to confirm")
    cli = state(ctx)
    migrations.create_database_if_missing(cli.shop.connection_settings)
    migrations.reset(cli.shop.connection_settings)
    cli.output.success("database reset to an empty schema at the latest revision")
