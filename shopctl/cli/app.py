"""The root command: global options, command groups, and error → exit-code translation."""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from shopctl import __version__
from shopctl.cli.context import CliContext
from shopctl.cli.errors import EXIT_CODES, EXIT_CODES_HELP, hint_text
from shopctl.cli.output import Output

# Help is plain Click text (rich_markup_mode=None), but Typer escapes "[" for Rich whenever
# Rich is installed, so option help read "\[default: 50]". Rich stays ours, for tables.
typer.core.HAS_RICH = False


@dataclass(frozen=True)
class Entry:
    """A top-level command: ``shopctl.cli.<module>``'s ``app`` group, or one function of it."""

    module: str
    help: str  # the group's help, or the command's summary: written here only
    function: str | None = None


# The root imports a command's module, and builds its Click commands, only when that command
# runs: `shopctl products get` does not pay for the other nine, and `shopctl --help` lists
# them from here (tests/unit/test_cli_frame.py checks that this table matches the modules).
COMMANDS: dict[str, Entry] = {
    "db": Entry("db", "Migrate the schema; manage the embedded PostgreSQL."),
    "products": Entry("products", "Browse and manage the catalog."),
    "users": Entry("users", "Register, log in and out, and manage users and roles."),
    "cart": Entry("cart", "Fill your cart before placing an order."),
    "order": Entry(
        "orders", "Place an order from your cart; list, show, cancel and fulfill orders."
    ),
    "pay": Entry("pay", "Pay orders (mock gateway test cards) and show payments."),
    "inventory": Entry("inventory", "Inventory reservations and their expiry (admins)."),
    "report": Entry("reports", "Sales, top products and low stock (admins; reads only)."),
    "audit": Entry("audit", "Check every invariant of the database (admin).", "audit"),
    "replay": Entry(
        "replay",
        "Replay scenario files: each step is a shopctl command line run as a profile.",
        "replay",
    ),
    "simulate": Entry(
        "simulate",
        "Run concurrent virtual shoppers against a catalog of their own (admins).",
        "simulate",
    ),
}


class LazyCommands(TyperGroup):
    """The root group, loading each command on first use (Click's lazy-subcommand pattern)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name, entry)
        return self._loaded[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.help) for name, entry in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as interrupt:
            # Typer turns an interrupt into a silent exit 130: carry it past, and what the
            # command had kept with it, to ``run``, which says so.
            raise _Interrupted(getattr(interrupt, "kept", None)) from interrupt


class _Interrupted(Exception):
    """Ctrl-C during a command, on its way to ``run``; ``kept`` as the command said, or None."""

    def __init__(self, kept: str | None) -> None:
        super().__init__(kept)
        self.kept = kept


def load_command(name: str, entry: Entry) -> click.Command:
    import inspect
    from importlib import import_module

    from typer.main import get_command_from_info, get_group_from_info
    from typer.models import CommandInfo, TyperInfo

    module = import_module(f"shopctl.cli.{entry.module}")
    if entry.function is not None:
        # The summary is written here once; the function's docstring holds the rest.
        callback = getattr(module, entry.function)
        details = inspect.getdoc(callback)
        info = CommandInfo(
            name=name,
            callback=callback,
            help=f"{entry.help}\n\n{details}" if details else entry.help,
        )
        command = get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)
        return with_fields(command)
    group = TyperInfo(module.app, name=name, help=entry.help)
    return with_fields(
        get_group_from_info(group, pretty_exceptions_short=True, rich_markup_mode=None)
    )


FIELDS_HELP = "Only these fields, in this order: table and CSV columns, JSON keys (a,b,c)."
# Commands whose output is a report of several parts (a summary and tables of other things),
# not one list or object to pick fields from.
WITHOUT_FIELDS = {"simulate", "products import"}


def with_fields(command: click.Command, path: str = "") -> click.Command:
    """``--fields a,b,c`` on every command that lists or shows data (each has ``--format``),
    added here once: the option hands the names to ``Output.pick_fields``, and the renderer
    applies them to whatever the command shows."""
    path = f"{path} {command.name}".strip()
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            with_fields(subcommand, path)
        return command
    shows = command.callback
    if shows is None or path in WITHOUT_FIELDS:
        return command
    if not any(param.name == "fmt" for param in command.params):
        return command
    command.params.append(click.Option(["--fields"], metavar="A,B,C", help=FIELDS_HELP))

    def callback(*args: Any, fields: str | None = None, **params: Any) -> Any:
        if fields is not None:
            root = click.get_current_context().find_root().obj
            assert isinstance(root, CliContext)
            root.output.pick_fields(fields)
        return shows(*args, **params)

    command.callback = functools.update_wrapper(callback, shows)
    return command


app = typer.Typer(
    name="shopctl",
    cls=LazyCommands,
    help="Shop administration and simulation on PostgreSQL.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


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
    except (_Interrupted, KeyboardInterrupt, click.exceptions.Abort) as interrupt:
        # What was kept: the command's own words, else what holds for every command (a unit
        # of work commits whole or not at all).
        kept = getattr(interrupt, "kept", None) or "any open transaction was rolled back"
        if _TERMINATED:
            obj.output.error(f"terminated: {kept}")
            return 143
        obj.output.error(f"interrupted: {kept}")
        return 130
    except Exception as raised:
        if debug:
            import traceback

            traceback.print_exc(file=obj.output.stderr)
        shop_error = obj.translate(raised)
        if shop_error is None:
            obj.output.error(
                f"internal error: {type(raised).__name__}: {raised}".splitlines()[0],
                "run again with --debug for the traceback",
            )
            return 1
        obj.output.error(shop_error.message, hint_text(shop_error.hint))
        return EXIT_CODES[shop_error.kind]
    finally:
        obj.close()


_TERMINATED: list[int] = []  # the SIGTERM that stops this process, once it came


def _terminate_as_interrupted(signum: int, frame: object) -> None:
    """SIGTERM (``kill``, ``docker stop``, a CI timeout) ends a command as Ctrl-C does: what
    is under way stops, what was kept is said, ``simulate`` removes its run's data; then exit
    143. A second one while that happens changes nothing (SIGKILL still ends it at once)."""
    if _TERMINATED:
        return
    _TERMINATED.append(signum)
    if "gevent" in sys.modules:  # simulate on Locust: the handler may run in gevent's loop
        from greenlet import getcurrent

        main = current = getcurrent()
        while main.parent is not None:
            main = main.parent
        if main is not current:  # interrupt the command, not the loop or a user's greenlet
            main.throw(KeyboardInterrupt)
            return
    raise KeyboardInterrupt


def main() -> None:
    """The ``shopctl`` program: one command line, then the process ends."""
    import signal

    signal.signal(signal.SIGTERM, _terminate_as_interrupted)
    code = run()
    # What is left is freed with the process. Frozen, it is not walked once more by the
    # collector's final passes (≈ 50 ms here, a tenth of a read command); atexit handlers and
    # the modules' teardown still run.
    gc.freeze()
    sys.exit(code)
