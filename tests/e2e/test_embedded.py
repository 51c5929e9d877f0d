"""e2e: with no database URL anywhere, shopctl starts an embedded PostgreSQL and keeps it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.conftest import Shopctl, clean_environ


def test_embedded_server_starts_on_demand_persists_and_stops(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    shopctl = Shopctl(clean_environ(SHOPCTL_CONFIG_DIR=str(config)))
    try:
        # never migrated: the server starts, the schema check refuses with exit 8
        first = shopctl("products", "list")
        assert first.exit_code == 8, first
        assert "shopctl db upgrade" in first.stderr
        assert (config / "data" / "pgdata" / "postmaster.pid").exists()
        # As root, pgserver runs the server as the system user `pgserver` and makes the
        # data dir's parents traversable for it (README: Database); otherwise they stay 0700.
        expected = 0o755 if os.geteuid() == 0 else 0o700
        assert config.stat().st_mode & 0o777 == expected

        assert shopctl("db", "upgrade").exit_code == 0
        status = shopctl("db", "status", "--json").json()
        assert status["embedded"] is True and status["up_to_date"] is True
        assert shopctl("products", "list", "--json").json() == []
    finally:
        stopped = shopctl("db", "stop")
    assert stopped.exit_code == 0 and "stopped" in stopped.stderr
    assert not (config / "data" / "pgdata" / "postmaster.pid").exists()
    again = shopctl("db", "stop")
    assert again.exit_code == 0 and "not running" in again.stderr
    # the data survived the stop: the next command starts the server again, schema intact
    try:
        assert shopctl("db", "status", "--json").json()["up_to_date"] is True
    finally:
        shopctl("db", "stop")


def test_db_stop_with_an_external_database_does_nothing(db_url: str, tmp_path: Path) -> None:
    shopctl = Shopctl(clean_environ(SHOPCTL_CONFIG_DIR=str(tmp_path)))
    result = shopctl("--database-url", db_url, "db", "stop")
    assert result.exit_code == 0 and "external database" in result.stderr
