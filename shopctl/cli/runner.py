"""Runs shopctl command lines in this process, for ``shopctl replay``."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from contextlib import nullcontext

from shopctl.cli.context import CliContext
from shopctl.cli.output import Output
from shopctl.replay.scenarios import CommandResult, CommandRunner


class InProcessRunner(CommandRunner):
    """Runs a command line through the real CLI entry point, with its own output and stdin.

    The replay's own --profile / --database-url / --config-dir / --debug go first, so
    that a step's options of the same name still win; the environment is this process's.
    ``json``: the command prints JSON, unless its command line asks for CSV.
    """

    def __init__(self, base: CliContext) -> None:
        self._base = base

    def __call__(
        self, argv: Sequence[str], *, profile: str | None, stdin: str | None, json: bool = False
    ) -> CommandResult:
        from shopctl.cli.app import run
        from shopctl.cli.context import printing_json

        base = self._base
        inherited: list[str] = []
        if profile or base.profile:
            inherited += ["--profile", str(profile or base.profile)]
        if base.database_url:
            inherited += ["--database-url", base.database_url]
        if base.config_dir:
            inherited += ["--config-dir", base.config_dir]
        if base.debug:
            inherited.append("--debug")
        stdout, stderr = io.StringIO(), io.StringIO()
        # Output is handed the buffers; what Click itself prints (--help, --version, usage
        # errors) goes to sys.stdout / sys.stderr, so those are swapped for the step too.
        saved = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin or ""), stdout, stderr
        try:
            with printing_json() if json else nullcontext():
                code = run([*inherited, *argv], context=CliContext(output=Output(stdout, stderr)))
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
        return CommandResult(exit_code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())
