"""All terminal output. Data goes to stdout (table, JSON or CSV); messages go to stderr.

Tables and messages show text through ``for_terminal`` (no control character reaches the
terminal raw) and are never read as Rich markup; JSON and CSV carry the text as stored.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import IO, Any

from shopctl.cli.sanitize import for_terminal


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def plain(value: Any) -> Any:
    """A JSON-ready value: money as "9.90", timestamps as ISO 8601 UTC, DTOs as dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    return value


def cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> Any:
    """A table cell: shown safely, and taken as text, not Rich markup ("[red]" stays)."""
    from rich.text import Text

    return Text(for_terminal(value))


class Output:
    def __init__(
        self, stdout: IO[str] | None = None, stderr: IO[str] | None = None, *, quiet: bool = False
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet

    # -- messages (stderr) ----------------------------------------------------------------

    @property
    def interactive(self) -> bool:
        return self.stderr.isatty()

    def message(self, text: str) -> None:
        if not self.quiet:
            self.stderr.write(f"{for_terminal(text)}\n")

    def success(self, text: str) -> None:
        self.message(f"✓ {text}" if self.interactive else text)

    def warning(self, text: str) -> None:
        self.stderr.write(f"warning: {for_terminal(text)}\n")

    def reading_stdin(self, what: str, stdin: IO[Any] | None = None) -> bool:
        """Tell a person at a terminal that the command now waits for them to type ``what``
        (a pipe or a file needs no hint); whether it is a terminal."""
        typed = (stdin or sys.stdin).isatty()
        if typed:
            self.message(f"reading {what} from standard input; end with Ctrl-D")
        return typed

    @contextmanager
    def progress(
        self, description: str, total: int | None, *, shown: bool = True
    ) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr when it is a terminal (and ``shown``: not while someone
        types the input on it); yields ``advance(amount)``."""
        if self.quiet or not self.interactive or not shown:
            yield lambda _amount: None
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(file=self.stderr), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda amount: bar.advance(task, amount)

    def error(self, text: str, hint: str | None = None) -> None:
        line = f"error: {text}"
        if hint:
            line += f" (hint: {hint})"
        self.stderr.write(f"{for_terminal(line)}\n")

    # -- data (stdout) --------------------------------------------------------------------

    def json(self, data: Any) -> None:
        text = json.dumps(plain(data), indent=2, ensure_ascii=False)
        if not text.isascii():  # a lone surrogate (from a broken file) as its JSON escape
            text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        self.stdout.write(text + "\n")

    def record(self, item: Any, fmt: OutputFormat, *, title: str | None = None) -> None:
        """One object: a two-column table, a JSON object, or a one-row CSV."""
        data = plain(item)
        if fmt is OutputFormat.json:
            self.json(data)
        elif fmt is OutputFormat.csv:
            self.rows([data], list(data), fmt)
        else:
            table = self._table(title=None if title is None else _text(title), show_header=False)
            table.add_column("field", style="bold")
            table.add_column("value", overflow="fold")
            for key, value in data.items():
                table.add_row(_text(key), _text(cell(value)))
            self._print_table(table)

    def rows(
        self,
        items: Iterable[Any],
        columns: Sequence[str],
        fmt: OutputFormat,
        *,
        all_columns: bool = True,
        empty: str = "nothing to show",
        labels: Mapping[str, str] | None = None,
        no_wrap: Sequence[str] = (),
    ) -> None:
        """Many objects: a table of ``columns``; JSON and CSV carry every field.

        ``labels`` gives short table headers (``{"stock_on_hand": "on hand"}``); ``no_wrap``
        columns are never folded (identifiers such as a SKU)."""
        data = [plain(item) for item in items]
        if fmt is OutputFormat.json:
            self.json(data)
            return
        if fmt is OutputFormat.csv:
            fields = list(data[0]) if data and all_columns else list(columns)
            writer = csv.DictWriter(self.stdout, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in data:
                writer.writerow({k: cell(v) for k, v in row.items()})
            return
        if not data:
            self.message(empty)
            return
        table = self._table()
        for column in columns:
            numeric = isinstance(data[0].get(column), int | float) and not isinstance(
                data[0].get(column), bool
            )
            table.add_column(
                (labels or {}).get(column, column),
                justify="right" if numeric else "left",
                overflow="fold",
                no_wrap=column in no_wrap,
            )
        for row in data:
            table.add_row(*(_text(cell(row.get(column))) for column in columns))
        self._print_table(table)

    def _table(self, **options: Any) -> Any:
        """A Rich table; its cells are ``_text`` objects, never markup."""
        from rich import box
        from rich.table import Table

        return Table(box=box.SIMPLE_HEAD, pad_edge=False, **options)

    def _print_table(self, table: Any) -> None:
        from rich.console import Console

        console = Console(file=self.stdout)  # 80 columns unless a terminal or $COLUMNS says
        console.print(table)
