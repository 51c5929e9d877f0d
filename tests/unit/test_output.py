import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from shopctl.cli.output import Output, OutputFormat, plain


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


def render(fmt: OutputFormat) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    Output(out, err).rows(ROWS, ["sku", "price"], fmt)
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
    Output(out, err).rows([], ["sku"], OutputFormat.table, empty="no products")
    assert out.getvalue() == ""
    assert err.getvalue().strip() == "no products"
    Output(out, err).rows([], ["sku"], OutputFormat.json)
    assert json.loads(out.getvalue()) == []


def test_plain_nested() -> None:
    assert plain({"a": [Decimal("1.50")]}) == {"a": ["1.50"]}
