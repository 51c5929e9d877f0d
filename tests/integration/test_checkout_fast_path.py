"""What keeps the checkout path fast, on a real PostgreSQL: read-only units of work end
without discarding psycopg's prepared statements, and still refuse every write; a command
browses and acts on one connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from shopctl.bootstrap import Shop
from shopctl.domain.repositories import ProductQuery
from shopctl.infrastructure.config import load_settings
from shopctl.infrastructure.db.connect import ConnectionSettings, Database
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from tests.database import database_of

# psycopg prepares a statement on a connection once it has run it this many times
PREPARE_THRESHOLD = 5
INSERT_X1 = "INSERT INTO products (sku, name, price) VALUES ('x1', 'X', 1)"


def backend_pid(uow: PostgresUnitOfWork) -> int:
    return int(uow.sql.scalar("SELECT pg_backend_pid()"))


def prepared_statements(uow: PostgresUnitOfWork) -> list[str]:
    return [row.statement for row in uow.sql.rows("SELECT statement FROM pg_prepared_statements")]


def test_read_only_unit_of_work_refuses_writes(engine: Any) -> None:
    database = database_of(engine)
    with (
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
        PostgresUnitOfWork(database, read_only=True) as uow,
    ):
        uow.sql.run(INSERT_X1)
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is None


def test_the_connection_writes_again_after_a_read_only_unit_of_work(engine: Any) -> None:
    database = database_of(engine)
    with PostgresUnitOfWork(database, read_only=True) as uow:
        reader = backend_pid(uow)
    with PostgresUnitOfWork(database) as uow:
        assert backend_pid(uow) == reader  # the same connection
        uow.sql.run(INSERT_X1)
        uow.commit()
    with PostgresUnitOfWork(database) as uow:
        assert uow.products.get_by_sku("x1") is not None


def test_browsing_keeps_the_statements_prepared(engine: Any) -> None:
    # A ROLLBACK makes psycopg forget every statement it prepared on the connection: if the
    # browse of each purchase flow rolled back, nothing on the checkout path would ever be
    # prepared. A read-only unit of work ends with COMMIT instead.
    database = database_of(engine)
    for _ in range(PREPARE_THRESHOLD + 1):
        with PostgresUnitOfWork(database, read_only=True) as uow:
            uow.products.get_by_sku("mug")
        with PostgresUnitOfWork(database) as uow:
            uow.products.get_by_sku("mug", for_update=True)
            uow.commit()
    with PostgresUnitOfWork(database, read_only=True) as uow:
        prepared = prepared_statements(uow)
    assert any(s.endswith("WHERE sku = $1") for s in prepared), prepared
    assert any("WHERE sku = $1 FOR UPDATE" in s for s in prepared), prepared


def test_a_command_browses_and_acts_on_one_connection_with_prepared_statements(
    db_url: str, tmp_path: Path
) -> None:
    shop = Shop(load_settings(database_url=db_url, config_dir=str(tmp_path), environ={}))
    try:
        for _ in range(PREPARE_THRESHOLD + 1):
            shop.list_products()(ProductQuery())
        with shop.read_uow() as uow:
            prepared = prepared_statements(uow)
            pids = uow.sql.rows(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND application_name = 'shopctl'"
            )
        assert any("ORDER BY sku" in statement for statement in prepared), prepared
        assert pids == [], "the read side and the unit of work share one connection"
    finally:
        shop.close()


def test_the_catalog_refuses_a_database_behind_the_latest_migration(
    db_url: str, engine: Any
) -> None:
    from shopctl.application.errors import DatabaseUnavailable
    from shopctl.infrastructure.db import migrations
    from shopctl.infrastructure.db.reads import PostgresReader

    migrations.downgrade(database_of(engine).settings, "0002")
    database = Database(ConnectionSettings(db_url))
    catalog = PostgresReader(database)
    with pytest.raises(DatabaseUnavailable, match=r"is at revision 0002.*needs revision"):
        catalog.get_by_sku("x1")
    migrations.upgrade(database_of(engine).settings)
    assert catalog.get_by_sku("x1") is None
    database.close()
