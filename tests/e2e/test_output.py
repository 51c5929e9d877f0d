"""e2e: what a pipe gets and what a terminal gets. Off a terminal a table is tab-separated
lines under a header line: never wrapped, truncated or coloured; a CSV header does not depend
on whether rows came back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Shopctl, clean_environ, stdout_at_a_terminal

NAME = "Single-origin Darjeeling first flush, loose leaf, 250 g tins"  # 60 characters


def create(shopctl: Shopctl, admin: str) -> None:
    assert len(NAME) == 60
    created = shopctl("products", "create", "--sku", "TEA-1", "--name", NAME, "--price", "12.50",
                      "--stock", "7", profile=admin)  # fmt: skip
    assert created.exit_code == 0, created


def test_a_piped_table_keeps_a_long_name_whole_on_its_line_with_no_escape_code(
    shopctl: Shopctl, admin: str
) -> None:
    create(shopctl, admin)
    listed = shopctl("products", "list")
    assert listed.exit_code == 0, listed
    lines = listed.stdout.splitlines()
    assert lines == [
        "sku\tname\tprice\tstock_on_hand\treserved\tavailable\tactive",
        f"TEA-1\t{NAME}\t12.50\t7\t0\t7\tyes",
    ]
    assert "\x1b" not in listed.stdout
    # cut and awk read it as it is
    cut = subprocess.run(["cut", "-f2"], input=listed.stdout, capture_output=True, text=True)
    assert cut.stdout.splitlines() == ["name", NAME]
    got = shopctl("products", "get", "TEA-1")
    assert f"name\t{NAME}" in got.stdout.splitlines() and "\x1b" not in got.stdout


def test_a_csv_header_is_the_same_with_no_rows_and_with_rows(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    def header(*args: str, profile: str | None = None) -> str:
        result = shopctl(*args, "--format", "csv", profile=profile)
        assert result.exit_code == 0, result
        return result.stdout.splitlines()[0]

    listings = [
        (("products", "list"), None),
        (("order", "list"), customer),
        (("inventory", "reservations"), admin),
        (("users", "list"), admin),
    ]
    empty = {args: header(*args, profile=profile) for args, profile in listings}
    create(shopctl, admin)
    assert shopctl("cart", "add", "TEA-1", profile=customer).exit_code == 0
    assert shopctl("order", "place", profile=customer).exit_code == 0
    for args, profile in listings:
        assert header(*args, profile=profile) == empty[args], args
    assert empty[("products", "list")].startswith("id,sku,name,description,price,currency,")
    assert empty[("order", "list")] == "id,status,total,currency,items,created_at"


@pytest.mark.direct_only  # what the terminal is sent does not depend on the route
def test_at_a_terminal_the_table_is_drawn_to_its_width(shopctl: Shopctl, admin: str) -> None:
    create(shopctl, admin)
    wide = {**shopctl.env, "COLUMNS": "200"}
    code, shown = stdout_at_a_terminal(wide, ["products", "list"])
    assert code == 0
    assert b"on hand" in shown and "─".encode() in shown  # a terminal's labels and rule
    assert b"\x1b[1m" in shown  # bold headers
    assert NAME.encode() in shown  # 200 columns: the name fits on its line
    code, narrow = stdout_at_a_terminal({**shopctl.env, "COLUMNS": "50"}, ["products", "list"])
    assert code == 0 and NAME.encode() not in narrow  # folded to fit 50 columns
    code, plain = stdout_at_a_terminal({**wide, "NO_COLOR": "1"}, ["products", "list"])
    assert code == 0 and b"on hand" in plain and b"\x1b" not in plain, plain


@pytest.mark.direct_only
@pytest.mark.slow
def test_the_demo_writes_no_escape_code_to_a_pipe(tmp_path: Path) -> None:
    """``make demo > log``: the demo's step titles are bold on a terminal only."""
    env = clean_environ(DEMO_DIR=str(tmp_path / "demo"))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    try:
        demo = subprocess.run(["bash", str(ROOT / "examples" / "demo.sh")], capture_output=True,
                              env=env, stdin=subprocess.DEVNULL, timeout=600)  # fmt: skip
        assert demo.returncode == 0, demo.stderr.decode(errors="replace")[-3000:]
        assert b"\x1b" not in demo.stdout and b"\x1b" not in demo.stderr
        assert b"== migrate a fresh embedded database" in demo.stderr
    finally:
        stopped = Shopctl(clean_environ(SHOPCTL_CONFIG_DIR=str(tmp_path / "demo" / "config")))
        stopped("db", "stop")


def test_fields_pick_and_order_what_list_and_show_commands_give(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    create(shopctl, admin)
    listed = shopctl("products", "list", "--fields", "available,sku")
    assert listed.stdout.splitlines() == ["available\tsku", "7\tTEA-1"]
    csv = shopctl("products", "list", "--format", "csv", "--fields", "sku,description,currency")
    assert csv.stdout.splitlines() == ["sku,description,currency", "TEA-1,,USD"]
    got = shopctl("products", "get", "TEA-1", "--json", "--fields", "name,price")
    assert got.json() == {"name": NAME, "price": "12.50"}
    users = shopctl("users", "list", "--json", "--fields", "email,role", profile=admin)
    assert {"email": "admin@example.com", "role": "admin"} in users.json()
    assert shopctl("cart", "add", "TEA-1", "--quantity", "2", profile=customer).exit_code == 0
    order_id = shopctl("order", "place", "--json", profile=customer).json()["id"]
    shown = shopctl("order", "show", str(order_id), "--fields", "status,total", profile=customer)
    assert shown.stdout.splitlines() == ["status\tpending_payment", "total\t25.00"]
    unknown = shopctl("order", "list", "--fields", "id,colour", profile=customer)
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith("error: unknown field colour for --fields; valid: id, status")
