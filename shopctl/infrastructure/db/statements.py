"""Statement texts as the server takes them, and parameters as the text it reads.

``Sql`` sends shopctl's fixed statement texts through libpq directly (psycopg's ``pgconn``):
each text's ``%(name)s`` placeholders become ``$1, $2, …`` once per process, and each value
is sent in PostgreSQL's text input format, its type given by the statement (a column, or a
cast such as ``%(ids)s::bigint[]``), as ``psql`` and ``pgbench -M prepared`` send theirs.
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections import namedtuple
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%s")
_numbers = itertools.count(1)


class Statement:
    """One statement text: what the server parses (``text``), the parameter names in ``$n``
    order, and a number that names it when it is prepared on a connection."""

    __slots__ = ("names", "number", "query", "row", "text")

    def __init__(self, query: str) -> None:
        names: list[str] = []

        def placeholder(match: re.Match[str]) -> str:
            if match.group(0) == "%%":
                return "%"
            name = match.group(1)
            if name is None:
                raise ValueError(f"parameters are named (%(name)s), not positional: {query!r}")
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.query = query
        self.text = _PLACEHOLDER.sub(placeholder, query).encode()
        self.names = tuple(names)
        self.number = next(_numbers)
        self.row: Any = None  # the named tuple of its rows, made from its first result


_STATEMENTS: dict[str, Statement] = {}


def compiled(query: str) -> Statement:
    """The ``Statement`` of ``query``, made once per process."""
    statement = _STATEMENTS.get(query)
    if statement is None:
        statement = _STATEMENTS.setdefault(query, Statement(query))
    return statement


def row_type(names: list[str]) -> Any:
    """A named tuple with a field per column (a name that is no identifier is made one)."""
    fields = []
    for name in names:
        field = re.sub(r"\W", "_", name)
        if not field or not (field[0].isalpha()) or keyword.iskeyword(field):
            field = "f" + field
        fields.append(field)
    return namedtuple("Row", fields, rename=True)


def encode(value: Any, encoding: str) -> bytes | None:
    """``value`` in PostgreSQL's text input format (None: SQL NULL)."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return b"%d" % value
    if kind is bool:
        return b"t" if value else b"f"
    return text(value).encode(encoding)


def text(value: Any) -> str:
    kind = type(value)  # the exact types the checkout sends, first; subclasses below
    if kind is str:
        return _str(value)
    if kind is int:
        return int.__repr__(value)
    if kind is Decimal:
        return str(value)
    if kind is list or kind is tuple:
        return _array(value)
    if kind is datetime:
        return datetime.isoformat(value)
    if isinstance(value, str):
        return _str(value)  # a str subclass (an enum's value) as its plain text
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, Decimal | float):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, list | tuple):
        return _array(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    raise TypeError(f"shopctl sends no {type(value).__name__} to the database")


def _str(value: str) -> str:
    if "\x00" in value:
        import psycopg

        raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return str.__str__(value)


def _array(values: list[Any] | tuple[Any, ...]) -> str:
    """An array literal: ``{1,2}``, ``{"a \\"b\\"",NULL}``."""
    items = []
    for item in values:
        kind = type(item)
        if item is None:
            items.append("NULL")
        elif kind is int:
            items.append(int.__repr__(item))
        elif kind is Decimal:  # digits, sign, point, exponent, NaN: nothing to quote
            items.append(str(item))
        elif isinstance(item, list | tuple):
            items.append(_array(item))
        else:
            quoted = text(item).replace("\\", "\\\\").replace('"', '\\"')
            items.append(f'"{quoted}"')
    return "{" + ",".join(items) + "}"
