"""What keeps the checkout path fast, on a real PostgreSQL: read-only units of work end
without discarding psycopg's prepared statements, and still refuse every write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from shopctl.bootstrap import Shop
from shopctl.domain.repositories import ProductQuery
from shopctl.infrastructure.config import load_settings
from shopctl.infrastructure.db.tables import products
from shopctl.infrastructure.db.uow import PostgresUnitOfWork, sqlstate
from tests.database import ConnectionSettings, Database, database_of

# psycopg prepares a statement on a connection once it has run it this many times
PREPARE_THRESHOLD = 5


def backend_pid(uow: PostgresUnitOfWork) -> int:
    return int(uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def prepared_statements(uow: PostgresUnitOfWork) -> list[str]:
    statements = uow.connection.execute(text("SELECT statement FROM pg_prepared_statements"))
    return list(statements.scalars())


def test_read_only_unit_of_work_refuses_writes(engine: Any) -> None:
    with pytest.raises(DBAPIError) as raised, PostgresUnitOfWork(engine, read_only=True) as uow:
        uow.connection.execute(insert(products).values(sku="x1", name="X", price=1))
    assert sqlstate(raised.value) == "25006"  # read_only_sql_transaction
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.products.get_by_sku("x1") is None


def test_the_connection_writes_again_after_a_read_only_unit_of_work(engine: Any) -> None:
    with PostgresUnitOfWork(engine, read_only=True) as uow:
        reader = backend_pid(uow)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert backend_pid(uow) == reader  # the same pooled connection
        uow.connection.execute(insert(products).values(sku="x1", name="X", price=1))
        uow.commit()
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.products.get_by_sku("x1") is not None


def test_browsing_keeps_the_statements_prepared(engine: Any) -> None:
    # A ROLLBACK makes psycopg forget every statement it prepared on the connection: if the
    # browse of each purchase flow rolled back, nothing on the checkout path would ever be
    # prepared. A read-only unit of work ends with COMMIT instead.
    for _ in range(PREPARE_THRESHOLD + 1):
        with PostgresUnitOfWork(engine, read_only=True) as uow:
            uow.products.list(ProductQuery(search="mug"))
        with PostgresUnitOfWork(database_of(engine)) as uow:
            uow.products.get_by_sku("mug")
            uow.commit()
    with PostgresUnitOfWork(engine, read_only=True) as uow:
        prepared = prepared_statements(uow)
    assert any("ILIKE" in statement for statement in prepared), prepared
    assert any("WHERE sku = $1" in statement for statement in prepared), prepared


def test_the_shop_browses_on_one_read_only_connection_with_prepared_statements(
    db_url: str, tmp_path: Path
) -> None:
    shop = Shop(load_settings(database_url=db_url, config_dir=str(tmp_path), environ={}))
    try:
        for _ in range(PREPARE_THRESHOLD + 1):
            shop.list_products()(ProductQuery())
        connection = shop.reader._connection  # the read side's own psycopg connection
        assert connection is not None
        prepared = connection.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        assert any("ORDER BY sku" in statement for (statement,) in prepared), prepared
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            connection.execute("INSERT INTO products (sku, name, price) VALUES ('x1', 'X', 1)")
        assert "engine" not in shop.__dict__, "browsing needs no SQLAlchemy engine"
    finally:
        shop.close()
    assert connection.closed


def test_the_catalog_refuses_a_database_behind_the_latest_migration(
    db_url: str, engine: Any
) -> None:
    from shopctl.application.errors import DatabaseUnavailable
    from shopctl.infrastructure.db import migrations
    from shopctl.infrastructure.db.reads import PostgresReader

    migrations.downgrade(engine, "0002")
    catalog = PostgresReader(Database(ConnectionSettings(db_url)))
    with pytest.raises(DatabaseUnavailable, match=r"is at revision 0002.*needs revision"):
        catalog.get_by_sku("x1")
    migrations.upgrade(engine)
    assert catalog.get_by_sku("x1") is None
    catalog.close()
