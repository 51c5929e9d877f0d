"""Row parsing and validation of catalog files: domain rules per column, and the readers."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from shopctl.application.catalog import CatalogRecord, RowError, SourceRow
from shopctl.domain.catalog import CatalogRow, parse_catalog_row
from shopctl.domain.errors import InvalidInput
from shopctl.infrastructure.catalog_files import (
    CatalogFormat,
    CatalogReader,
    ErrorsFile,
    format_for,
    write_catalog,
)

GOOD = {"sku": "MUG-1", "name": "Mug", "price": "9.90", "description": "Big", "stock": "5",
        "active": "true"}  # fmt: skip


def read(data: bytes, fmt: CatalogFormat = CatalogFormat.csv) -> list[SourceRow]:
    return list(CatalogReader(io.BytesIO(data), fmt))


# -- the domain rules, one column at a time --------------------------------------------------


def test_a_full_row() -> None:
    row = parse_catalog_row(2, GOOD)
    assert row == CatalogRow(2, "MUG-1", "Mug", Decimal("9.90"), "Big", 5, True)


def test_columns_left_out_or_empty_are_not_given() -> None:
    assert parse_catalog_row(3, {"sku": "MUG-1", "name": "", "stock": ""}) == CatalogRow(3, "MUG-1")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("sku", "", "sku is required"),
        ("sku", "bad sku", "invalid SKU"),
        ("sku", "x" * 65, "invalid SKU"),
        ("name", "   ", "name must be"),
        ("name", "n" * 201, "name must be"),
        ("price", "-1", "0.00 or more"),
        ("price", "1.999", "more than 2 decimal places"),
        ("price", "ten", "not a number"),
        ("price", "NaN", "not a number"),
        ("description", "d" * 5001, "description must be"),
        ("stock", "-1", "whole number"),
        ("stock", "1.5", "whole number"),
        ("stock", "x", "whole number"),
        ("stock", "\u00b2", "whole number"),  # a digit that int() refuses
        ("stock", "9999999999", "at most"),
        ("active", "maybe", "true or false"),
    ],
)
def test_every_column_invalid_in_turn(column: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_catalog_row(2, {**GOOD, column: value})


@pytest.mark.parametrize(("text", "value"), [("yes", True), ("0", False), ("FALSE", False)])
def test_active_words(text: str, value: bool) -> None:
    assert parse_catalog_row(2, {"sku": "A", "active": text}).active is value


def test_json_values() -> None:
    row = parse_catalog_row(
        1, {"sku": "A", "price": Decimal("2.5"), "stock": 3, "active": False, "name": "A"}
    )
    assert (row.price, row.stock, row.active) == (Decimal("2.50"), 3, False)
    with pytest.raises(InvalidInput, match="whole number"):
        parse_catalog_row(1, {"sku": "A", "stock": True})
    with pytest.raises(InvalidInput, match="text"):
        parse_catalog_row(1, {"sku": "A", "name": 5})
    with pytest.raises(InvalidInput, match="unknown column"):
        parse_catalog_row(1, {"sku": "A", "colour": "red"})


def test_new_sku_needs_name_and_price() -> None:
    with pytest.raises(InvalidInput, match="needs name and price"):
        CatalogRow(2, "A").check_against(None)
    with pytest.raises(InvalidInput, match="needs price"):
        CatalogRow(2, "A", name="A").check_against(None)
    CatalogRow(2, "A").check_against(0)  # existing: fields not given stay


def test_stock_below_reserved_is_refused() -> None:
    with pytest.raises(InvalidInput, match="below the 4 units reserved"):
        CatalogRow(2, "A", stock=3).check_against(4)
    CatalogRow(2, "A", stock=4).check_against(4)


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_with_bom_crlf_quotes_and_trailing_empty_lines() -> None:
    data = (
        b'\xef\xbb\xbfsku,name,price\r\nA-1,"Apron, blue",1.00\r\n'
        b'B-2,"The ""best"" bag",2\r\n\r\n\r\n'
    )
    rows = read(data)
    assert [(r.line, r.fields, r.error) for r in rows] == [
        (2, {"sku": "A-1", "name": "Apron, blue", "price": "1.00"}, None),
        (3, {"sku": "B-2", "name": 'The "best" bag', "price": "2"}, None),
    ]


def test_csv_multi_line_field_keeps_physical_line_numbers() -> None:
    rows = read(b'sku,description\nA,"two\nlines"\nB,x\n')
    assert [(r.line, r.fields["sku"]) for r in rows] == [(2, "A"), (4, "B")]
    assert rows[0].fields["description"] == "two\nlines"


def test_csv_non_utf8_line_is_a_row_error_naming_the_line() -> None:
    rows = read(b"sku,name\nA,ok\nB,caf\xe9\nC,fine\n")
    assert [(r.line, r.error) for r in rows] == [
        (2, None),
        (3, "line 3 is not valid UTF-8"),
        (4, None),
    ]


def test_csv_wrong_field_count_and_bad_quoting_are_row_errors() -> None:
    rows = read(b'sku,name\nA,x,extra\nB\nC,"unterminated\n')
    assert [(r.line, r.error) for r in rows] == [
        (2, "expected 2 fields, got 3"),
        (3, "expected 2 fields, got 1"),
        (4, "malformed CSV: unexpected end of data"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"sku,colour,size\nA,red,L\n", "unknown column.*colour, size"),
        (b"name,price\nA,1\n", "no sku column"),
        (b"sku,sku\nA,A\n", "twice"),
    ],
)
def test_csv_header_problems_are_file_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read(data)


# -- JSON Lines and JSON ---------------------------------------------------------------------


def test_jsonl_rows_blank_lines_and_errors() -> None:
    data = b'{"sku": "A", "price": 1.5}\n\n[1]\n{bad\n\xff\n{"sku": "B"}\n'
    rows = read(data, CatalogFormat.jsonl)
    assert [(r.line, r.error is None) for r in rows] == [
        (1, True),
        (3, False),
        (4, False),
        (5, False),
        (6, True),
    ]
    assert rows[0].fields == {"sku": "A", "price": Decimal("1.5")}
    assert rows[1].error == "expected a JSON object, got list"
    assert rows[3].error == "line 5 is not valid UTF-8"


def test_json_array_is_streamed_with_line_numbers() -> None:
    data = b'\xef\xbb\xbf[\n  {"sku": "A",\n   "name": "x"},\n  {"sku": "B"}, 7\n]\n'
    rows = read(data, CatalogFormat.json)
    assert [(r.line, r.fields.get("sku"), r.error) for r in rows] == [
        (2, "A", None),
        (4, "B", None),
        (4, None, "expected a JSON object, got int"),
    ]
    assert read(b"[]", CatalogFormat.json) == []


def test_json_elements_larger_than_a_read_chunk() -> None:
    big = "d" * 200_000
    data = f'[{{"sku": "A", "description": "{big}"}}, {{"sku": "B"}}]'.encode()
    rows = read(data, CatalogFormat.json)
    assert [len(str(r.fields.get("description", ""))) for r in rows] == [200_000, 0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"sku": "A"}', "must be an array"),
        (b'[{"sku": "A"} {"sku": "B"}]', "line 1: expected ','"),
        (b'[\n{"sku": "A"},\n{"sku": \n', "line 3: not valid JSON"),
        (b'[{"sku": "caf\xe9"}]', "line 1 is not valid UTF-8"),
    ],
)
def test_malformed_json_is_a_file_error(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read(data, CatalogFormat.json)


# -- formats, errors file, export -------------------------------------------------------------


def test_format_from_extension() -> None:
    assert format_for("a.CSV", None) is CatalogFormat.csv
    assert format_for("a.ndjson", None) is CatalogFormat.jsonl
    assert format_for("-", None) is CatalogFormat.csv
    assert format_for("a.txt", CatalogFormat.json) is CatalogFormat.json
    with pytest.raises(InvalidInput, match="--input-format"):
        format_for("catalog.txt", None)


def test_errors_file_keeps_the_original_columns() -> None:
    reader = CatalogReader(io.BytesIO(b"name,sku\nx,A\n"), CatalogFormat.csv)
    rows = list(reader)
    out = io.StringIO()
    ErrorsFile(out, reader)(RowError(2, "A", "a new SKU needs price"), rows[0])
    assert out.getvalue() == "name,sku,error\nx,A,line 2: a new SKU needs price\n"


RECORDS = [
    CatalogRecord("A-1", 'Apron, "blue"', Decimal("1.00"), "two\nlines", 3, True),
    CatalogRecord("B-2", "Bag", Decimal("0.50"), "", 0, False),
]


@pytest.mark.parametrize("fmt", list(CatalogFormat))
def test_export_reads_back_as_the_same_rows(fmt: CatalogFormat) -> None:
    out = io.StringIO()
    assert write_catalog(iter(RECORDS), out, fmt) == 2
    rows = read(out.getvalue().encode(), fmt)
    parsed = [parse_catalog_row(r.line, r.fields) for r in rows]
    assert [(p.sku, p.name, p.price, p.description, p.stock, p.active) for p in parsed] == [
        ("A-1", 'Apron, "blue"', Decimal("1.00"), "two\nlines", 3, True),
        ("B-2", "Bag", Decimal("0.50"), None, 0, False),
    ]
