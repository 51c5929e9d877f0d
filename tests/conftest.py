"""Test databases: one migrated template per run, a fresh copy for each test.

The server is ``SHOPCTL_TEST_DATABASE_URL`` when set, else the embedded PostgreSQL
(started on demand in a temporary directory of its own).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from pytest_postgresql import factories

from shopctl.infrastructure.database import embedded, migrations
from shopctl.infrastructure.database.engine import create_engine


def _server() -> dict[str, Any]:
    url = os.environ.get("SHOPCTL_TEST_DATABASE_URL")
    if url:
        parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": unquote(parts.username or "postgres"),
            "password": unquote(parts.password or ""),
        }
    data_dir = Path(tempfile.gettempdir()) / f"shopctl-test-pg-{os.getuid()}"
    server = embedded.ensure_running(data_dir)
    return {"host": server.socket_dir, "port": server.port, "user": "postgres", "password": ""}


SERVER = _server()
# Several test runs may share one server (developers, CI): each run has its own names.
DBNAME = f"shopctl_test_{os.getpid()}"


def database_url(dbname: str, server: dict[str, Any] = SERVER) -> str:
    credentials = quote(server["user"])
    if server["password"]:
        credentials += ":" + quote(server["password"])
    host = server["host"]
    if host.startswith("/"):
        return f"postgresql://{credentials}@/{dbname}?host={quote(host)}&port={server['port']}"
    return f"postgresql://{credentials}@{host}:{server['port']}/{dbname}"


def migrate_template(host: str, port: int, user: str, dbname: str, **_: Any) -> None:
    engine = create_engine(database_url(dbname))
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()


postgresql_noproc = factories.postgresql_noproc(
    host=SERVER["host"],
    port=SERVER["port"],
    user=SERVER["user"],
    password=SERVER["password"] or None,
    dbname=DBNAME,
    load=[migrate_template],
)
postgresql = factories.postgresql("postgresql_noproc")


@pytest.fixture
def db_url(postgresql: Any) -> str:
    """URL of a fresh database, migrated to head, dropped after the test."""
    return database_url(postgresql.info.dbname)


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def empty_db_url() -> Iterator[str]:
    """URL of a database that exists but was never migrated."""
    import psycopg
    from psycopg import sql

    name = f"{DBNAME}_empty"
    admin_url = database_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield database_url(name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
