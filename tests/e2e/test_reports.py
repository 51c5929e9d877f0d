"""e2e: ``shopctl report`` and ``order export`` on a shop whose orders were placed, paid and
refunded through the CLI, in every format."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Shopctl, stdout_at_a_terminal

FIGURES = {"orders", "units", "gross", "refunds", "net", "average_order_value"}


def buy(shopctl: Shopctl, customer: str, sku: str, quantity: int) -> int:
    assert shopctl("cart", "add", sku, "--quantity", str(quantity), profile=customer).exit_code == 0
    order_id = int(shopctl("order", "place", "--json", profile=customer).json()["id"])
    assert shopctl("pay", "order", str(order_id), profile=customer).exit_code == 0
    return order_id


@pytest.fixture
def shop(shopctl: Shopctl, admin: str, customer: str) -> dict[str, Any]:
    """TEA-1 (4.50, 10 in stock) and MUG-1 (12.00, 3): two paid orders, one refunded."""
    for sku, price, stock in (("TEA-1", "4.50", "10"), ("MUG-1", "12.00", "3")):
        created = shopctl("products", "create", "--sku", sku, "--name", sku.title(), "--price",
                          price, "--stock", stock, profile=admin)  # fmt: skip
        assert created.exit_code == 0, created
    kept = buy(shopctl, customer, "TEA-1", 4)  # 18.00
    refunded = buy(shopctl, customer, "MUG-1", 1)  # 12.00, then cancelled: refunded
    assert shopctl("order", "cancel", str(refunded), profile=admin).exit_code == 0
    return {"today": datetime.now(UTC).date().isoformat(), "kept": kept, "refunded": refunded}


def test_sales_in_every_format(shopctl: Shopctl, admin: str, shop: dict[str, Any]) -> None:
    report = shopctl("report", "sales", "--json", profile=admin).json()
    assert report["by"] == "day" and report["until"] == shop["today"] and len(report["rows"]) == 30
    today = report["rows"][-1]
    assert today == {"period": shop["today"], "orders": 2, "units": 5, "gross": "30.00",
                     "refunds": "12.00", "net": "18.00", "average_order_value": "15.00"}  # fmt: skip
    assert report["totals"] == {key: value for key, value in today.items() if key in FIGURES}
    assert all(row["orders"] == 0 for row in report["rows"][:-1])  # no gaps: zero rows
    table = shopctl("report", "sales", profile=admin).stdout.splitlines()
    assert table[0] == "period\torders\tunits\tgross\trefunds\tnet\taverage_order_value"
    assert table[-1] == "total\t2\t5\t30.00\t12.00\t18.00\t15.00" and len(table) == 32
    assert "█" not in "".join(table)  # no chart off a terminal
    rows = list(csv.DictReader(io.StringIO(
        shopctl("report", "sales", "--format", "csv", "--by", "month", profile=admin).stdout
    )))  # fmt: skip
    assert rows[-1]["net"] == "18.00" and rows[-1]["period"].endswith("-01")  # no totals row
    by_product = shopctl("report", "sales", "--by", "product", "--json", profile=admin).json()
    assert [(r["sku"], r["net"]) for r in by_product["rows"]] == [("MUG-1", "0.00"),
                                                                ("TEA-1", "18.00")]  # fmt: skip
    assert by_product["totals"]["orders"] == 2


def test_sales_options_and_who_may_see_them(
    shopctl: Shopctl, admin: str, customer: str, shop: dict[str, Any]
) -> None:
    window = shopctl("report", "sales", "--since", "2026-01-05", "--until", "2026-01-18",
                     "--by", "week", "--json", profile=admin).json()  # fmt: skip
    assert [row["period"] for row in window["rows"]] == ["2026-01-05", "2026-01-12"]
    bad = shopctl("report", "sales", "--since", "yesterday", profile=admin)
    assert bad.exit_code == 2 and "use YYYY-MM-DD (UTC)" in bad.stderr
    backwards = shopctl("report", "sales", "--since", "2026-02-02", "--until", "2026-02-01",
                        profile=admin)  # fmt: skip
    assert backwards.exit_code == 2 and "is before --since" in backwards.stderr
    assert shopctl("report", "sales", profile=customer).exit_code == 4


def test_top_products_and_its_chart(shopctl: Shopctl, admin: str, shop: dict[str, Any]) -> None:
    top = shopctl("report", "top-products", "--json", profile=admin).json()
    assert top == {"rows": [{"sku": "TEA-1", "name": "Tea-1", "units": 4, "revenue": "18.00",
                             "stock_on_hand": 6, "available": 6}]}  # fmt: skip
    csv_out = shopctl("report", "top-products", "--by", "revenue", "--format", "csv",
                      profile=admin).stdout  # fmt: skip
    assert csv_out.splitlines() == ["sku,name,units,revenue,stock_on_hand,available",
                                    "TEA-1,Tea-1,4,18.00,6,6"]  # fmt: skip
    env = {**shopctl.env, "COLUMNS": "100"}
    code, shown = stdout_at_a_terminal(env, ["-p", admin, "report", "top-products"])
    assert code == 0 and "█".encode() in shown  # at a terminal: a bar chart under the table
    code, plain = stdout_at_a_terminal(env, ["-p", admin, "report", "top-products", "--no-chart"])
    assert code == 0 and b"TEA-1" in plain and "█".encode() not in plain


def test_low_stock_and_fail_if_any(shopctl: Shopctl, admin: str, shop: dict[str, Any]) -> None:
    low = shopctl("report", "low-stock", "--json", profile=admin).json()
    # MUG-1 is back to 3 (its order was refunded and restocked): below 5
    assert [(row["sku"], row["available"], row["days_left"]) for row in low["rows"]] == [
        ("MUG-1", 3, None)
    ]
    table = shopctl("report", "low-stock", profile=admin)
    assert table.exit_code == 0 and table.stdout.splitlines()[1].startswith("MUG-1\t")
    failing = shopctl("report", "low-stock", "--fail-if-any", profile=admin)
    assert failing.exit_code == 9 and "1 product(s) low on stock" in failing.stderr
    none = shopctl("report", "low-stock", "--below", "1", "--days", "0", "--fail-if-any",
                   "--format", "csv", profile=admin)  # fmt: skip
    assert none.exit_code == 0 and none.stdout == "sku,name,available,daily_rate,days_left\n"


def test_order_export_in_every_format(
    shopctl: Shopctl, admin: str, shop: dict[str, Any], tmp_path: Path
) -> None:
    exported = shopctl("order", "export", profile=admin)
    orders = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(int(o["id"]), o["status"], o["total"], o["units"]) for o in orders] == [
        (shop["kept"], "paid", "18.00", "4"), (shop["refunded"], "cancelled", "12.00", "1"),
    ]  # fmt: skip
    assert "exported 2 order(s)" in exported.stderr
    lines = shopctl("order", "export", "--lines", "--output-format", "jsonl", "--status", "paid",
                    profile=admin).stdout.splitlines()  # fmt: skip
    assert [json.loads(line)["sku"] for line in lines] == ["TEA-1"]
    target = tmp_path / "orders.json"
    written = shopctl("order", "export", "--output-format", "json", "--output-file", str(target),
                      "--since", shop["today"], "--until", shop["today"], profile=admin)  # fmt: skip
    assert written.exit_code == 0 and written.stdout == ""
    assert [o["email"] for o in json.loads(target.read_text())] == ["alice@example.com"] * 2
    none = shopctl("order", "export", "--until", "2000-01-01", "--output-format", "json",
                   profile=admin)  # fmt: skip
    assert json.loads(none.stdout) == []


def test_fields_pick_the_rows_of_a_report(
    shopctl: Shopctl, admin: str, shop: dict[str, Any]
) -> None:
    picked = shopctl("report", "sales", "--json", "--fields", "period,net", profile=admin).json()
    assert picked["rows"][-1] == {"period": shop["today"], "net": "18.00"}
    assert picked["totals"] == {"net": "18.00"} and picked["by"] == "day"
    table = shopctl("report", "top-products", "--fields", "units,sku", profile=admin)
    assert table.stdout.splitlines() == ["units\tsku", "4\tTEA-1"]
    unknown = shopctl("report", "low-stock", "--json", "--fields", "colour", profile=admin)
    assert unknown.exit_code == 2 and "valid: sku, name, available" in unknown.stderr
