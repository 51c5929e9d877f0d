"""``shopctl replay``: run scenario files of shopctl command lines, in this process."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, Output, OutputFormat

if TYPE_CHECKING:  # the replay machinery loads when a replay runs, not for every command
    from shopctl.replay.scenarios import ReplayReport, Scenario, StepReport

REPORT_COLUMNS = Columns(("step", "as", "command", "exit", "result", "ms"))


def load_scenarios(files: Sequence[str], output: Output) -> list[Scenario]:
    from shopctl.domain.errors import InvalidInput
    from shopctl.replay.scenarios import parse_scenario

    scenarios = []
    for name in files:
        try:
            if name == "-":
                output.reading_stdin("a scenario (YAML or JSON)")
                text = sys.stdin.read()
            else:
                text = Path(name).read_text(encoding="utf-8")
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
    """A step is a mapping: run (the command line), as (profile), id (keep the JSON
    result for ${id.field} references), stdin (e.g. a password), expect (exit,
    json subset, stdout / stderr text). Stops at the first step that misses its
    expectations, with exit code 9; a malformed file gives exit code 2.
    """
    from shopctl.cli.runner import InProcessRunner
    from shopctl.domain.errors import CheckFailed
    from shopctl.replay.scenarios import ReplayScenarios, parse_vars

    cli = state(ctx)
    variables = parse_vars(var or [])
    scenarios = load_scenarios(files, cli.output)
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
        output.rows(report_rows(report), REPORT_COLUMNS, fmt)
