"""Writes docs/commands.md from the CLI's own --help: ``python docs/commands.py``.

tests/unit/test_docs.py fails when the file differs from what this prints, so the command
reference cannot fall behind the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

OUTPUT = Path(__file__).with_name("commands.md")
HEADER = """\
# Command reference

Generated from `shopctl --help` and each command's `--help` by `python docs/commands.py`;
do not edit by hand.
"""


def _help(command: click.Command, path: list[str]) -> str:
    with click.Context(command, info_name=" ".join(path), terminal_width=100) as ctx:
        return command.get_help(ctx)


def reference() -> str:
    import typer

    from shopctl.cli.app import COMMANDS, app, load_command

    root = typer.main.get_command(app)
    parts = [HEADER, "## shopctl\n", "```text\n" + _help(root, ["shopctl"]) + "\n```\n"]
    for name, entry in COMMANDS.items():
        command = load_command(name, entry)
        commands = [([name], command)]
        if isinstance(command, click.Group):
            commands += [([name, sub], command.commands[sub]) for sub in command.commands]
        for path, each in commands:
            title = "shopctl " + " ".join(path)
            body = _help(each, ["shopctl", *path])
            parts.append(f"## {title}\n\n```text\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    OUTPUT.write_text(reference())
    sys.exit(0)
