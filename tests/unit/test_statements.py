"""Statement texts as the server takes them, and values as the text it reads (the server's
side of both is tested in tests/integration/test_checkout_fast_path.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import psycopg
import pytest

from shopctl.infrastructure.db.statements import Statement, compiled, encode, row_type


class Colour(StrEnum):
    RED = "red"


def test_named_placeholders_become_numbered_ones_in_order_of_first_use() -> None:
    statement = Statement("SELECT %(b)s, %(a)s WHERE x = %(b)s AND y LIKE 'a%%'")
    assert statement.text == b"SELECT $1, $2 WHERE x = $1 AND y LIKE 'a%'"
    assert statement.names == ("b", "a")


def test_a_statement_without_parameters_is_sent_as_written() -> None:
    assert Statement("SELECT 1").text == b"SELECT 1"
    assert Statement("SELECT 1").names == ()


def test_positional_placeholders_are_refused() -> None:
    with pytest.raises(ValueError, match="named"):
        Statement("SELECT %s")


def test_a_text_is_compiled_once() -> None:
    assert compiled("SELECT %(x)s") is compiled("SELECT %(x)s")
    assert compiled("SELECT %(x)s").number != compiled("SELECT %(y)s").number


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (None, None),
        (0, b"0"),
        (-12, b"-12"),
        (2**70, b"1180591620717411303424"),
        (True, b"t"),
        (False, b"f"),
        (Decimal("9.90"), b"9.90"),
        (Decimal("-0.00"), b"-0.00"),
        ("mug", b"mug"),
        ("", b""),
        ("ünï ☕", "ünï ☕".encode()),
        (Colour.RED, b"red"),
        (datetime(2026, 12, 6, 16, 0, 0, 5, tzinfo=UTC), b"2026-12-06T16:00:00.000005+00:00"),
        (date(2026, 1, 2), b"2026-01-02"),
        (timedelta(days=1, seconds=2, microseconds=3), b"1 days 2 seconds 3 microseconds"),
        ([], b"{}"),
        ([1, 2, None], b"{1,2,NULL}"),
        (["a", 'b "c"', "d\\e", "NULL", "", "{,}"], b'{"a","b \\"c\\"","d\\\\e","NULL","","{,}"}'),
        ([Decimal("1.50"), None], b"{1.50,NULL}"),  # numbers need no quotes
        ([True, False], b'{"t","f"}'),
        ([[1, 2], [3, 4]], b"{{1,2},{3,4}}"),
        (b"\x00\xff", b"\\x00ff"),
    ],
)
def test_values_are_sent_in_the_servers_text_format(value: object, sent: bytes | None) -> None:
    assert encode(value, "utf-8") == sent


@pytest.mark.parametrize("value", ["a\x00b", ["ok", "a\x00b"]])
def test_a_nul_in_text_is_refused_as_psycopg_refuses_it(value: object) -> None:
    with pytest.raises(psycopg.DataError, match="NUL"):
        encode(value, "utf-8")


def test_a_value_of_no_known_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="object"):
        encode(object(), "utf-8")


def test_rows_are_named_after_their_columns_made_identifiers() -> None:
    row = row_type(["id", "?column?", "1st", "class", "id"])
    assert row._fields == ("id", "f_column_", "f1st", "fclass", "_4")
    assert row._make((1, 2, 3, 4, 5)) == (1, 2, 3, 4, 5)
