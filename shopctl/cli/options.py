"""Options shared by many commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from shopctl.cli.output import OutputFormat

Format = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format: table, json or csv.", show_default=True),
]
Json = Annotated[bool, typer.Option("--json", help="Short for --format json.")]
