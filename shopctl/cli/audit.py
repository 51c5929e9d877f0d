"""``shopctl audit``: check the whole database against the shop's invariants."""

from __future__ import annotations

import typer

from shopctl.application.audit import Violation
from shopctl.cli.context import output_format, state
from shopctl.cli.options import Format, Json
from shopctl.cli.output import Columns, OutputFormat

COLUMNS = Columns.of(Violation)


def audit(ctx: typer.Context, fmt: Format = OutputFormat.table, json_: Json = False) -> None:
    """Exit 9 when any is broken."""
    from shopctl.domain.errors import CheckFailed

    cli = state(ctx)
    report = cli.shop.run_audit()(cli.principal())
    fmt = output_format(fmt, json_)
    if fmt is OutputFormat.json:
        cli.output.json(report)
    else:
        cli.output.rows(report.violations, COLUMNS, fmt, empty="no violations")
    if not report.ok:
        raise CheckFailed(
            f"{len(report.violations)} invariant violation(s) in {len(report.checks)} checks"
        )
    cli.output.success(f"all {len(report.checks)} checks passed")
