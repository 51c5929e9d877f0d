"""e2e: what a DBA sees of shopctl's sessions, and how its commands end when a lock is busy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.database import TlsServer, inspection_engine, wait_until_a_session_waits_on_a_lock
from tests.e2e.conftest import Result, Shopctl, clean_environ


@pytest.fixture
def locked_product(db_url: str, shopctl: Shopctl, admin: str) -> Iterator[Any]:
    """Product LOCK-1 with 5 units, its row locked by another session (a long transaction)
    until the test ends; yields an engine on the test database to watch the sessions with."""
    created = shopctl(
        "products", "create", "--sku", "LOCK-1", "--name", "Locked", "--price", "2.00",
        "--stock", "5", profile=admin,
    )  # fmt: skip
    assert created.exit_code == 0, created
    engine = inspection_engine(db_url)
    holder = engine.connect()
    holder.execute(text("SELECT id FROM products WHERE sku = 'LOCK-1' FOR UPDATE"))
    try:
        yield engine, holder
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def sessions_waiting_on_a_lock(engine: Any) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT application_name FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalars()
        )


def test_a_waiting_command_is_named_in_pg_stat_activity_and_timeouts_end_the_wait(
    locked_product: Any, shopctl: Shopctl, admin: str
) -> None:
    engine, holder = locked_product
    change = ["products", "stock", "LOCK-1", "--add", "1", "--json"]

    # With no timeout the command waits for the lock, and the DBA can see which command it is.
    waited: list[Result] = []
    waiter = threading.Thread(target=lambda: waited.append(shopctl(*change, profile=admin)))
    waiter.start()
    try:
        wait_until_a_session_waits_on_a_lock(engine)
        assert sessions_waiting_on_a_lock(engine) == ["shopctl products stock"]

        # lock_timeout: exit 6 and a line that names what was busy, instead of a hang.
        busy = shopctl(*change, profile=admin, SHOPCTL_LOCK_TIMEOUT="200ms")
        assert busy.exit_code == 6, busy
        assert "a row of products stayed locked" in busy.stderr and "lock_timeout" in busy.stderr
        assert "Traceback" not in busy.stderr

        # statement_timeout ends any statement that runs too long, waiting included: exit 8.
        slow = shopctl(*change, profile=admin, SHOPCTL_STATEMENT_TIMEOUT="300ms")
        assert slow.exit_code == 8, slow
        assert "statement_timeout" in slow.stderr and "Traceback" not in slow.stderr
    finally:
        holder.rollback()  # the lock goes: the waiting command goes on
        waiter.join(timeout=120)
    assert waited and waited[0].exit_code == 0, waited
    # Only the command that waited wrote: the two that gave up changed nothing.
    assert waited[0].json()["stock_on_hand"] == 6
    assert shopctl("products", "get", "LOCK-1", "--json").json()["stock_on_hand"] == 6
    assert shopctl("audit", profile=admin).exit_code == 0


def test_bad_timeouts_are_exit_2(shopctl: Shopctl) -> None:
    for name in ("SHOPCTL_LOCK_TIMEOUT", "SHOPCTL_STATEMENT_TIMEOUT"):
        result = shopctl("products", "list", **{name: "soon"})
        assert result.exit_code == 2, result
        assert "is not a timeout" in result.stderr and "Traceback" not in result.stderr


def test_the_cli_migrates_and_works_over_verified_tls(
    tls_server: TlsServer, empty_db_url: str, tmp_path: Path
) -> None:
    """The TLS parameters ride in the URL; a plain connection to a TLS-only server is one line."""
    from urllib.parse import urlsplit

    name = urlsplit(empty_db_url).path.lstrip("/")

    def runner(**params: str) -> Shopctl:
        return Shopctl(
            clean_environ(
                SHOPCTL_DATABASE_URL=tls_server.url(name, **params),
                SHOPCTL_DATABASE_POOLER="transaction",  # the TLS endpoint is a PgBouncer
                SHOPCTL_CONFIG_DIR=str(tmp_path / "config"),
            )
        )

    shopctl = runner(sslmode="verify-full", sslrootcert=str(tls_server.ca))
    assert shopctl("db", "upgrade").exit_code == 0
    assert shopctl("db", "status", "--json").json()["up_to_date"] is True
    created = shopctl("users", "create-admin", "--email", "ops@example.com", "--password-stdin",
                      input="correct-horse-9\n")  # fmt: skip
    assert created.exit_code == 0, created
    listed = shopctl("products", "list", "--json")
    assert listed.exit_code == 0 and listed.json() == []
    plain = runner(sslmode="disable")("products", "list")
    assert plain.exit_code == 8 and "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1 and "SSL required" in plain.stderr
    untrusted = runner(sslmode="verify-full", sslrootcert=str(tls_server.other_ca))("db", "status")
    assert untrusted.exit_code == 8 and "certificate verify failed" in untrusted.stderr
