"""Options shared by many commands, declared once."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from shopctl.cli.output import OutputFormat

Format = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format: table, json or csv.", show_default=True),
]
Json = Annotated[bool, typer.Option("--json", help="Short for --format json.")]


def parse_day(value: str | None, option: str) -> date | None:
    """A ``--since``/``--until`` day, ISO (YYYY-MM-DD); exit 2 with the format otherwise."""
    from shopctl.domain.errors import InvalidInput

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} {value!r} is not a date: use YYYY-MM-DD (UTC)") from None
