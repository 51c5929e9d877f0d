"""The one way shopctl reaches PostgreSQL.

Every connection shopctl opens (units of work, the read side, the catalog import,
``simulate``'s workers, the payment gateway, Alembic) comes from ``ConnectionSettings``,
with one set of connection parameters, and is kept by a ``Database``: one connection per
thread, opened on first use, its schema checked once, replaced when it broke. Statements run
through ``Sql``, a small executor over fixed statement texts (psycopg prepares the ones that
repeat). Driver errors become the user's errors in one place, ``errors.translate``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

# At module level: this runs for every statement. The module is only loaded by commands that
# use the database, which import psycopg anyway.
from psycopg.errors import LockNotAvailable
from psycopg.pq import ExecStatus
from psycopg.rows import tuple_row

from shopctl.infrastructure.db.schema import check_schema
from shopctl.infrastructure.db.urls import libpq_url

if TYPE_CHECKING:
    from psycopg import Connection, Cursor


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect. The one place for connection parameters.

    ``pooler="transaction"``: a transaction pooler (PgBouncer in transaction mode) stands in
    front, and each transaction may run on another server session. Nothing then relies on
    session state: no server-side prepared statements, and the timeouts are set per
    transaction (``SET LOCAL``) instead of as connection options, which PgBouncer refuses.
    TLS and every other libpq parameter come from the URL (``?sslmode=require&...``).
    """

    url: str
    application_name: str = "shopctl"
    connect_timeout: int = 10
    pooler: str = "none"
    statement_timeout_ms: int | None = None  # None: the server's own setting
    lock_timeout_ms: int | None = None

    @property
    def transaction_pooling(self) -> bool:
        return self.pooler == "transaction"

    def _timeouts(self) -> dict[str, int]:
        timeouts = {
            "statement_timeout": self.statement_timeout_ms,
            "lock_timeout": self.lock_timeout_ms,
        }
        return {name: value for name, value in timeouts.items() if value is not None}

    @property
    def transaction_setup(self) -> str | None:
        """What each transaction runs first behind a transaction pooler (None: nothing)."""
        if not self.transaction_pooling or not self._timeouts():
            return None
        settings = ", ".join(
            f"set_config('{name}', '{value}ms', true)" for name, value in self._timeouts().items()
        )
        return f"SELECT {settings}"

    def parameters(self) -> dict[str, Any]:
        """The connection parameters of every connection shopctl opens."""
        conninfo = libpq_url(self.url)
        parameters: dict[str, Any] = {
            "conninfo": conninfo,
            "connect_timeout": self.connect_timeout,
            "application_name": self.application_name,
        }
        if self._timeouts() and not self.transaction_pooling:
            from psycopg.conninfo import conninfo_to_dict

            given = str(conninfo_to_dict(conninfo).get("options") or "")
            ours = " ".join(f"-c {name}={value}ms" for name, value in self._timeouts().items())
            parameters["options"] = f"{given} {ours}".strip()
        return parameters

    def connect(self, *, autocommit: bool = True, **overrides: Any) -> Connection[Any]:
        """A new connection; exit code 8 (``DatabaseUnavailable``) when it cannot be had."""
        import psycopg
        from psycopg.rows import namedtuple_row

        from shopctl.infrastructure.db.errors import connect_failure

        parameters = {
            **self.parameters(),
            "autocommit": autocommit,
            "row_factory": namedtuple_row,
            **overrides,
        }
        if self.transaction_pooling:  # a prepared statement lives on one server session
            parameters["prepare_threshold"] = None
        try:
            return psycopg.Connection.connect(**parameters)
        except psycopg.OperationalError as error:
            raise connect_failure(self, error) from error

    def for_database(self, name: str) -> ConnectionSettings:
        """The same server and credentials, another database (``db upgrade`` creates one)."""
        parts = urlsplit(libpq_url(self.url))
        return replace(self, url=urlunsplit(parts._replace(path="/" + name)))


class Sql:
    """Runs fixed statement texts on one connection; rows are named tuples.

    Its statements share one cursor (each fetches its rows before the next runs), and
    ``Database.executor`` keeps one ``Sql`` per connection: a cursor made per statement cost
    a quarter of psycopg's client time for a short one (70 µs of CPU instead of 53)."""

    __slots__ = ("_cursor", "connection")

    def __init__(self, connection: Connection[Any]) -> None:
        self.connection = connection
        self._cursor: Cursor[Any] | None = None

    def rows(self, query: str, params: Any = None) -> list[Any]:
        cursor = self._execute(query, params)
        return cursor.fetchall() if _returns_rows(cursor) else []

    def tuples(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, for statements whose columns have no distinct names."""
        with self.connection.cursor(row_factory=tuple_row) as cursor:
            _run(cursor, query, params)
            return cursor.fetchall() if _returns_rows(cursor) else []

    def first(self, query: str, params: Any = None) -> Any:
        cursor = self._execute(query, params)
        return cursor.fetchone() if _returns_rows(cursor) else None

    def scalar(self, query: str, params: Any = None) -> Any:
        row = self.first(query, params)
        return None if row is None else row[0]

    def run(self, query: str, params: Any = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        return self._execute(query, params).rowcount

    def _execute(self, query: str, params: Any) -> Cursor[Any]:
        cursor = self._cursor
        if cursor is None or cursor.closed:
            cursor = self._cursor = self.connection.cursor()
        return _run(cursor, query, params)

    def stream(self, query: str, params: Any = None, *, size: int = 1000) -> Iterator[Any]:
        """Rows from a server-side cursor, ``size`` at a time (constant memory)."""
        with self.connection.cursor(name="shopctl_stream") as cursor:
            cursor.itersize = size
            cursor.execute(query, params)
            yield from cursor


def _run(cursor: Cursor[Any], query: str, params: Any) -> Cursor[Any]:
    try:
        return cursor.execute(query, params)
    except LockNotAvailable as error:
        # The server names the busy relation only when it waited on the row's locker;
        # the statement text lets the error say what was busy in every case.
        error.add_note(query)
        raise


def _returns_rows(cursor: Any) -> bool:
    result = cursor.pgresult  # not .description: that builds column objects
    return result is not None and result.status == ExecStatus.TUPLES_OK


class Database:
    """The connections of one process to one database: one per thread, opened on first use.

    A connection rests in autocommit (the read side's statements are one transaction each);
    a unit of work turns that off for its transaction and back on when it ends. A connection
    that broke (server restart, terminated backend) is replaced on the next use.
    ``check_schema`` refuses a database whose schema is not at the latest migration (exit code
    8), once per connection.
    """

    def __init__(self, settings: ConnectionSettings, *, check_schema: bool = True) -> None:
        self.settings = settings
        self._check_schema = check_schema
        self._local = threading.local()
        self._opened: list[Connection[Any]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.settings.url

    def connection(self) -> Connection[Any]:
        connection: Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is not None and not (connection.closed or connection.broken):
            return connection
        if connection is not None:
            connection.close()
        connection = self.settings.connect()
        if self._check_schema:
            try:
                check_schema(Sql(connection))
            except BaseException:
                connection.close()
                raise
        self._local.connection = connection
        with self._lock:
            self._opened = [c for c in self._opened if not c.closed]
            self._opened.append(connection)
        return connection

    def sql(self) -> Sql:
        """This thread's connection, for statements outside a transaction (autocommit)."""
        return self.executor(self.connection())

    def executor(self, connection: Connection[Any]) -> Sql:
        """The one ``Sql`` of this thread's ``connection``: every unit of work on it runs its
        statements through the same cursor."""
        sql: Sql | None = getattr(self._local, "sql", None)
        if sql is None or sql.connection is not connection:
            sql = self._local.sql = Sql(connection)
        return sql

    @contextmanager
    def reading(self, *, read_only: bool = True) -> Iterator[Sql]:
        """For one-statement work outside a unit of work (the read side's reads, the mock
        gateway's charge): autocommit, unless the timeouts must be set per transaction
        (behind a transaction pooler), then a transaction of its own."""
        if self.settings.transaction_setup is None:
            yield self.sql()
            return
        with self.transaction(read_only=read_only) as sql:
            yield sql

    @contextmanager
    def transaction(self, *, read_only: bool = False, snapshot: bool = False) -> Iterator[Sql]:
        """One transaction, committed when the block ends without an error. ``snapshot``:
        every statement sees the same snapshot (REPEATABLE READ)."""
        import psycopg

        from shopctl.infrastructure.db.errors import translate, translated

        with translated(self.url, writing=not read_only):
            connection = self.connection()
        try:
            begin_unit(connection, read_only=read_only, setup=self.settings.transaction_setup)
            if snapshot:
                connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            yield self.executor(connection)
            connection.commit()
        except psycopg.Error as error:
            end_unit(connection)
            shop_error = translate(self.url, error, writing=not read_only, gone=gone(connection))
            if shop_error is None:
                raise
            raise shop_error from error
        finally:
            end_unit(connection)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local = threading.local()


def begin_unit(connection: Connection[Any], *, read_only: bool, setup: str | None = None) -> None:
    """Start a unit of work's transaction (lazily: psycopg sends BEGIN with its first
    statement; ``setup``, the settings of this transaction, is that first statement). Units
    of work of one thread never nest."""
    from psycopg.pq import TransactionStatus

    assert connection.info.transaction_status == TransactionStatus.IDLE, "a transaction is open"
    connection.autocommit = False
    connection.read_only = True if read_only else None
    if setup is not None:
        try:
            connection.execute(setup)
        except BaseException:
            end_unit(connection)
            raise


def gone(connection: Connection[Any]) -> bool:
    """Whether ``connection`` can no longer be used (it broke, or ``end_unit`` closed it)."""
    return connection.closed or connection.broken


def end_unit(connection: Connection[Any]) -> None:
    """Roll back what was not committed (nothing is sent when nothing is open), and let the
    connection rest in autocommit again."""
    import psycopg

    if connection.closed or connection.broken:
        return
    try:
        connection.rollback()
        connection.autocommit = True
        connection.read_only = None
        connection.isolation_level = None
    except psycopg.Error:  # the connection went away meanwhile: nothing is left open
        connection.close()


def ids(values: Iterable[int | None]) -> Sequence[int]:
    """Distinct ids in ascending order: the order in which rows are locked."""
    return sorted({value for value in values if value is not None})
