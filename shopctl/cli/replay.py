"""``shopctl replay``: run scenario files of shopctl command lines, in this process."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from shopctl.application.replay import (
    CommandResult,
    CommandRunner,
    ReplayReport,
    Scenario,
    StepReport,
)
from shopctl.cli.context import CliContext, output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Output, OutputFormat

REPORT_COLUMNS = ("step", "as", "command", "exit", "result", "ms")


class InProcessRunner(CommandRunner):
    """Runs a command line through the real CLI entry point, with its own output and stdin.

    The replay's own --profile / --database-url / --config-dir / --debug go first, so
    that a step's options of the same name still win; the environment is this process's.
    """

    def __init__(self, base: CliContext) -> None:
        self._base = base

    def __call__(
        self, argv: Sequence[str], *, profile: str | None, stdin: str | None
    ) -> CommandResult:
        from shopctl.cli.app import run

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
            code = run([*inherited, *argv], context=CliContext(output=Output(stdout, stderr)))
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
        return CommandResult(exit_code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())


def load_scenarios(files: Sequence[str]) -> list[Scenario]:
    from shopctl.application.replay import parse_scenario
    from shopctl.domain.errors import InvalidInput

    scenarios = []
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInput(f"cannot read scenario {name}: {error}") from None
        scenarios.append(parse_scenario(text, "<stdin>" if name == "-" else name))
    return scenarios


def replay(
    ctx: typer.Context,
    files: Annotated[
        list[str], typer.Argument(help="Scenario files (YAML or JSON); - reads stdin.")
    ],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="NAME=VALUE for ${vars.NAME} in the scenarios (repeatable)."),
    ] = None,
    fmt: Format = OutputFormat.table,
    json_: Json = False,
) -> None:
    """Replay scenario files: each step is a shopctl command line run as a profile.

    A step is a mapping: run (the command line), as (profile), id (keep the JSON
    result for ${id.field} references), stdin (e.g. a password), expect (exit,
    json subset, stdout / stderr text). Stops at the first step that misses its
    expectations, with exit code 9; a malformed file gives exit code 2.
    """
    from shopctl.application.replay import ReplayScenarios, parse_vars
    from shopctl.domain.errors import CheckFailed

    cli = state(ctx)
    variables = parse_vars(var or [])
    scenarios = load_scenarios(files)
    live = cli.output.interactive

    def progress(step: StepReport) -> None:
        if live:
            mark = "ok" if step.ok else "FAILED"
            cli.output.message(f"{mark:>6}  {step.source}:{step.line}  {step.title}")

    report = ReplayScenarios(InProcessRunner(cli))(scenarios, variables, on_step=progress)
    render(cli.output, report, output_format(fmt, json_))
    if not report.ok:
        raise CheckFailed(report.failure or "a step failed")
    cli.output.success(f"{report.passed} step(s) passed")


def report_rows(report: ReplayReport) -> list[dict[str, Any]]:
    return [
        {
            "step": f"{Path(step.source).name}:{step.line}"
            if step.line
            else f"{Path(step.source).name}#{step.number}",
            "as": step.profile or "",
            "command": step.title,
            "exit": step.exit_code,
            "result": "ok" if step.ok else "FAILED",
            "ms": step.duration_ms,
        }
        for step in report.steps
    ]


def render(output: Output, report: ReplayReport, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        output.json(
            {
                "ok": report.ok,
                "passed": report.passed,
                "failed": len(report.steps) - report.passed,
                "failure": report.failure,
                "steps": report.steps,
            }
        )
    else:
        output.rows(report_rows(report), REPORT_COLUMNS, fmt, all_columns=False)
