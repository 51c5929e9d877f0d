import importlib
import io
import json
import pkgutil
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

import shopctl.cli
from shopctl.cli.output import Columns, Output, OutputFormat, plain


@dataclass(frozen=True)
class Row:
    sku: str
    price: Decimal
    active: bool
    created_at: datetime


ROWS = [
    Row("A-1", Decimal("9.90"), True, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    Row(
        "B,2",
        Decimal("0.00"),
        False,
        datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    ),
]


COLUMNS = Columns.of(Row, ("sku", "price"))


def render(fmt: OutputFormat, *, terminal: bool = True) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    Output(out, err, terminal=terminal).rows(ROWS, COLUMNS, fmt)
    return out.getvalue(), err.getvalue()


def test_json_money_as_strings_and_utc_timestamps() -> None:
    data = json.loads(render(OutputFormat.json)[0])
    assert data[0] == {
        "sku": "A-1",
        "price": "9.90",
        "active": True,
        "created_at": "2026-01-02T03:04:05Z",
    }
    assert data[1]["created_at"] == "2026-01-02T03:04:05Z"


def test_csv_has_header_and_quotes() -> None:
    lines = render(OutputFormat.csv)[0].splitlines()
    assert lines[0] == "sku,price,active,created_at"
    assert lines[2].startswith('"B,2",0.00,no,')
    assert len(lines) == 3


def test_table_shows_selected_columns() -> None:
    text = render(OutputFormat.table)[0]
    assert "A-1" in text and "9.90" in text
    assert "created_at" not in text


def test_empty_list_says_so_on_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    Output(out, err, terminal=True).rows([], COLUMNS, OutputFormat.table, empty="no products")
    assert out.getvalue() == ""
    assert err.getvalue().strip() == "no products"
    Output(out, err).rows([], COLUMNS, OutputFormat.json)
    assert json.loads(out.getvalue()) == []


def test_off_a_terminal_a_table_is_tab_separated_under_a_header_and_never_wrapped() -> None:
    long_name = "A very long product name that a terminal table would fold, 60c"
    rows = [{"sku": "A-1", "name": long_name, "note": "tab\there\nand a \\ backslash"}]
    out, err = io.StringIO(), io.StringIO()
    Output(out, err, terminal=False).rows(
        rows, Columns(("sku", "name", "note")), OutputFormat.table
    )
    assert out.getvalue().splitlines() == [
        "sku\tname\tnote",
        f"A-1\t{long_name}\ttab\\there\\nand a \\\\ backslash",
    ]
    assert "\x1b" not in out.getvalue() and err.getvalue() == ""


def test_off_a_terminal_an_empty_table_still_has_its_header() -> None:
    out, err = io.StringIO(), io.StringIO()
    Output(out, err, terminal=False).rows([], COLUMNS, OutputFormat.table, empty="no products")
    assert out.getvalue() == "sku\tprice\n" and err.getvalue() == "no products\n"


def test_off_a_terminal_a_record_is_field_tab_value_lines() -> None:
    out = io.StringIO()
    Output(out, io.StringIO(), terminal=False).record(ROWS[0], OutputFormat.table, title="A-1")
    assert out.getvalue().splitlines() == [
        "sku\tA-1",
        "price\t9.90",
        "active\tyes",
        "created_at\t2026-01-02T03:04:05Z",
    ]


def test_the_terminal_is_asked_when_not_told() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Output(Tty(), io.StringIO()).terminal is True
    assert Output(io.StringIO(), io.StringIO()).terminal is False


def declared_columns() -> list[tuple[str, Columns]]:
    """Every ``Columns`` a command module of shopctl.cli declares."""
    found = []
    for module_info in pkgutil.iter_modules(shopctl.cli.__path__):
        module = importlib.import_module(f"shopctl.cli.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Columns) and value.__class__ is Columns:
                found.append((f"{module_info.name}.{name}", value))
    return found


def test_the_commands_declare_their_columns() -> None:
    names = {name for name, _ in declared_columns()}
    assert {"products.LIST_COLUMNS", "orders.LIST_COLUMNS", "users.LIST_COLUMNS"} <= names


@pytest.mark.parametrize(("name", "columns"), declared_columns())
@pytest.mark.parametrize("fmt", [OutputFormat.csv, OutputFormat.table])
def test_a_list_has_the_same_header_with_no_rows_and_with_rows(
    name: str, columns: Columns, fmt: OutputFormat
) -> None:
    def header(rows: list[dict[str, object]]) -> str:
        out = io.StringIO()
        Output(out, io.StringIO(), terminal=False).rows(rows, columns, fmt)
        return out.getvalue().splitlines()[0]

    # a row whose keys come in another order than the declaration, and with one more
    row: dict[str, object] = {f: f"value of {f}" for f in reversed(columns.fields)} | {"extra": 1}
    assert header([]) == header([row]) == header([row, row]), name


def test_plain_nested() -> None:
    assert plain({"a": [Decimal("1.50")]}) == {"a": ["1.50"]}


def selected(text: str, fmt: OutputFormat, rows: list[Row] | None = None) -> str:
    out = io.StringIO()
    output = Output(out, io.StringIO(), terminal=False)
    output.pick_fields(text)
    output.rows(ROWS if rows is None else rows, COLUMNS, fmt)
    return out.getvalue()


def test_fields_pick_and_order_the_columns_of_every_format() -> None:
    assert selected("price,sku", OutputFormat.table).splitlines() == [
        "price\tsku",
        "9.90\tA-1",
        "0.00\tB,2",
    ]
    assert selected("created_at,sku", OutputFormat.csv).splitlines()[0] == "created_at,sku"
    assert json.loads(selected("active,sku", OutputFormat.json)) == [
        {"active": True, "sku": "A-1"},
        {"active": False, "sku": "B,2"},
    ]
    # a field the table does not show by default is there to pick
    assert selected("active", OutputFormat.table, []).splitlines() == ["active"]


def test_fields_pick_a_record_and_an_object() -> None:
    out = io.StringIO()
    output = Output(out, io.StringIO(), terminal=False)
    output.pick_fields("price,sku")
    output.record(ROWS[0], OutputFormat.table)
    output.json({"sku": "A-1", "price": "9.90", "name": "x"})
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["price\t9.90", "sku\tA-1"]
    assert json.loads("\n".join(lines[2:])) == {"price": "9.90", "sku": "A-1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sku,nope", "unknown field nope for --fields; valid: sku, price, active, created_at"),
        ("a,b", "unknown fields a, b for --fields"),
        ("sku,,price", "give field names separated by commas"),
        ("sku,sku", "--fields names sku more than once"),
    ],
)
def test_bad_fields_are_invalid_input_that_lists_the_valid_ones(text: str, message: str) -> None:
    from shopctl.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match=re.escape(message)):
        selected(text, OutputFormat.csv)
