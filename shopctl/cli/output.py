"""All terminal output. Data goes to stdout (table, JSON or CSV); messages go to stderr.

Tables and messages show text through ``for_terminal`` (no control character reaches the
terminal raw) and are never read as Rich markup; JSON and CSV carry the text as stored.
A table is drawn for a terminal only: sent to a pipe or a file, it is tab-separated lines
under a header line, never wrapped, truncated or coloured (what ``cut`` and ``awk`` read).
Each list command declares its columns once (``Columns``): CSV's header and a piped table's
come from it, the same with zero rows as with many.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
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
    if isinstance(value, date):  # a day (a report's period): ISO, no time
        return value.isoformat()
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
# A piped table's cell: one line, no tab inside it (a backslash is doubled, so it stays
# readable back).
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})


class Columns:
    """A list command's one declaration of its columns.

    ``fields``: every field of a row, in order: the CSV header, whatever the row count (JSON
    carries the same keys). ``shown``: the table's columns, a subset in table order (None:
    all of them). ``labels``: shorter headers for a terminal's table. ``no_wrap``: columns a
    terminal's table never folds (identifiers such as a SKU). A plain class, not a
    dataclass: this module loads with every command, and making a dataclass costs 1 ms."""

    __slots__ = ("fields", "labels", "no_wrap", "shown")

    def __init__(
        self,
        fields: Sequence[str],
        shown: Sequence[str] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        no_wrap: Sequence[str] = (),
    ) -> None:
        self.fields = tuple(fields)
        self.shown = None if shown is None else tuple(shown)
        self.labels = dict(labels or {})
        self.no_wrap = tuple(no_wrap)
        unknown = set(self.table) - set(self.fields)
        assert not unknown, f"shown columns that are not fields: {sorted(unknown)}"

    @classmethod
    def of(
        cls,
        view: type,
        shown: Sequence[str] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        no_wrap: Sequence[str] = (),
    ) -> Columns:
        """The columns of a DTO (a dataclass): its fields, in declaration order."""
        fields = [f.name for f in dataclasses.fields(view)]
        return cls(fields, shown, labels=labels, no_wrap=no_wrap)

    @property
    def table(self) -> tuple[str, ...]:
        return self.fields if self.shown is None else self.shown

    def label(self, column: str) -> str:
        return self.labels.get(column, column)


def _text(value: str) -> Any:
    """A table cell: shown safely, and taken as text, not Rich markup ("[red]" stays)."""
    from rich.text import Text

    return Text(for_terminal(value))


def _only(rows: list[dict[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Each row with ``fields`` only, in that order (--fields)."""
    return [{name: row.get(name) for name in fields} for row in rows]


def console(file: IO[str]) -> Any:
    """A Rich console on a terminal's ``file``: as wide as the terminal, or $COLUMNS; with
    NO_COLOR set (and not empty), no colour or style code at all, bold included."""
    from rich.console import Console

    return Console(file=file, color_system=None if os.environ.get("NO_COLOR") else "auto")


class Output:
    """``terminal``: whether stdout is a terminal (default: ask it); tables are drawn only there."""

    def __init__(
        self,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        *,
        quiet: bool = False,
        terminal: bool | None = None,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet
        self._terminal = terminal
        self.fields: tuple[str, ...] | None = None  # --fields: what to show, in that order

    def pick_fields(self, text: str) -> None:
        """``--fields a,b,c``: only these fields, in this order, in whatever is shown next."""
        from shopctl.domain.errors import InvalidInput

        names = tuple(name.strip() for name in text.split(","))
        if not all(names):
            raise InvalidInput(f"--fields {text!r}: give field names separated by commas")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidInput(f"--fields names {', '.join(repeated)} more than once")
        self.fields = names

    def _picked(self, valid: Sequence[str]) -> tuple[str, ...] | None:
        """The selected fields, checked against ``valid``; None: no selection."""
        if self.fields is None:
            return None
        unknown = [name for name in self.fields if name not in valid]
        if unknown:
            from shopctl.domain.errors import InvalidInput

            raise InvalidInput(
                f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                f" for --fields; valid: {', '.join(valid)}"
            )
        return self.fields

    @property
    def terminal(self) -> bool:
        """Whether stdout is a terminal: a table is drawn there, and tab-separated elsewhere."""
        if self._terminal is None:
            isatty = getattr(self.stdout, "isatty", None)
            self._terminal = bool(isatty and isatty())
        return self._terminal

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
        from rich.progress import Progress

        with Progress(console=console(self.stderr), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda amount: bar.advance(task, amount)

    def error(self, text: str, hint: str | None = None) -> None:
        line = f"error: {text}"
        if hint:
            line += f" (hint: {hint})"
        self.stderr.write(f"{for_terminal(line)}\n")

    # -- data (stdout) --------------------------------------------------------------------

    def json(self, data: Any) -> None:
        """``data`` as JSON; ``--fields`` picks an object's keys, or each listed object's."""
        data = plain(data)
        self._write_json(data if self.fields is None else self._pick_json(data))

    def report_json(
        self,
        head: Mapping[str, Any],
        rows: Iterable[Any],
        columns: Columns,
        totals: Mapping[str, Any] | None = None,
    ) -> None:
        """A report as JSON: ``head``'s keys, ``rows`` under "rows", then ``totals`` if any.
        ``--fields`` picks the rows' fields (from ``columns``), as it picks a table's
        columns, and the same ones of the totals."""
        picked = self._picked(columns.fields)
        data = [plain(row) for row in rows]
        total = None if totals is None else plain(dict(totals))
        if picked is not None:
            data = _only(data, picked)
            if total is not None:
                total = {name: total[name] for name in picked if name in total}
        report = {**plain(dict(head)), "rows": data}
        if total is not None:
            report["totals"] = total
        self._write_json(report)

    def _write_json(self, data: Any) -> None:
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if not text.isascii():  # a lone surrogate (from a broken file) as its JSON escape
            text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        self.stdout.write(text + "\n")

    def _pick_json(self, data: Any) -> Any:
        """An object's selected keys, or each object's of a list (checked against the first)."""
        if isinstance(data, dict):
            picked = self._picked(list(data))
            return {name: data[name] for name in picked or ()}
        if isinstance(data, list) and data and isinstance(data[0], dict):
            picked = self._picked(list(data[0])) or ()
            return _only(data, picked)
        return data

    def record(self, item: Any, fmt: OutputFormat, *, title: str | None = None) -> None:
        """One object: a two-column table (off a terminal: ``field<TAB>value`` lines), a JSON
        object, or a one-row CSV. ``--fields`` picks and orders its fields."""
        data = plain(item)
        picked = self._picked(list(data))
        if picked is not None:
            data = {name: data[name] for name in picked}
        if fmt is OutputFormat.json:
            self.json(data)
        elif fmt is OutputFormat.csv:
            self.rows([data], Columns(tuple(data)), fmt)
        elif not self.terminal:
            for key, value in data.items():
                self._tsv_line((key, cell(value)))
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
        columns: Columns,
        fmt: OutputFormat,
        *,
        empty: str = "nothing to show",
    ) -> None:
        """Many objects: JSON carries every field; CSV ``columns.fields`` under their header;
        a table ``columns.table``: drawn at a terminal, tab-separated under a header line
        elsewhere. With no rows, CSV and a piped table still print their header.
        ``--fields`` picks and orders the fields of all three, from ``columns.fields``."""
        picked = self._picked(columns.fields)
        data = [plain(item) for item in items]
        if fmt is OutputFormat.json:
            if picked is not None:
                data = _only(data, picked)
            self._write_json(data)
            return
        if fmt is OutputFormat.csv:
            writer = csv.writer(self.stdout)
            writer.writerow(picked or columns.fields)
            for row in data:
                writer.writerow([cell(row.get(name)) for name in picked or columns.fields])
            return
        shown = picked or columns.table
        if not self.terminal:
            self._tsv_line(shown)
            for row in data:
                self._tsv_line([cell(row.get(column)) for column in shown])
            if not data:
                self.message(empty)
            return
        if not data:
            self.message(empty)
            return
        table = self._table()
        for column in shown:
            numeric = isinstance(data[0].get(column), int | float) and not isinstance(
                data[0].get(column), bool
            )
            table.add_column(
                columns.label(column),
                justify="right" if numeric else "left",
                overflow="fold",
                no_wrap=column in columns.no_wrap,
            )
        for row in data:
            table.add_row(*(_text(cell(row.get(column))) for column in shown))
        self._print_table(table)

    def bar_chart(self, bars: Sequence[tuple[str, Any]]) -> None:
        """A horizontal bar per (label, number), scaled to the largest, for a terminal."""
        screen = console(self.stdout)
        values = [float(value) for _, value in bars]
        labels = [for_terminal(str(label)) for label, _ in bars]
        shown = [cell(value) for _, value in bars]
        label_width = max(len(label) for label in labels)
        value_width = max(len(text) for text in shown)
        room = max(10, screen.width - label_width - value_width - 4)
        largest = max(values) if values and max(values) > 0 else 1.0
        for label, value, text in zip(labels, values, shown, strict=True):
            length = round(room * max(value, 0.0) / largest)
            bar = "█" * length if length or not value else "▏"
            screen.print(
                f"{label:<{label_width}}  {bar}{' ' * (room - len(bar))}  {text:>{value_width}}",
                markup=False,
                highlight=False,
                style="green" if value else None,
            )

    def _tsv_line(self, values: Iterable[str]) -> None:
        line = "\t".join(for_terminal(value.translate(_TSV_ESCAPES)) for value in values)
        self.stdout.write(line + "\n")

    def _table(self, **options: Any) -> Any:
        """A Rich table; its cells are ``_text`` objects, never markup."""
        from rich import box
        from rich.table import Table

        return Table(box=box.SIMPLE_HEAD, pad_edge=False, **options)

    def _print_table(self, table: Any) -> None:
        console(self.stdout).print(table)


def open_output(path: str) -> IO[str]:
    """``path`` opened to write text (UTF-8, no newline translation); exit 2 if it cannot."""
    from shopctl.domain.errors import InvalidInput

    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise InvalidInput(f"cannot write {path}: {error.strerror}") from None
