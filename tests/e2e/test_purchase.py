"""e2e: Auth → Cart → Order → Payment through the real CLI, every exit code of the purchase
flow, expiry, authorisation, and ten processes racing for the last units."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.e2e.conftest import Shopctl, login

DECLINED = "4000000000000002"
FLAKY = "4000000000000119"


def create(shopctl: Shopctl, admin: str, sku: str, stock: int, price: str = "4.50") -> None:
    made = shopctl("products", "create", "--sku", sku, "--name", sku.title(), "--price", price,
                   "--stock", str(stock), profile=admin)  # fmt: skip
    assert made.exit_code == 0, made


def product(shopctl: Shopctl, sku: str) -> dict[str, Any]:
    return dict(shopctl("products", "get", sku, "--json").json())


def place(shopctl: Shopctl, profile: str, *items: tuple[str, int]) -> dict[str, Any]:
    for sku, quantity in items:
        added = shopctl("cart", "add", sku, "--quantity", str(quantity), profile=profile)
        assert added.exit_code == 0, added
    placed = shopctl("order", "place", "--json", profile=profile)
    assert placed.exit_code == 0, placed
    return dict(placed.json())


def audit_passes(shopctl: Shopctl, admin: str) -> None:
    report = shopctl("audit", "--json", profile=admin)
    assert report.exit_code == 0, report
    assert report.json()["ok"] is True


def test_cart_order_payment_flow(shopctl: Shopctl, admin: str, customer: str) -> None:
    create(shopctl, admin, "TEA-1", 10, "4.50")
    create(shopctl, admin, "MUG-1", 3, "9.90")
    assert shopctl("cart", "add", "TEA-1", "-q", "2", profile=customer).exit_code == 0
    assert shopctl("cart", "add", "TEA-1", profile=customer).exit_code == 0  # merges to 3
    assert shopctl("cart", "add", "MUG-1", profile=customer).exit_code == 0
    assert shopctl("cart", "set", "MUG-1", "2", profile=customer).exit_code == 0
    cart = shopctl("cart", "show", "--json", profile=customer).json()
    assert cart == {
        "items": [
            {"sku": "MUG-1", "name": "Mug-1", "quantity": 2, "unit_price": "9.90",
             "line_total": "19.80"},
            {"sku": "TEA-1", "name": "Tea-1", "quantity": 3, "unit_price": "4.50",
             "line_total": "13.50"},
        ],
        "total": "33.30",
        "currency": "USD",
    }  # fmt: skip
    table = shopctl("cart", "show", profile=customer)
    assert "TEA-1" in table.stdout and "total 33.30 USD" in table.stderr
    csv = shopctl("cart", "show", "--format", "csv", profile=customer).stdout.splitlines()
    assert csv[0] == "sku,name,quantity,unit_price,line_total" and len(csv) == 3

    placed = shopctl("order", "place", "--json", profile=customer)
    assert placed.exit_code == 0, placed
    order = placed.json()
    assert order["status"] == "pending_payment" and order["total"] == "33.30"
    assert {"id", "items", "currency", "created_at", "expires_at", "paid_at"} <= set(order)
    assert "placed" in placed.stderr
    assert shopctl("cart", "show", "--json", profile=customer).json()["items"] == []
    mug = product(shopctl, "MUG-1")
    assert (mug["stock_on_hand"], mug["reserved"], mug["available"]) == (3, 2, 1)
    oid = str(order["id"])

    shown = shopctl("order", "show", oid, profile=customer)
    assert shown.exit_code == 0 and "pending_payment" in shown.stdout and "MUG-1" in shown.stdout
    listed = shopctl("order", "list", "--json", profile=customer).json()
    assert [o["id"] for o in listed] == [order["id"]]
    assert "pending_payment" in shopctl("order", "list", profile=customer).stdout
    assert shopctl("order", "list", "--status", "paid", "--json", profile=customer).json() == []

    declined = shopctl("pay", "order", oid, "--card", DECLINED, profile=customer)
    assert declined.exit_code == 7, declined
    assert "card_declined" in declined.stderr and "Traceback" not in declined.stderr
    assert shopctl("order", "show", oid, "--json", profile=customer).json()["status"] == (
        "pending_payment"
    )
    paid = shopctl("pay", "order", oid, "--json", profile=customer)
    assert paid.exit_code == 0, paid
    payment = paid.json()
    assert payment["status"] == "succeeded" and payment["amount"] == "33.30"
    assert {"id", "order_id", "currency", "decline_code", "created_at"} <= set(payment)
    again = shopctl("pay", "order", oid, profile=customer)
    assert again.exit_code == 6 and "is paid" in again.stderr
    history = shopctl("pay", "show", oid, "--json", profile=customer).json()
    assert [p["status"] for p in history] == ["declined", "succeeded"]
    assert sum(1 for p in history if p["status"] == "succeeded") == 1
    assert shopctl("pay", "show", oid, "--format", "csv", profile=customer).stdout.startswith(
        "id,order_id,status"
    )
    mug = product(shopctl, "MUG-1")
    assert (mug["stock_on_hand"], mug["reserved"]) == (1, 0)

    fulfilled = shopctl("order", "fulfill", oid, "--json", profile=admin)
    assert fulfilled.exit_code == 0 and fulfilled.json()["status"] == "fulfilled"
    refused = shopctl("order", "cancel", oid, profile=customer)
    assert refused.exit_code == 6 and "fulfilled" in refused.stderr
    assert shopctl("order", "fulfill", oid, profile=admin).exit_code == 6
    audit_passes(shopctl, admin)


def test_cancel_paid_restores_stock_and_cancel_pending_releases(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    create(shopctl, admin, "TEA-1", 5)
    paid = place(shopctl, customer, ("TEA-1", 2))
    assert shopctl("pay", "order", str(paid["id"]), profile=customer).exit_code == 0
    assert product(shopctl, "TEA-1")["stock_on_hand"] == 3
    cancelled = shopctl("order", "cancel", str(paid["id"]), "--json", profile=customer)
    assert cancelled.exit_code == 0, cancelled
    assert cancelled.json()["status"] == "cancelled"
    tea = product(shopctl, "TEA-1")
    assert (tea["stock_on_hand"], tea["reserved"]) == (5, 0)
    history = shopctl("pay", "show", str(paid["id"]), "--json", profile=customer).json()
    assert [p["status"] for p in history] == ["refunded"]

    pending = place(shopctl, customer, ("TEA-1", 4))
    assert product(shopctl, "TEA-1")["reserved"] == 4
    assert shopctl("order", "cancel", str(pending["id"]), profile=customer).exit_code == 0
    assert product(shopctl, "TEA-1")["reserved"] == 0
    again = shopctl("order", "cancel", str(pending["id"]), profile=customer)
    assert again.exit_code == 6 and "cancelled" in again.stderr
    assert shopctl("pay", "order", str(pending["id"]), profile=customer).exit_code == 6
    audit_passes(shopctl, admin)


def test_cart_and_order_errors(shopctl: Shopctl, admin: str, customer: str) -> None:
    create(shopctl, admin, "TEA-1", 2)
    assert shopctl("products", "update", "TEA-1", "--inactive", profile=admin).exit_code == 0
    create(shopctl, admin, "MUG-1", 2)
    cases = [
        (["cart", "show"], None, 3),
        (["cart", "add", "MUG-1"], None, 3),
        (["order", "place"], None, 3),
        (["pay", "order", "1"], None, 3),
        (["cart", "add", "NOPE"], customer, 5),
        (["cart", "add", "TEA-1"], customer, 6),  # archived
        (["cart", "add", "MUG-1", "-q", "3"], customer, 6),  # more than available
        (["cart", "add", "MUG-1", "-q", "0"], customer, 2),
        (["cart", "add", "MUG-1", "-q", "x"], customer, 2),
        (["cart", "set", "MUG-1", "1000"], customer, 2),
        (["cart", "remove", "MUG-1"], customer, 5),
        (["order", "place"], customer, 6),  # empty cart
        (["order", "show", "999"], customer, 5),
        (["order", "show", "abc"], customer, 2),
        (["order", "cancel", "999"], customer, 5),
        (["order", "list", "--status", "lost"], customer, 2),
        (["pay", "order", "999"], customer, 5),
        (["pay", "order", "1", "--card", "12ab"], customer, 2),
        (["pay", "show", "999"], customer, 5),
    ]
    for args, profile, code in cases:
        result = shopctl(*args, profile=profile)
        assert result.exit_code == code, result
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[-1].lower().startswith("error"), result
        if "Usage:" not in result.stderr:  # click's own usage errors show the usage line too
            assert len(lines) == 1, result
    assert "empty" in shopctl("order", "place", profile=customer).stderr
    assert shopctl("cart", "add", "MUG-1", profile=customer).exit_code == 0
    assert shopctl("cart", "remove", "MUG-1", profile=customer).exit_code == 0
    assert shopctl("cart", "add", "MUG-1", profile=customer).exit_code == 0
    cleared = shopctl("cart", "clear", profile=customer)
    assert cleared.exit_code == 0 and "emptied" in cleared.stderr
    assert shopctl("cart", "show", "--json", profile=customer).json()["items"] == []


def test_insufficient_stock_at_placement_names_the_sku_and_changes_nothing(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    create(shopctl, admin, "MUG-1", 2)
    create(shopctl, admin, "TEA-1", 5)
    login(shopctl, "bob@example.com")
    assert shopctl("cart", "add", "MUG-1", "-q", "2", profile=customer).exit_code == 0
    assert shopctl("cart", "add", "TEA-1", profile=customer).exit_code == 0
    place(shopctl, "bob", ("MUG-1", 1))
    short = shopctl("order", "place", profile=customer)
    assert short.exit_code == 6 and "MUG-1" in short.stderr
    assert product(shopctl, "TEA-1")["reserved"] == 0
    assert len(shopctl("cart", "show", "--json", profile=customer).json()["items"]) == 2


def test_authorisation(shopctl: Shopctl, admin: str, customer: str) -> None:
    create(shopctl, admin, "TEA-1", 5)
    login(shopctl, "bob@example.com")
    theirs = str(place(shopctl, "bob", ("TEA-1", 1))["id"])
    for args in (
        ["order", "show", theirs],
        ["order", "cancel", theirs],
        ["pay", "order", theirs],
        ["pay", "show", theirs],
    ):
        assert shopctl(*args, profile=customer).exit_code == 5, args
    assert shopctl("order", "list", "--json", profile=customer).json() == []
    for args in (
        ["order", "list", "--all"],
        ["order", "fulfill", theirs],
        ["inventory", "reservations"],
        ["inventory", "release-expired"],
    ):
        result = shopctl(*args, profile=customer)
        assert result.exit_code == 4, result
    assert [o["id"] for o in shopctl("order", "list", "--all", "--json", profile=admin).json()] == [
        int(theirs)
    ]
    assert shopctl("order", "show", theirs, profile=admin).exit_code == 0
    assert shopctl("inventory", "reservations", profile=None).exit_code == 3


def test_a_reservation_expires_after_its_ttl(shopctl: Shopctl, admin: str, customer: str) -> None:
    """The one test that waits for a real reservation to expire (expiry, lazy release and
    release-expired are proven with a fake clock in tests/unit/test_purchase_use_cases.py)."""
    create(shopctl, admin, "TEA-1", 3)
    login(shopctl, "bob@example.com")
    shopctl("cart", "add", "TEA-1", "-q", "3", profile="bob")
    shopctl("cart", "add", "TEA-1", "-q", "3", profile=customer)
    placed = shopctl("order", "place", "--json", profile=customer, SHOPCTL_RESERVATION_TTL="1s")
    placed_by = time.monotonic()  # its reservation expires before this + 1 s
    assert placed.exit_code == 0, placed
    held = shopctl("inventory", "reservations", "--active", "--json", profile=admin).json()
    if time.monotonic() - placed_by < 1:  # a loaded machine may already be past the TTL
        assert [r["quantity"] for r in held] == [3]
    time.sleep(max(0.0, 1.1 - (time.monotonic() - placed_by)))
    late = shopctl("pay", "order", str(placed.json()["id"]), profile=customer)
    assert late.exit_code == 6 and "expired" in late.stderr
    order = shopctl("order", "show", str(placed.json()["id"]), "--json", profile=customer)
    assert order.json()["status"] == "expired"
    bob = shopctl("order", "place", "--json", profile="bob")  # the units are free again
    assert bob.exit_code == 0, bob
    released = shopctl("inventory", "release-expired", "--json", profile=admin)
    assert released.exit_code == 0 and released.json() == {"expired_orders": 0}
    listed = shopctl("inventory", "reservations", profile=admin)
    assert listed.exit_code == 0 and "expired" in listed.stdout
    assert product(shopctl, "TEA-1")["reserved"] == 3
    audit_passes(shopctl, admin)


def test_processing_error_is_exit_7_and_a_retry_pays(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    create(shopctl, admin, "TEA-1", 3)
    oid = str(place(shopctl, customer, ("TEA-1", 1))["id"])
    failed = shopctl("pay", "order", oid, "--card", FLAKY, profile=customer)
    assert failed.exit_code == 7 and "processing_error" in failed.stderr
    keyed = shopctl("pay", "order", oid, "--idempotency-key", "my-key-1", "--json",
                    profile=customer)  # fmt: skip
    assert keyed.exit_code == 0 and keyed.json()["status"] == "succeeded"
    assert [
        p["status"] for p in shopctl("pay", "show", oid, "--json", profile=customer).json()
    ] == [
        "failed",
        "succeeded",
    ]


@pytest.mark.slow
def test_ten_processes_race_for_the_last_three_units(
    shopctl: Shopctl, admin: str, db_url: str, config_dir: Any
) -> None:
    create(shopctl, admin, "LAST-1", 3, "12.50")
    buyers = [f"buyer{i}" for i in range(10)]
    for buyer in buyers:
        login(shopctl, f"{buyer}@example.com")
        assert shopctl("cart", "add", "LAST-1", profile=buyer).exit_code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPCTL_")}
    env.update(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "shopctl", "--profile", buyer, "order", "place"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for buyer in buyers
    ]
    outcomes = [(p.wait(timeout=120), p.communicate()[1]) for p in processes]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 0, 0, 6, 6, 6, 6, 6, 6, 6], outcomes
    assert all("LAST-1" in err for code, err in outcomes if code == 6)
    last = product(shopctl, "LAST-1")
    assert (last["stock_on_hand"], last["reserved"], last["available"]) == (3, 3, 0)
    audit_passes(shopctl, admin)
