"""The root command loads its commands lazily, from a table that must match the modules."""

import json
import subprocess
import sys

import click
import pytest

from shopctl.application.errors import Interrupted
from shopctl.cli.app import COMMANDS, app, load_command, main, run
from shopctl.cli.context import CliContext
from shopctl.cli.output import Output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_loads_and_the_root_help_matches_it(name: str) -> None:
    command = load_command(name, COMMANDS[name])
    assert command.name == name
    assert COMMANDS[name].help == command.get_short_help_str(limit=1000)
    if COMMANDS[name].function is None:
        assert isinstance(command, click.Group) and command.list_commands(click.Context(command))


FRAME = {
    "shopctl.cli.app",
    "shopctl.cli.context",
    "shopctl.cli.errors",
    "shopctl.cli.output",
    "shopctl.cli.sanitize",
}


def cli_modules_loaded_by(argv: list[str]) -> tuple[str, list[str]]:
    """stdout of ``shopctl argv`` in a fresh interpreter, and the command modules it loaded."""
    code = (
        "import json, sys\n"
        "from shopctl.cli.app import run\n"
        f"run({argv!r})\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('shopctl.cli.'))\n"
        "print(json.dumps(loaded), file=sys.stderr)\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(shown.stderr.strip().splitlines()[-1])
    return shown.stdout, [m for m in loaded if m not in FRAME | {"shopctl.cli.options"}]


def test_root_help_lists_every_command_without_loading_one() -> None:
    stdout, loaded = cli_modules_loaded_by(["--help"])
    assert loaded == []
    for name in COMMANDS:
        assert f"\n  {name} " in stdout


def test_a_command_loads_only_its_own_module() -> None:
    assert cli_modules_loaded_by(["products", "--help"])[1] == ["shopctl.cli.products"]


def test_help_shows_defaults_without_markup_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["products", "list", "--help"]) == 0
    out = capsys.readouterr().out
    assert "[default: 50]" in out and "\\[" not in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["nope"]) == 2
    assert "No such command 'nope'" in capsys.readouterr().err
    assert app.info.cls is not None


def test_the_program_exits_with_the_exit_code_and_the_heap_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``main`` ends the process: the collector's final passes skip what is left (see main)."""
    import gc

    monkeypatch.setattr(sys, "argv", ["shopctl", "no-such-command"])
    try:
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


class Interrupting:
    """A shop whose product listing is cut by Ctrl-C (``kept``: what the command kept)."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        self.interrupt = interrupt

    def list_products(self) -> object:
        def cut(*_: object, **__: object) -> None:
            raise self.interrupt

        return cut

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("interrupt", "line"),
    [
        (KeyboardInterrupt(), "error: interrupted: any open transaction was rolled back\n"),
        (Interrupted("nothing was imported"), "error: interrupted: nothing was imported\n"),
    ],
)
def test_ctrl_c_is_exit_130_and_one_line_of_what_was_kept(
    interrupt: KeyboardInterrupt, line: str
) -> None:
    import io

    err = io.StringIO()
    context = CliContext(output=Output(io.StringIO(), err))
    context.__dict__["shop"] = Interrupting(interrupt)
    assert run(["products", "list"], context=context) == 130
    assert err.getvalue() == line


def leaf_commands(command: click.Command, path: str = "") -> list[tuple[str, click.Command]]:
    path = f"{path} {command.name}".strip()
    if isinstance(command, click.Group):
        return [leaf for sub in command.commands.values() for leaf in leaf_commands(sub, path)]
    return [(path, command)]


def test_every_command_that_lists_or_shows_data_takes_fields() -> None:
    from shopctl.cli.app import WITHOUT_FIELDS

    leaves = [
        leaf
        for name, entry in COMMANDS.items()
        for leaf in leaf_commands(load_command(name, entry))
    ]
    showing = {path for path, command in leaves if any(p.name == "fmt" for p in command.params)}
    with_fields = {
        path for path, command in leaves if any(p.name == "fields" for p in command.params)
    }
    assert with_fields == showing - WITHOUT_FIELDS
    assert {"products list", "products get", "order show", "users list", "pay show"} <= with_fields
