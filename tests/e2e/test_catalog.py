"""e2e: catalog administration (create, update, delete, stock) and audit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from shopctl.infrastructure.db.tables import products
from tests.database import inspection_engine
from tests.e2e.conftest import Shopctl, login

WRITES = [
    ["products", "create", "--sku", "NEW-1", "--name", "New", "--price", "1.00"],
    ["products", "update", "MUG-1", "--name", "Other"],
    ["products", "delete", "MUG-1"],
    ["products", "stock", "MUG-1", "--add", "1"],
    ["products", "import", "-"],
    ["products", "export"],
    ["audit"],
]


@pytest.fixture
def mug(shopctl: Shopctl, admin: str) -> dict[str, Any]:
    created = shopctl(
        "products", "create", "--sku", "MUG-1", "--name", "Mug", "--price", "9.9",
        "--stock", "10", "--description", "Stoneware, 300 ml", "--json", profile=admin,
    )  # fmt: skip
    assert created.exit_code == 0, created
    return dict(created.json())


def test_admin_creates_and_the_product_is_listed(
    shopctl: Shopctl, admin: str, mug: dict[str, Any]
) -> None:
    assert mug["sku"] == "MUG-1" and mug["price"] == "9.90" and mug["currency"] == "USD"
    assert (mug["stock_on_hand"], mug["reserved"], mug["available"]) == (10, 0, 10)
    assert mug["description"] == "Stoneware, 300 ml" and mug["active"] is True
    assert {"id", "created_at", "updated_at"} <= set(mug)
    table = shopctl("products", "create", "--sku", "CAP-1", "--name", "Cap", "--price", "5",
                    profile=admin)  # fmt: skip
    assert table.exit_code == 0 and "CAP-1" in table.stdout and "created CAP-1" in table.stderr
    listed = shopctl("products", "list", "--format", "csv").stdout.splitlines()
    assert listed[0].startswith("id,sku,name,description,price")
    assert [line.split(",")[1] for line in listed[1:]] == ["CAP-1", "MUG-1"]
    assert [p["sku"] for p in shopctl("products", "list", "-s", "mug", "--json").json()] == [
        "MUG-1"
    ]


def test_table_output_fits_80_columns(shopctl: Shopctl, mug: dict[str, Any]) -> None:
    result = shopctl("products", "list")
    assert "MUG-1" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_update_changes_only_given_fields(
    shopctl: Shopctl, admin: str, mug: dict[str, Any]
) -> None:
    result = shopctl("products", "update", "MUG-1", "--price", "12.50", "--json", profile=admin)
    assert result.exit_code == 0, result
    assert (result.json()["price"], result.json()["name"]) == ("12.50", "Mug")
    archived = shopctl("products", "update", "MUG-1", "--inactive", "--json", profile=admin)
    assert archived.json()["active"] is False
    assert shopctl("products", "list", "--json").json() == []
    everything = shopctl("products", "list", "--include-inactive", "--json").json()
    assert [p["sku"] for p in everything] == ["MUG-1"]
    back = shopctl("products", "update", "MUG-1", "--active", "--json", profile=admin)
    assert back.json()["active"] is True


def test_stock_set_add_remove(shopctl: Shopctl, admin: str, mug: dict[str, Any]) -> None:
    added = shopctl("products", "stock", "MUG-1", "--add", "5", "--reason", "delivery",
                    "--json", profile=admin)  # fmt: skip
    assert added.exit_code == 0 and added.json()["stock_on_hand"] == 15
    assert "10 → 15 (+5)" in added.stderr
    removed = shopctl("products", "stock", "MUG-1", "--remove", "4", "--json", profile=admin)
    assert removed.json()["stock_on_hand"] == 11
    assert shopctl("products", "stock", "MUG-1", "--set", "2", "--json",
                   profile=admin).json()["available"] == 2  # fmt: skip
    too_many = shopctl("products", "stock", "MUG-1", "--remove", "3", profile=admin)
    assert too_many.exit_code == 6, too_many
    assert "only 2 available" in too_many.stderr
    assert shopctl("products", "get", "MUG-1", "--json").json()["stock_on_hand"] == 2
    for args in (["--add", "0"], ["--set", "-1"], ["--add", "1", "--remove", "1"], [],
                 ["--add", "x"]):  # fmt: skip
        bad = shopctl("products", "stock", "MUG-1", *args, profile=admin)
        assert bad.exit_code == 2, bad
        assert "Traceback" not in bad.stderr
    assert shopctl("audit", profile=admin).exit_code == 0


def test_delete_deletes_unordered_products(
    shopctl: Shopctl, admin: str, mug: dict[str, Any]
) -> None:
    deleted = shopctl("products", "delete", "MUG-1", "--json", profile=admin)
    assert deleted.exit_code == 0, deleted
    assert deleted.json() == {"sku": "MUG-1", "outcome": "deleted"}
    assert shopctl("products", "get", "MUG-1").exit_code == 5
    assert shopctl("products", "delete", "MUG-1", profile=admin).exit_code == 5


def test_delete_archives_a_sold_product(
    shopctl: Shopctl, admin: str, mug: dict[str, Any], db_url: str
) -> None:
    # A sale, through the purchase flow: an order now refers to the product.
    login(shopctl, "bob@example.com")
    assert shopctl("cart", "add", "MUG-1", profile="bob").exit_code == 0
    placed = shopctl("order", "place", "--json", profile="bob")
    assert placed.exit_code == 0, placed
    assert shopctl("pay", "order", str(placed.json()["id"]), profile="bob").exit_code == 0
    result = shopctl("products", "delete", "MUG-1", profile=admin)
    assert result.exit_code == 0, result
    assert "archived MUG-1" in result.stderr
    got = shopctl("products", "get", "MUG-1", "--json")
    assert got.exit_code == 0 and got.json()["active"] is False
    assert shopctl("products", "list", "--json").json() == []
    assert shopctl("audit", profile=admin).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--sku", "bad sku", "--name", "X", "--price", "1"],
        ["--sku", "OK-1", "--name", "", "--price", "1"],
        ["--sku", "OK-1", "--name", "X", "--price", "-1"],
        ["--sku", "OK-1", "--name", "X", "--price", "1.005"],
        ["--sku", "OK-1", "--name", "X", "--price", "ten"],
        ["--sku", "OK-1", "--name", "X", "--price", "1", "--stock", "-2"],
        ["--sku", "OK-1", "--name", "X"],
    ],
)
def test_create_validation_is_exit_2(shopctl: Shopctl, admin: str, args: list[str]) -> None:
    result = shopctl("products", "create", *args, profile=admin)
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr and "rror" in result.stderr
    assert shopctl("products", "get", "OK-1").exit_code == 5


def test_duplicate_sku_is_exit_6(shopctl: Shopctl, admin: str, mug: dict[str, Any]) -> None:
    result = shopctl("products", "create", "--sku", "MUG-1", "--name", "Again", "--price", "1",
                     profile=admin)  # fmt: skip
    assert result.exit_code == 6, result
    assert result.stderr.strip() == "error: a product with SKU 'MUG-1' already exists"


def test_update_errors(shopctl: Shopctl, admin: str, mug: dict[str, Any]) -> None:
    assert shopctl("products", "update", "NOPE", "--name", "X", profile=admin).exit_code == 5
    assert shopctl("products", "update", "MUG-1", profile=admin).exit_code == 2
    assert shopctl("products", "update", "MUG-1", "--price", "-3", profile=admin).exit_code == 2
    assert shopctl("products", "stock", "NOPE", "--add", "1", profile=admin).exit_code == 5


@pytest.mark.parametrize("args", WRITES)
def test_customer_is_refused_every_write(
    shopctl: Shopctl, customer: str, mug: dict[str, Any], args: list[str]
) -> None:
    result = shopctl(*args, profile=customer, input="sku,name,price\nX-1,X,1\n")
    assert result.exit_code == 4, result
    assert "needs an admin" in result.stderr
    after = shopctl("products", "get", "MUG-1", "--json").json()
    assert (after["name"], after["stock_on_hand"]) == ("Mug", 10)
    assert shopctl("products", "get", "X-1").exit_code == 5


@pytest.mark.parametrize("args", WRITES)
def test_no_session_is_exit_3(shopctl: Shopctl, args: list[str]) -> None:
    result = shopctl(*args, input="sku,name,price\nX-1,X,1\n")
    assert result.exit_code == 3, result
    assert "login" in result.stderr


def test_audit_fails_on_a_tampered_database(
    shopctl: Shopctl, admin: str, mug: dict[str, Any], db_url: str
) -> None:
    assert shopctl("audit", profile=admin).exit_code == 0
    engine = inspection_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            update(products).where(products.c.sku == "MUG-1").values(stock_on_hand=99)
        )
    engine.dispose()
    result = shopctl("audit", profile=admin)
    assert result.exit_code == 9, result
    assert "stock_matches_ledger" in result.stdout and "MUG-1" in result.stdout
    assert "1 invariant violation" in result.stderr
    report = shopctl("audit", "--json", profile=admin)
    assert report.exit_code == 9
    assert report.json()["ok"] is False
    assert report.json()["violations"] == [
        {
            "check": "stock_matches_ledger",
            "subject": "MUG-1",
            "detail": "stock_on_hand is 99, the ledger sums to 10",
        }
    ]
