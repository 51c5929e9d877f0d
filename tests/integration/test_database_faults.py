"""What a real server's refusals and faults become: decided by SQLSTATE (or, where libpq
gives none, by asking the server), with a real PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from shopctl.application.errors import ConnectionLost, DatabaseUnavailable
from shopctl.domain.errors import Hint
from shopctl.infrastructure.db.connect import ConnectionSettings, Database
from shopctl.infrastructure.db.errors import DatabaseMissing
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from tests.database import database_of, wait_until_a_session_waits_on_a_lock, wait_until_sessions


def with_path(url: str, *, database: str | None = None, user: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user is not None:
        netloc = user + "@" + netloc.rpartition("@")[2]
    path = parts.path if database is None else "/" + database
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def test_a_missing_database_is_told_to_run_db_upgrade(db_url: str) -> None:
    with pytest.raises(DatabaseMissing) as raised:
        ConnectionSettings(with_path(db_url, database="shopctl_no_such_db")).connect()
    assert "does not exist yet" in raised.value.message
    assert raised.value.hint is Hint.MIGRATE


def test_an_unknown_role_is_not_a_missing_database(db_url: str) -> None:
    # The server says 'role "..." does not exist': not a reason to run `db upgrade`.
    url = with_path(db_url, user="shopctl_no_such_role")
    with pytest.raises(DatabaseUnavailable) as raised:
        ConnectionSettings(url).connect()
    assert not isinstance(raised.value, DatabaseMissing)
    assert raised.value.hint is Hint.CHECK_DATABASE_URL
    assert "shopctl_no_such_role" in raised.value.message


def test_an_unreachable_server_is_exit_8_within_the_timeout() -> None:
    settings = ConnectionSettings("postgresql://postgres@127.0.0.1:9/nowhere", connect_timeout=2)
    with pytest.raises(DatabaseUnavailable, match="cannot reach") as raised:
        settings.connect()
    assert not isinstance(raised.value, DatabaseMissing)


def test_a_terminated_backend_ends_the_unit_of_work_and_the_next_one_reconnects(
    engine: Any,
) -> None:
    """An administrator's pg_terminate_backend (SQLSTATE 57P01) mid-transaction: the unit of
    work ends with DatabaseUnavailable, nothing it did is kept, and the thread's next unit
    of work gets a new connection."""
    database = database_of(engine)
    holding = threading.Event()
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            with PostgresUnitOfWork(database) as uow:
                uow.sql.run("INSERT INTO products (sku, name, price) VALUES ('KEPT-1', 'X', 1)")
                holding.set()
                uow.sql.run("SELECT pg_sleep(30)")  # ended by the administrator
                uow.commit()
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    assert holding.wait(30)
    # the sleep is running, as the server reports it (the event only says it is about to be sent)
    wait_until_sessions(engine, "state = 'active' AND query LIKE 'SELECT pg_sleep%'")
    with Database(database.settings, check_schema=False).transaction() as admin:
        terminated = admin.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%%'"
        )
    assert terminated == 1
    thread.join(30)
    [error] = outcome
    assert isinstance(error, ConnectionLost) and "rolled back" in error.message
    with PostgresUnitOfWork(database) as uow:  # this thread's connection was replaced
        assert uow.products.get_by_sku("KEPT-1") is None


def test_a_connection_cut_during_its_schema_check_is_a_lost_connection(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit of work that opens a new connection (the last one broke) checks its schema on
    it first: a backend terminated right then ends the unit with ConnectionLost (exit 8, the
    simulation rides it out), not with the driver's error."""
    from shopctl.infrastructure.db import connect
    from shopctl.infrastructure.db.schema import check_schema

    settings = database_of(engine).settings

    def terminated_first(sql: connect.Sql) -> None:
        pid = sql.connection.info.backend_pid
        with Database(settings, check_schema=False).transaction() as admin:
            assert admin.scalar("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        check_schema(sql)

    monkeypatch.setattr(connect, "check_schema", terminated_first)
    database = Database(settings)
    try:
        with pytest.raises(ConnectionLost), PostgresUnitOfWork(database):
            pass
    finally:
        database.close()


def test_a_unit_of_work_waiting_on_a_lock_can_be_watched(engine: Any) -> None:
    """The helper the lock tests rely on sees a session that waits on a row lock."""
    database = database_of(engine)
    with PostgresUnitOfWork(database) as uow:
        uow.sql.run("INSERT INTO products (sku, name, price) VALUES ('L', 'L', 1)")
        uow.commit()
    started = threading.Event()

    def wait_for_the_row() -> None:
        with PostgresUnitOfWork(database) as uow:
            started.set()
            uow.products.get_by_sku("L", for_update=True)

    with PostgresUnitOfWork(database) as uow:
        uow.products.get_by_sku("L", for_update=True)
        thread = threading.Thread(target=wait_for_the_row)
        thread.start()
        assert started.wait(30)
        wait_until_a_session_waits_on_a_lock(engine)
    thread.join(30)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def password_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A PostgreSQL of this test's own that asks for passwords (scram-sha-256), with a role
    shop/right-password: the shared test server may trust everyone."""
    import os
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    home = tmp_path_factory.mktemp("password-server")
    os.chmod(home, 0o755)  # noqa: S103 (as root, pgserver runs the server as a user of its own)
    server = pgserver.get_server(home / "pgdata", cleanup_mode="stop")  # type: ignore[attr-defined]
    server.psql("CREATE ROLE shop LOGIN PASSWORD 'right-password';")
    (home / "pgdata" / "pg_hba.conf").write_text(
        "local all postgres trust\nlocal all all scram-sha-256\n"
    )
    server.psql("SELECT pg_reload_conf();")
    socket_dir = str(home / "pgdata")
    yield lambda password: f"postgresql://shop:{password}@/postgres?host={socket_dir}"
    server.cleanup()


def test_a_wrong_password_is_refused_and_never_shown(password_server: Any) -> None:
    ConnectionSettings(password_server("right-password")).connect().close()
    with pytest.raises(DatabaseUnavailable) as raised:
        ConnectionSettings(password_server("wrong-password")).connect()
    assert not isinstance(raised.value, DatabaseMissing)
    assert raised.value.hint is Hint.CHECK_DATABASE_URL
    assert "password authentication failed" in raised.value.message
    assert "wrong-password" not in raised.value.message and "***" in raised.value.message


def test_a_copy_that_cannot_end_is_a_lost_connection_and_writes_nothing(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg ends a COPY expecting exactly one result. A connection lost as the COPY ends can
    give two (seen behind PgBouncer, a backend terminated mid-import), and psycopg then raises
    a bare ValueError. The import ends as a lost connection (exit code 8), with its connection
    closed and nothing of it written, not as an internal error."""
    from decimal import Decimal

    from psycopg import _copy

    from shopctl.domain.catalog import CatalogRow
    from shopctl.infrastructure.db.imports import PostgresImportUnitOfWork

    real_end = _copy.copy_end  # type: ignore[attr-defined]

    def two_results(pgconn: Any, error: bytes | None) -> Any:
        yield from real_end(pgconn, error)  # the server has taken the rows
        raise ValueError("too many values to unpack (expected 1)")  # as psycopg's own

    monkeypatch.setattr(_copy, "copy_end", two_results)
    database = database_of(engine)
    rows = [CatalogRow(line=2, sku="COPY-LOST-1", name="Lost", price=Decimal("1.00"), stock=3)]
    uow = PostgresImportUnitOfWork(database)
    with pytest.raises(ConnectionLost) as lost, uow:
        uow.products.stage(uow.products.prepare(rows))
        uow.commit()
    assert "rolled back" in lost.value.message
    assert uow._connection.closed
    monkeypatch.undo()
    with PostgresUnitOfWork(database) as reading:
        assert reading.products.get_by_sku("COPY-LOST-1") is None
