"""The root command: global options, command groups, and error → exit-code translation."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import click
import typer

from shopctl import __version__
from shopctl.cli import audit, cart, db, inventory, orders, pay, products, replay, simulate, users
from shopctl.cli.context import CliContext
from shopctl.cli.errors import EXIT_CODES, EXIT_CODES_HELP
from shopctl.cli.output import Output

app = typer.Typer(
    name="shopctl",
    help="Shop administration and simulation on PostgreSQL.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)
app.add_typer(db.app, name="db")
app.add_typer(products.app, name="products")
app.command("audit")(audit.audit)
app.add_typer(users.app, name="users")
app.add_typer(cart.app, name="cart")
app.add_typer(orders.app, name="order")
app.add_typer(pay.app, name="pay")
app.add_typer(inventory.app, name="inventory")
app.command("replay")(replay.replay)
app.command("simulate")(simulate.simulate)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shopctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile: its own settings and session. [env: SHOPCTL_PROFILE; default: default]",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="postgresql:// URL. [env: SHOPCTL_DATABASE_URL; default: embedded server]",
        ),
    ] = None,
    config_dir: Annotated[
        str | None,
        typer.Option(
            "--config-dir",
            help="Config directory. [env: SHOPCTL_CONFIG_DIR; default: ~/.config/shopctl]",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    obj = ctx.obj if isinstance(ctx.obj, CliContext) else CliContext()
    obj.profile, obj.database_url, obj.config_dir, obj.debug = (
        profile,
        database_url,
        config_dir,
        debug,
    )
    ctx.obj = obj


def run(argv: Sequence[str] | None = None, *, context: CliContext | None = None) -> int:
    """Run one command line in this process and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    obj = context or CliContext(output=Output())
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="shopctl", obj=obj, standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show(file=obj.output.stderr)
        return 2
    except (KeyboardInterrupt, click.exceptions.Abort):
        obj.output.error("interrupted")
        return 130
    except Exception as raised:
        if debug:
            traceback.print_exc(file=obj.output.stderr)
        shop_error = obj.translate(raised)
        if shop_error is None:
            obj.output.error(
                f"internal error: {type(raised).__name__}: {raised}".splitlines()[0],
                "run again with --debug for the traceback",
            )
            return 1
        obj.output.error(shop_error.message, shop_error.hint)
        return EXIT_CODES[shop_error.kind]
    finally:
        obj.close()


def main() -> None:
    sys.exit(run())
