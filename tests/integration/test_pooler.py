"""Through a real PgBouncer in transaction pooling mode: each transaction may run on another
server session, so nothing may rely on session state."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from shopctl.application.errors import DatabaseUnavailable
from shopctl.domain.repositories import ProductQuery
from shopctl.infrastructure.db.connect import ConnectionSettings, Database
from shopctl.infrastructure.db.reads import PostgresReader

PREPARED_AFTER = 5  # more runs than shopctl's threshold (the second run is prepared)


def browse_then_lose_the_server_session(database: Database, pooled_url: str) -> Any:
    """Browse often enough for shopctl to prepare the statement on the server session it ran
    on; then another client holds that session in an open transaction, so that the next browse
    runs on another server session (PgBouncer hands out the most recently used one first)."""
    reader = PostgresReader(database)
    for _ in range(PREPARED_AFTER + 1):
        reader.list(ProductQuery())
    holder = psycopg.connect(pooled_url)  # not autocommit: keeps its server session
    holder.execute("SELECT 1")
    return reader, holder


def test_without_the_setting_a_vanished_prepared_statement_names_the_setting(
    pooled_db_url: str,
) -> None:
    database = Database(ConnectionSettings(pooled_db_url))
    reader, holder = browse_then_lose_the_server_session(database, pooled_db_url)
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            reader.list(ProductQuery())
        assert "prepared statement vanished" in raised.value.message
        assert isinstance(raised.value.hint, str)
        assert "database_pooler = transaction" in raised.value.hint
    finally:
        holder.close()
        database.close()


def test_with_the_setting_every_read_works_on_any_server_session(pooled_db_url: str) -> None:
    settings = ConnectionSettings(pooled_db_url, pooler="transaction", lock_timeout_ms=5000)
    database = Database(settings)
    reader, holder = browse_then_lose_the_server_session(database, pooled_db_url)
    try:
        assert reader.list(ProductQuery()) == []
        with database.transaction(read_only=True) as sql:  # the timeout is set per transaction
            assert sql.scalar("SHOW lock_timeout") == "5s"
    finally:
        holder.close()
        database.close()


@pytest.mark.parametrize("route", ["direct", "pgbouncer"])
def test_a_lock_held_past_lock_timeout_ends_the_unit_of_work_naming_the_table(
    route: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Directly the timeout is a connection option; through the pooler it is set per
    transaction. Either way the waiting unit of work ends as a conflict, nothing written."""
    from shopctl.application.errors import LockTimeout
    from shopctl.infrastructure.db.uow import PostgresUnitOfWork

    url, pooler = (db_url, "none")
    if route == "pgbouncer":
        url, pooler = (request.getfixturevalue("pooled_db_url"), "transaction")
    with psycopg.connect(db_url, autocommit=True) as setup:
        setup.execute("INSERT INTO products (sku, name, price) VALUES ('BUSY-1', 'Busy', 1)")
    database = Database(ConnectionSettings(url, pooler=pooler, lock_timeout_ms=50))
    holder = psycopg.connect(db_url)
    try:
        holder.execute("SELECT 1 FROM products WHERE sku = 'BUSY-1' FOR UPDATE")
        with pytest.raises(LockTimeout) as raised, PostgresUnitOfWork(database) as uow:
            uow.sql.run("UPDATE products SET name = 'Changed' WHERE sku = 'BUSY-1'")
            uow.commit()
        assert "a row of products" in raised.value.message
        assert "nothing was written" in raised.value.message
    finally:
        holder.close()
        database.close()
    with psycopg.connect(db_url) as check:
        assert check.execute("SELECT name FROM products WHERE sku = 'BUSY-1'").fetchone() == (
            "Busy",
        )
