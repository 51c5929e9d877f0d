"""e2e: the walking skeleton (db, products list/get), exit codes 2, 5 and 8."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from shopctl.infrastructure.db.tables import products
from tests.database import inspection_engine
from tests.e2e.conftest import (
    RunnerFor,
    Shopctl,
    clean_environ,
    run_in_fresh_process,
)


def seed(db_url: str) -> None:
    engine = inspection_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            insert(products),
            [
                {
                    "sku": "TEA-1",
                    "name": "Green tea",
                    "price": "4.50",
                    "stock_on_hand": 10,
                    "active": True,
                },
                {
                    "sku": "MUG-1",
                    "name": "Mug",
                    "price": "9.90",
                    "stock_on_hand": 0,
                    "active": True,
                },
                {
                    "sku": "OLD-1",
                    "name": "Old",
                    "price": "1.00",
                    "stock_on_hand": 0,
                    "active": False,
                },
            ],
        )
    engine.dispose()


def test_version_and_help(shopctl: Shopctl) -> None:
    assert shopctl("--version").stdout.startswith("shopctl ")
    result = shopctl("--help")
    assert result.exit_code == 0
    assert "Exit codes" in result.stdout and "products" in result.stdout


def test_products_list_and_get(shopctl: Shopctl, db_url: str) -> None:
    seed(db_url)
    listed = shopctl("products", "list", "--json")
    assert listed.exit_code == 0, listed
    assert [p["sku"] for p in listed.json()] == ["MUG-1", "TEA-1"]
    assert listed.json()[1]["price"] == "4.50"
    assert set(listed.json()[0]) >= {
        "id",
        "sku",
        "name",
        "description",
        "price",
        "currency",
        "stock_on_hand",
        "reserved",
        "available",
        "active",
        "created_at",
        "updated_at",
    }
    assert [p["sku"] for p in shopctl("products", "list", "--in-stock", "--json").json()] == [
        "TEA-1"
    ]
    assert [p["sku"] for p in shopctl("products", "list", "-s", "tea", "--json").json()] == [
        "TEA-1"
    ]
    paged = shopctl("products", "list", "--limit", "1", "--offset", "1", "--format", "json")
    assert [p["sku"] for p in paged.json()] == ["TEA-1"]
    csv = shopctl("products", "list", "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("id,sku,name") and len(csv) == 3
    table = shopctl("products", "list").stdout
    assert "TEA-1" in table and "Green tea" in table
    got = shopctl("products", "get", "OLD-1", "--json")
    assert got.exit_code == 0 and got.json()["active"] is False
    assert "Green tea" in shopctl("products", "get", "TEA-1").stdout


def test_unknown_sku_is_exit_5(shopctl: Shopctl) -> None:
    result = shopctl("products", "get", "NOPE")
    assert result.exit_code == 5
    assert result.stderr.strip() == "error: no product with SKU 'NOPE'"


def test_bad_options_are_exit_2_without_traceback(shopctl: Shopctl) -> None:
    for args in (
        ["products", "list", "--limit", "0"],
        ["products", "list", "--limit", "x"],
        ["products", "list", "--format", "xml"],
        ["nope"],
    ):
        result = shopctl(*args)
        assert result.exit_code == 2, result
        assert "Traceback" not in result.stderr


def test_unmigrated_database_is_exit_8_then_upgrade_fixes_it(
    empty_db_url: str, runner_for: RunnerFor
) -> None:
    """Migrations run, forward and back, straight to the server and through PgBouncer in
    transaction mode (each migration in one transaction, no session state)."""
    shopctl = runner_for(empty_db_url)
    result = shopctl("products", "list")
    assert result.exit_code == 8
    assert len(result.stderr.strip().splitlines()) == 1
    assert "shopctl db upgrade" in result.stderr
    status = shopctl("db", "status", "--json")
    assert status.json()["current_revision"] is None and status.json()["up_to_date"] is False
    assert shopctl("db", "upgrade").exit_code == 0
    assert shopctl("db", "upgrade").exit_code == 0
    assert shopctl("products", "list").exit_code == 0
    assert shopctl("db", "status", "--json").json()["up_to_date"] is True
    assert shopctl("db", "downgrade", "base").exit_code == 0
    assert shopctl("products", "list").exit_code == 8
    assert shopctl("db", "reset").exit_code == 2
    assert shopctl("db", "reset", "--yes").exit_code == 0
    assert shopctl("products", "list").exit_code == 0


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
@pytest.mark.parametrize("revision", ["nosuchrev", "9999", "+5", "x\x1b[31my\nz"])
def test_a_revision_there_is_not_is_exit_2_and_migrates_nothing(
    empty_db_url: str, runner_for: RunnerFor, command: str, revision: str
) -> None:
    shopctl = runner_for(empty_db_url)
    assert shopctl("db", "upgrade", "0006").exit_code == 0
    result = shopctl("db", command, revision)
    assert result.exit_code == 2, result
    [line] = result.stderr.strip().splitlines()
    assert "the revisions are base, 0001" in line and "and head" in line
    assert "\x1b" not in line and "Traceback" not in line
    assert shopctl("db", "status", "--json").json()["current_revision"] == "0006"


def test_unreachable_database_is_exit_8(config_dir: Any) -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/nowhere"
    shopctl = Shopctl(clean_environ(SHOPCTL_CONFIG_DIR=str(config_dir)))
    result = shopctl("--database-url", url, "products", "list")
    assert result.exit_code == 8
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr
    debug = shopctl("--debug", "--database-url", url, "products", "list")
    assert debug.exit_code == 8 and "Traceback" in debug.stderr


def test_bad_url_and_bad_settings_are_exit_2(shopctl: Shopctl) -> None:
    assert shopctl("--database-url", "mysql://x/y", "products", "list").exit_code == 2
    assert shopctl("products", "list", SHOPCTL_RESERVATION_TTL="soon").exit_code == 2


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shopctl", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0


def test_browsing_loads_no_sqlalchemy(db_url: str, config_dir: Path) -> None:
    # The read start-up target holds because a public read never imports SQLAlchemy.
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    codes, heavy, _ = run_in_fresh_process(
        env, ["products", "list", "--json"], ["products", "get", "NOPE"]
    )
    assert (codes, heavy) == ([0, 5], [])


def test_commands_that_write_load_no_sqlalchemy_either(
    shopctl: Shopctl, db_url: str, config_dir: Path
) -> None:
    """Only `shopctl db` (Alembic) needs SQLAlchemy: every other command runs on psycopg."""
    from tests.e2e.conftest import login

    seed(db_url)
    login(shopctl, "alice@example.com")
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    codes, heavy, _ = run_in_fresh_process(
        env,
        ["-p", "alice", "cart", "add", "TEA-1"],
        ["-p", "alice", "order", "place", "--json"],
        ["-p", "alice", "pay", "order", "1"],
        ["-p", "alice", "users", "whoami"],
    )
    assert (codes, heavy) == ([0, 0, 0, 0], [])


@pytest.mark.direct_only  # PgBouncer's open server sessions keep the old database default
def test_a_read_only_database_refuses_writes_with_exit_8_and_serves_reads(
    db_url: str, admin: str, shopctl: Shopctl
) -> None:
    """A hot standby, or a database set to default_transaction_read_only: writing commands
    say so (exit 8) and write nothing; reads work."""
    from sqlalchemy import text

    seed(db_url)
    engine = inspection_engine(db_url)
    with engine.connect() as connection:
        name = connection.execute(text("SELECT current_database()")).scalar_one()
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        connection.commit()
    try:
        created = shopctl(
            "products", "create", "--sku", "NEW-1", "--name", "New", "--price", "1", profile=admin
        )
        assert created.exit_code == 8, created
        assert "read-only (a standby?)" in created.stderr and "Traceback" not in created.stderr
        assert shopctl("products", "list", "--json").exit_code == 0
        assert shopctl("products", "get", "TEA-1", "--json").json()["sku"] == "TEA-1"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
            connection.commit()
        engine.dispose()
    assert shopctl("products", "get", "NEW-1").exit_code == 5  # nothing was written
