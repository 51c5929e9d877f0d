"""The one way shopctl reaches PostgreSQL.

Every connection shopctl opens (units of work, the read side, the catalog import,
``simulate``'s workers, the payment gateway, Alembic) comes from ``ConnectionSettings``,
with one set of connection parameters, and is kept by a ``Database``: one connection per
thread, opened on first use, its schema checked once, replaced when it broke. Statements run
through ``Sql``, a small executor over fixed statement texts (one round trip per call, the
ones that repeat prepared). Driver errors become the user's errors in one place, ``errors.translate``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit
from weakref import WeakKeyDictionary

# At module level: this runs for every statement. The module is only loaded by commands that
# use the database, which import psycopg anyway.
from psycopg.errors import LockNotAvailable
from psycopg.generators import fetch_many, send
from psycopg.pq import ExecStatus, TransactionStatus

from shopctl.infrastructure.db.schema import check_schema
from shopctl.infrastructure.db.statements import Statement, compiled, encode, row_type
from shopctl.infrastructure.db.urls import libpq_url

if TYPE_CHECKING:
    import psycopg
    from psycopg import Connection
    from psycopg.abc import PQGen
    from psycopg.pq.abc import PGconn, PGresult

T = TypeVar("T")
# a statement waiting for the next round trip: its values, and whose read it is (None: a write)
_Queued = tuple["Statement", list[bytes | None], "Ahead[Any] | None"]

# How a round trip waits for the server's answer. Unset, psycopg's own wait: the thread sleeps
# in poll(). Set (to ``wait(generator, socket)``) by an engine that runs many flows as
# greenlets on one thread (``simulate``'s): each waits in the engine, which runs another flow
# meanwhile and polls every connection at once, with no thread hand-offs.
cooperative_wait: ContextVar[Callable[[PQGen[Any], int], Any] | None] = ContextVar(
    "shopctl_cooperative_wait", default=None
)


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

    The checkout sends dozens of short statements per order, so this runs them on psycopg's
    low level (``pgconn``), not through its cursors, which cost about twice the client CPU
    per statement (42 against 26 µs for a one-row read here):

    - each text's placeholders are turned into ``$n`` once (``statements.compiled``), and it
      is prepared on the server the second time it runs on a connection (never behind a
      transaction pooler, where a prepared statement does not outlive the transaction);
    - parameters go as text, typed by the statement; rows come back through psycopg's own
      loaders;
    - every call is one round trip, sent as one pipeline: the BEGIN of a unit of work goes
      with its first statement, the writes whose outcome nobody reads (``later``; or only
      takes in, as a new order's ids) go with the next statement or with the COMMIT, and the
      reads that need not come back first go with the next statement, ahead of it
      (``ahead``: the session check) or right behind it (``behind``: what its lock protects).

    There is one ``Sql`` per connection (``executor_of``), used by the connection's thread.
    """

    __slots__ = (
        "__weakref__",
        "_behind",
        "_counts",
        "_encoding",
        "_names",
        "_pgconn",
        "_prepare",
        "_queued",
        "_transformer",
        "connection",
        "round_trips",
    )

    def __init__(self, connection: Connection[Any]) -> None:
        from psycopg.adapt import Transformer

        self.connection = connection
        self._pgconn = connection.pgconn
        self._encoding = connection.info.encoding
        self._transformer = Transformer(connection)
        self._prepare = connection.prepare_threshold is not None
        self._counts: dict[Statement, int] = {}  # runs on this connection, until prepared
        self._names: dict[Statement, bytes] = {}  # prepared on this connection's session
        # what waits for the next round trip, in order: writes (``later``) and reads ahead of
        # its statement, then reads behind it
        self._queued: list[_Queued] = []
        self._behind: list[_Queued] = []
        self.round_trips = 0  # calls that went to the server and back

    def rows(self, query: str, params: Any = None) -> list[Any]:
        return self._call(query, params)[0]

    def tuples(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, for statements whose columns have no distinct names."""
        return self._call(query, params, row=tuple)[0]

    def first(self, query: str, params: Any = None) -> Any:
        rows = self._call(query, params)[0]
        return rows[0] if rows else None

    def scalar(self, query: str, params: Any = None) -> Any:
        row = self.first(query, params)
        return None if row is None else row[0]

    def run(self, query: str, params: Any = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        return self._call(query, params)[1]

    def later(
        self,
        query: str,
        params: Any = None,
        *,
        then: Callable[[list[Any]], None] | None = None,
    ) -> None:
        """Run a write whose outcome nobody reads with the next statement of the unit of work,
        or with its COMMIT: one round trip fewer. Its error is raised there. Only inside a
        transaction; a unit of work that does not commit drops it.

        ``then`` gets the rows it returns (the ids the server gave a new row) once its round
        trip, which may be the COMMIT's, has succeeded: it takes them in and never refuses,
        since what it could refuse may already be committed (``ahead`` is for checks)."""
        assert not self.connection.autocommit, "later() is for writes in a unit of work"
        statement = compiled(query)
        taking = None if then is None else Ahead(self, then, 1, refuses=False)
        self._queued.append((statement, self._values(statement, params), taking))

    def ahead(self, reads: Sequence[tuple[str, Any]], check: Callable[..., T]) -> Ahead[T]:
        """Send ``reads`` (statement, parameters) with the unit of work's next statement, ahead
        of it: one round trip fewer. ``check`` gets their rows (one list per read) as soon as
        they arrive, before any later statement's outcome is used: what it raises is raised
        there, in place of that statement's result or error. ``Ahead.value()`` is what it
        returned. Only inside a transaction; reads ahead never travel with a COMMIT."""
        return self._waiting(self._queued, reads, check)

    def behind(self, reads: Sequence[tuple[str, Any]], check: Callable[..., T]) -> Ahead[T]:
        """``ahead``, but sent right behind the unit of work's next statement: they see what
        it waited for (the rows it locked, as the lock's holder left them)."""
        return self._waiting(self._behind, reads, check)

    def _waiting(
        self,
        queue: list[_Queued],
        reads: Sequence[tuple[str, Any]],
        check: Callable[..., T],
    ) -> Ahead[T]:
        assert not self.connection.autocommit, "reads ahead are for a unit of work"
        waiting: Ahead[T] = Ahead(self, check, len(reads))
        for query, params in reads:
            statement = compiled(query)
            queue.append((statement, self._values(statement, params), waiting))
        return waiting

    def stream(self, query: str, params: Any = None, *, size: int = 1000) -> Iterator[Any]:
        """Rows from a server-side cursor, ``size`` at a time (constant memory)."""
        self.flush()
        with self.connection.cursor(name="shopctl_stream") as cursor:
            cursor.itersize = size
            cursor.execute(query, params)
            yield from cursor

    def commit(self) -> None:
        """COMMIT, with the writes still queued, in one round trip (reads still ahead go first,
        in a round trip of their own: their check must pass before anything commits)."""
        if self._behind or any(w is not None and w.refuses for _, _, w in self._queued):
            self.flush()
        if self._queued or self._pgconn.transaction_status != TransactionStatus.IDLE:
            self._round_trip(None, [], commit=True)

    def flush(self) -> None:
        """Send the queued writes and reads now (before psycopg's own cursors use the
        connection, or for a read whose value is asked for)."""
        if self._queued or self._behind:
            self._round_trip(None, [])

    def discard(self) -> None:
        """Forget the queued writes and reads: their unit of work rolls back."""
        self._queued.clear()
        self._behind.clear()

    def _call(self, query: str, params: Any, row: Any = None) -> tuple[list[Any], int]:
        statement = compiled(query)
        return self._round_trip(statement, self._values(statement, params), row=row)

    def _values(self, statement: Statement, params: Any) -> list[bytes | None]:
        if not statement.names:
            return []
        encoding = self._encoding
        return [encode(params[name], encoding) for name in statement.names]

    def _round_trip(
        self,
        statement: Statement | None,
        values: list[bytes | None],
        *,
        row: Any = None,
        commit: bool = False,
    ) -> tuple[list[Any], int]:
        pgconn, connection = self._pgconn, self.connection
        # What each result answers: a statement run, a statement prepared, BEGIN or COMMIT;
        # and, for a read ahead, whose.
        sent: list[tuple[str, Statement | None, Ahead[Any] | None]] = []
        queued, self._queued = self._queued, []
        behind, self._behind = self._behind, []
        main = -1  # which result is the statement's
        self.round_trips += 1
        pgconn.enter_pipeline_mode()
        try:
            if not connection.autocommit and pgconn.transaction_status == TransactionStatus.IDLE:
                pgconn.send_query_params(_begin_command(connection), None)
                sent.append(("begin", None, None))
            for each, each_values, waiting in queued:
                self._send(each, each_values, sent, waiting)
            if statement is not None:
                self._send(statement, values, sent)
                main = len(sent) - 1  # its run (after its PREPARE, if it had one)
            for each, each_values, waiting in behind:
                self._send(each, each_values, sent, waiting)
            if commit:
                pgconn.send_query_params(b"COMMIT", None)
                sent.append(("commit", None, None))
            pgconn.pipeline_sync()
            waits = cooperative_wait.get()
            if waits is None:
                results = connection.wait(_exchange(pgconn, len(sent)))
            else:
                results = waits(_exchange(pgconn, len(sent)), pgconn.socket)
            pgconn.exit_pipeline_mode()
        except BaseException:
            # Interrupted, or the connection broke: what it still owes cannot be read.
            connection.close()
            raise
        error: BaseException | None = None
        taken: list[tuple[Ahead[Any], list[Any]]] = []
        for (kind, answered, waiting), answer in zip(sent, results, strict=True):
            failed = not answer or answer[-1].status in _FAILED
            if kind == "prepare" and failed:
                self._names.pop(answered, None)  # type: ignore[arg-type]
            if error is None and answer and answer[-1].status == ExecStatus.FATAL_ERROR:
                failure = _error(answer[-1], answered, self._encoding)
                if failure.sqlstate is None:  # libpq's own: the connection failed
                    connection.close()
                error = failure
            if error is None and waiting is not None and kind == "run":
                assert answered is not None
                rows = self._loaded(answered, answer[-1], None)
                if not waiting.refuses:  # a write's ids: taken in once all of it succeeded
                    taken.append((waiting, rows))
                    continue
                try:  # in order: a failed check stands before any later statement's outcome
                    waiting.arrived(rows)
                except Exception as refused:
                    error = refused
        if error is not None:
            raise error
        for waiting, rows in taken:
            waiting.arrived(rows)
        if statement is None:
            return [], 0
        last = results[main][-1]
        return self._loaded(statement, last, row), last.command_tuples or 0

    def _send(
        self,
        statement: Statement,
        values: list[bytes | None],
        sent: list[Any],
        waiting: Ahead[Any] | None = None,
    ) -> None:
        pgconn = self._pgconn
        name = self._names.get(statement)
        if name is None and self._prepare:
            runs = self._counts[statement] = self._counts.get(statement, 0) + 1
            if runs >= PREPARE_AT and len(self._names) < PREPARED_MAX:
                name = self._names[statement] = b"shopctl_%d" % statement.number
                pgconn.send_prepare(name, statement.text)
                sent.append(("prepare", statement, None))
        if name is None:
            pgconn.send_query_params(statement.text, values)
        else:
            pgconn.send_query_prepared(name, values)
        sent.append(("run", statement, waiting))

    def _loaded(self, statement: Statement, result: PGresult, row: Any) -> list[Any]:
        if result.status != ExecStatus.TUPLES_OK:
            return []
        if row is None:
            row = statement.row
            if row is None:
                names = [result.fname(i) or b"" for i in range(result.nfields)]
                row = statement.row = row_type([n.decode(self._encoding) for n in names])._make
        transformer = self._transformer
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, row)


def _exchange(pgconn: PGconn, count: int) -> PQGen[list[list[PGresult]]]:
    """Send the pipeline, then read its ``count`` results and its sync: one wait for all."""
    yield from send(pgconn)
    results = []
    for _ in range(count):
        results.append((yield from fetch_many(pgconn)))
    yield from fetch_many(pgconn)  # the pipeline's sync
    return results


class Ahead(Generic[T]):
    """Reads sent with a unit of work's next statement (``Sql.ahead``, ``Sql.behind``), and
    what their check made of their rows."""

    __slots__ = ("_check", "_missing", "_rows", "_sql", "_value", "refuses")

    def __init__(
        self, sql: Sql, check: Callable[..., T], reads: int, *, refuses: bool = True
    ) -> None:
        self._sql = sql
        self._check = check
        self._missing = reads
        self._rows: list[list[Any]] = []
        self.refuses = refuses  # a check that may refuse never travels with a COMMIT

    def arrived(self, rows: list[Any]) -> None:
        """One read's rows, in the order sent; the check runs on the last one's arrival."""
        self._rows.append(rows)
        self._missing -= 1
        if self._missing == 0:
            self._value = self._check(*self._rows)

    def value(self) -> T:
        """What the check returned (sending the reads now if nothing has taken them yet)."""
        if self._missing:
            self._sql.flush()
        assert not self._missing, "the unit of work ended before its reads ahead were sent"
        return self._value


# Prepared the second time a statement runs on a connection: the checkout's repeat at once,
# while a command's one-off statements are not kept on the server.
PREPARE_AT = 2
PREPARED_MAX = 500
_FAILED = (ExecStatus.FATAL_ERROR, ExecStatus.PIPELINE_ABORTED)
_EXECUTORS: WeakKeyDictionary[Connection[Any], Sql] = WeakKeyDictionary()


def executor_of(connection: Connection[Any]) -> Sql:
    """The one ``Sql`` of ``connection``."""
    sql = _EXECUTORS.get(connection)
    if sql is None:
        sql = _EXECUTORS[connection] = Sql(connection)
    return sql


def _begin_command(connection: Connection[Any]) -> bytes:
    """What psycopg would send to start a transaction with the connection's settings."""
    parts = [b"BEGIN"]
    if connection.isolation_level is not None:
        parts += [b"ISOLATION LEVEL", connection.isolation_level.name.replace("_", " ").encode()]
    if connection.read_only is not None:
        parts.append(b"READ ONLY" if connection.read_only else b"READ WRITE")
    return b" ".join(parts)


def _error(result: PGresult, statement: Statement | None, encoding: str) -> psycopg.Error:
    """The driver's error for a failed result. A result with no SQLSTATE is libpq's own
    (the server closed the connection mid-pipeline, say): an ``OperationalError``, as psycopg
    raises when it loses the connection itself, not the bare ``DatabaseError`` psycopg would
    make of it, which would read as a bug instead of a lost connection."""
    from psycopg import OperationalError
    from psycopg.errors import error_from_result

    error = error_from_result(result, encoding=encoding)
    if not error.sqlstate and not isinstance(error, OperationalError):
        return OperationalError(str(error))
    if isinstance(error, LockNotAvailable) and statement is not None:
        # The server names the busy relation only when it waited on the row's locker;
        # the statement text lets the error say what was busy in every case.
        error.add_note(statement.query)
    return error


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
                check_schema(executor_of(connection))
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
        statements through it."""
        return executor_of(connection)

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
            sql = self.executor(connection)
            yield sql
            sql.commit()
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
    """Start a unit of work's transaction (lazily: its BEGIN goes with its first statement;
    ``setup``, the settings of this transaction, is that first statement). Units of work of
    one thread never nest."""
    assert connection.pgconn.transaction_status == TransactionStatus.IDLE, "a transaction is open"
    # psycopg's setters cost a wait each even when nothing changes: set only what changes
    connection.autocommit = False
    if read_only:
        connection.read_only = True
    if setup is not None:
        executor_of(connection).later(setup)


def commit_unit(connection: Connection[Any]) -> None:
    """COMMIT the unit of work, with the writes it still has queued."""
    executor_of(connection).commit()


def gone(connection: Connection[Any]) -> bool:
    """Whether ``connection`` can no longer be used (it broke, or ``end_unit`` closed it)."""
    return connection.closed or connection.broken


def end_unit(connection: Connection[Any]) -> None:
    """Roll back what was not committed (nothing is sent when nothing is open), and let the
    connection rest in autocommit again."""
    import psycopg

    executor_of(connection).discard()
    if connection.closed or connection.broken:
        return
    try:
        if connection.pgconn.transaction_status != TransactionStatus.IDLE:
            connection.rollback()
        connection.autocommit = True
        if connection.read_only is not None:
            connection.read_only = None
        if connection.isolation_level is not None:
            connection.isolation_level = None
    except psycopg.Error:  # the connection went away meanwhile: nothing is left open
        connection.close()


def ids(values: Iterable[int | None]) -> Sequence[int]:
    """Distinct ids in ascending order: the order in which rows are locked."""
    return sorted({value for value in values if value is not None})
