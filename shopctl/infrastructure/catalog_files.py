"""Catalog files: read CSV, JSON Lines or JSON into ``SourceRow``s, write them back.

Reading streams: one record at a time from a binary file, decoded line by line so that
a byte that is not UTF-8 becomes an error naming its line instead of ending the import.
Line numbers are physical (the CSV header is line 1; a quoted multi-line record is
reported at the line it starts on).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import IO, Any, Protocol

from shopctl.application.catalog import CatalogRecord, RowError, SourceRow
from shopctl.domain.catalog import COLUMNS, unknown_columns
from shopctl.domain.errors import InvalidInput

CHUNK = 1 << 16
MAX_JSON_ELEMENT = 16 << 20  # bytes of text one JSON array element may take


class ByteSource(Protocol):
    """A binary file, or anything that reads like one (e.g. counting bytes for a progress bar)."""

    def __iter__(self) -> Iterator[bytes]: ...

    def read(self, size: int = -1, /) -> bytes: ...


class CatalogFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    json = "json"


EXTENSIONS = {
    ".csv": CatalogFormat.csv,
    ".jsonl": CatalogFormat.jsonl,
    ".ndjson": CatalogFormat.jsonl,
    ".json": CatalogFormat.json,
}


def format_for(path: str, given: CatalogFormat | None) -> CatalogFormat:
    """The explicit format, else the file's extension; stdin (``-``) defaults to CSV."""
    if given is not None:
        return given
    if path == "-":
        return CatalogFormat.csv
    suffix = path[path.rfind(".") :].lower() if "." in path else ""
    if suffix not in EXTENSIONS:
        raise InvalidInput(
            f"cannot tell the format of {path!r} from its extension; "
            "give --input-format csv, jsonl or json"
        )
    return EXTENSIONS[suffix]


class CatalogReader:
    """Iterate over ``SourceRow``s; ``columns`` are the file's columns (for an errors file)."""

    def __init__(self, stream: ByteSource, fmt: CatalogFormat) -> None:
        self._stream = stream
        self._format = fmt
        self.columns: list[str] = list(COLUMNS)

    def __iter__(self) -> Iterator[SourceRow]:
        if self._format is CatalogFormat.csv:
            return self._csv()
        if self._format is CatalogFormat.jsonl:
            return self._jsonl()
        return self._json()

    # -- CSV --------------------------------------------------------------------------------

    def _csv(self) -> Iterator[SourceRow]:
        bad_lines: set[int] = set()
        reader = csv.reader(_decoded_lines(self._stream, bad_lines), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidInput(
                f"the file is empty: expected a header line such as {','.join(COLUMNS)}"
            ) from None
        except csv.Error as error:
            raise InvalidInput(f"line 1: malformed CSV header: {error}") from None
        if bad_lines:
            raise InvalidInput("line 1: the header is not valid UTF-8")
        header = [column.strip() for column in header]
        unknown = unknown_columns(header)
        if unknown:
            raise InvalidInput(
                f"unknown column(s): {', '.join(unknown)} (known: {', '.join(COLUMNS)})"
            )
        if "sku" not in header:
            raise InvalidInput("the header has no sku column")
        if len(set(header)) != len(header):
            raise InvalidInput(f"a column appears twice in the header: {','.join(header)}")
        self.columns = header
        width = len(header)
        start = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield SourceRow(start, {}, f"malformed CSV: {error}")
                start = reader.line_num + 1
                continue
            line, start = start, reader.line_num + 1
            if not record or (len(record) == 1 and not record[0].strip() and width > 1):
                continue  # an empty line
            fields = dict(zip(header, record, strict=False))
            if bad_lines and any(n in bad_lines for n in range(line, start)):
                bad = min(n for n in range(line, start) if n in bad_lines)
                yield SourceRow(line, fields, f"line {bad} is not valid UTF-8")
            elif len(record) != width:
                yield SourceRow(line, fields, f"expected {width} fields, got {len(record)}")
            else:
                yield SourceRow(line, fields)

    # -- JSON Lines -------------------------------------------------------------------------

    def _jsonl(self) -> Iterator[SourceRow]:
        for number, raw in enumerate(self._stream, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                yield SourceRow(number, {}, f"line {number} is not valid UTF-8")
                continue
            if not text:
                continue
            try:
                value = json.loads(text, parse_float=Decimal)
            except ValueError as error:
                yield SourceRow(number, {}, f"not valid JSON: {error}")
                continue
            yield _object_row(number, value)

    # -- JSON (one array, parsed element by element) ----------------------------------------

    def _json(self) -> Iterator[SourceRow]:
        decoder = json.JSONDecoder(parse_float=Decimal)
        text = _IncrementalText(self._stream)
        position = text.skip_space(0)
        if text.char(position) != "[":
            raise InvalidInput(
                f"line {text.line_of(position)}: a JSON file must be an array "
                "of objects (or use --input-format jsonl)"
            )
        position = text.skip_space(position + 1)
        if text.char(position) == "]":
            return
        while True:
            line = text.line_of(position)
            while True:
                try:
                    value, end = decoder.raw_decode(text.buffer, position - text.offset)
                    end += text.offset
                    break
                except json.JSONDecodeError as error:
                    if not text.read_more(limit=MAX_JSON_ELEMENT):
                        raise InvalidInput(f"line {line}: not valid JSON: {error.msg}") from None
            yield _object_row(line, value)
            position = text.skip_space(end)
            char = text.char(position)
            if char == "]":
                return
            if char != ",":
                raise InvalidInput(
                    f"line {text.line_of(position)}: expected ',' or ']' "
                    "between the array's elements"
                )
            position = text.skip_space(position + 1)
            text.forget_before(position)


def _decoded_lines(stream: Iterable[bytes], bad_lines: set[int]) -> Iterator[str]:
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines.add(number)
            yield raw.decode("utf-8", "replace")


def _object_row(line: int, value: Any) -> SourceRow:
    if not isinstance(value, dict):
        return SourceRow(line, {}, f"expected a JSON object, got {type(value).__name__}")
    return SourceRow(line, value)


class _IncrementalText:
    """A window over a decoded stream: ``buffer`` holds the text from ``offset`` on."""

    def __init__(self, stream: ByteSource) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buffer = ""
        self.offset = 0
        self._lines_before = 1  # line number at ``offset``
        self._eof = False
        self._bytes_line = 1

    def read_more(self, *, limit: int = MAX_JSON_ELEMENT) -> bool:
        if self._eof or len(self.buffer) > limit:
            return False
        chunk = self._stream.read(CHUNK)
        try:
            decoded = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            line = self._bytes_line + chunk[: error.start].count(b"\n")
            raise InvalidInput(f"line {line} is not valid UTF-8") from None
        self._bytes_line += chunk.count(b"\n")
        self.buffer += decoded
        self._eof = not chunk
        return bool(chunk) or bool(decoded)

    def char(self, position: int) -> str:
        while position - self.offset >= len(self.buffer):
            if not self.read_more(limit=1 << 62):
                return ""
        return self.buffer[position - self.offset]

    def skip_space(self, position: int) -> int:
        while self.char(position) in " \t\r\n" and self.char(position) != "":
            position += 1
        return position

    def line_of(self, position: int) -> int:
        return self._lines_before + self.buffer.count("\n", 0, position - self.offset)

    def forget_before(self, position: int) -> None:
        cut = position - self.offset
        self._lines_before += self.buffer.count("\n", 0, cut)
        self.buffer = self.buffer[cut:]
        self.offset = position


# -- writing ----------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ErrorsFile:
    """The failing rows as CSV: the original columns plus ``error``, ready to fix and re-import."""

    def __init__(self, stream: IO[str], reader: CatalogReader) -> None:
        self._stream = stream
        self._reader = reader
        self._writer: Any = None

    def __call__(self, error: RowError, source: SourceRow) -> None:
        if self._writer is None:
            columns = [*self._reader.columns, "error"]
            self._writer = csv.writer(self._stream, lineterminator="\n")
            self._writer.writerow(columns)
            self._columns = self._reader.columns
        fields = source.fields
        self._writer.writerow(
            [_cell(fields.get(column)) for column in self._columns]
            + [f"line {error.line}: {error.message}"]
        )


def write_catalog(records: Iterable[CatalogRecord], stream: IO[str], fmt: CatalogFormat) -> int:
    """Write ``records`` as they come, in the import's format; returns how many were written."""
    items = (
        {
            "sku": record.sku,
            "name": record.name,
            "price": str(record.price),
            "description": record.description,
            "stock": record.stock,
            "active": record.active,
        }
        for record in records
    )
    return write_records(items, COLUMNS, stream, fmt)


def write_records(
    items: Iterable[Mapping[str, Any]], fields: Sequence[str], stream: IO[str], fmt: CatalogFormat
) -> int:
    """Write ``items`` (JSON values: strings, numbers, booleans, None), each holding exactly
    ``fields`` in that order, as they come; returns how many were written. Memory does not
    grow with their number. In CSV a boolean is ``true``/``false`` and None an empty cell."""
    count = 0
    if fmt is CatalogFormat.csv:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(fields)
        for item in items:
            writer.writerow([_csv_value(item[name]) for name in fields])
            count += 1
        return count
    if fmt is CatalogFormat.json:
        stream.write("[")
    for item in items:
        if fmt is CatalogFormat.json:
            stream.write(",\n  " if count else "\n  ")
        stream.write(json.dumps(item, ensure_ascii=False))
        if fmt is CatalogFormat.jsonl:
            stream.write("\n")
        count += 1
    if fmt is CatalogFormat.json:
        stream.write("\n]\n" if count else "]\n")
    return count


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value
