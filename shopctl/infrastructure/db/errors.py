"""Driver errors as the user's errors, decided by SQLSTATE, never by message text.

A server in another language, or a message that happens to contain "does not exist" (an
unknown role), must not change what shopctl reports. libpq gives no SQLSTATE for a failed
connection attempt, so ``connect_failure`` asks the server instead: it connects to the
maintenance database with the same credentials and looks the database up in
``pg_database``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shopctl.application.errors import (
    ConnectionLost,
    DatabaseUnavailable,
    DatabaseUnreachable,
    LockTimeout,
    StatementTimeout,
    TransientConflict,
)
from shopctl.domain.errors import Hint, ShopError
from shopctl.infrastructure.db.urls import database_name, mask_url

if TYPE_CHECKING:
    import psycopg

    from shopctl.infrastructure.db.connect import ConnectionSettings

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
UNIQUE_VIOLATION = "23505"
INVALID_CATALOG_NAME = "3D000"  # the database does not exist
INVALID_PASSWORD = "28P01"
INVALID_AUTHORIZATION = "28000"  # e.g. an unknown role, or pg_hba.conf refuses
# 57P01 admin_shutdown (pg_terminate_backend, a fast shutdown), 57P02 crash_shutdown,
# 57P03 cannot_connect_now (starting up, shutting down)
CONNECTION_LOST_STATES = {"57P01", "57P02", "57P03"}
CONNECTION_EXCEPTION_CLASS = "08"

TRANSIENT_STATES = {SERIALIZATION_FAILURE, DEADLOCK_DETECTED}
READ_ONLY_SQL_TRANSACTION = "25006"  # a hot standby, or default_transaction_read_only
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
QUERY_CANCELED = "57014"  # statement_timeout (Ctrl-C is a KeyboardInterrupt before this)
INVALID_SQL_STATEMENT_NAME = "26000"  # "prepared statement ... does not exist"
_RELATION = re.compile(r'relation "([^"]+)"')
_FIRST_TABLE = re.compile(r"\b(?:FROM|UPDATE|INTO)\s+([A-Za-z_][A-Za-z0-9_]*)")
DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = %s"


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def unreachable(url: str, reason: str) -> DatabaseUnreachable:
    return DatabaseUnreachable(
        f"cannot reach the database at {mask_url(url)}: {reason}", hint=Hint.CHECK_DATABASE_URL
    )


class DatabaseMissing(DatabaseUnavailable):
    """The server answers, but the database does not exist (``db upgrade`` creates it)."""


def missing_database(url: str) -> DatabaseMissing:
    return DatabaseMissing(
        f"the database {database_name(url)!r} does not exist yet", hint=Hint.MIGRATE
    )


def classify(error: psycopg.Error) -> str:
    """What ``error`` is, by its SQLSTATE: transient, lost (the connection is gone), refused
    (authentication), missing (no such database), read_only (the server takes no writes),
    lock_timeout, statement_timeout, pooled (a prepared statement vanished: a transaction
    pooler in front), or other."""
    state = error.sqlstate or ""
    if state in TRANSIENT_STATES:
        return "transient"
    if state == LOCK_NOT_AVAILABLE:
        return "lock_timeout"
    if state == QUERY_CANCELED:
        return "statement_timeout"
    if state == INVALID_SQL_STATEMENT_NAME:
        return "pooled"
    if state == READ_ONLY_SQL_TRANSACTION:
        return "read_only"
    if state == INVALID_CATALOG_NAME:
        return "missing"
    if state in (INVALID_PASSWORD, INVALID_AUTHORIZATION):
        return "refused"
    if state in CONNECTION_LOST_STATES or state.startswith(CONNECTION_EXCEPTION_CLASS):
        return "lost"
    import psycopg

    if not state and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return "lost"  # no SQLSTATE: the client lost the server (socket closed, timeout)
    return "other"


def translate(
    url: str, error: BaseException, *, writing: bool = True, gone: bool = False
) -> ShopError | None:
    """The user's error for a driver error that ended a unit of work; None: a bug. A write
    refused in a unit of work that meant to read only is a bug too (``writing=False``).
    ``gone``: the unit's connection is broken or closed after it, so whatever the driver said
    last (a COPY it could not end, say), the connection was lost."""
    import psycopg

    if isinstance(error, ShopError):
        return error
    if not isinstance(error, psycopg.Error):
        return None
    kind = classify(error)
    if kind == "other" and gone:
        kind = "lost"
    if kind == "read_only":
        if not writing:
            return None
        return DatabaseUnavailable(
            f"the database at {mask_url(url)} is read-only (a standby?): nothing was written",
            hint=Hint.CHECK_DATABASE_URL,
        )
    if kind == "transient":
        return TransientConflict("the database refused a concurrent change; retry")
    if kind == "missing":
        return missing_database(url)
    if kind == "refused":
        return unreachable(url, first_line(error))
    if kind == "lost":
        return ConnectionLost(
            f"lost the connection to the database at {mask_url(url)} ({first_line(error)}):"
            " its open transaction was rolled back",
            hint=Hint.RUN_AGAIN,
        )
    if kind == "lock_timeout":
        return LockTimeout(
            f"{_busy(error)} stayed locked by another session for longer than lock_timeout:"
            " nothing was written",
            hint="pg_stat_activity shows who holds it (application_name names shopctl's"
            " commands); run again when it is free",
        )
    if kind == "statement_timeout":
        return StatementTimeout(
            "the database cancelled a statement that ran longer than statement_timeout:"
            " nothing was written",
            hint="raise statement_timeout (SHOPCTL_STATEMENT_TIMEOUT), or 0 for none",
        )
    if kind == "pooled":
        return DatabaseUnavailable(
            f"a prepared statement vanished at {mask_url(url)}: a transaction pooler"
            " (PgBouncer in transaction mode) is in front",
            hint="set database_pooler = transaction (SHOPCTL_DATABASE_POOLER=transaction)",
        )
    return None


def _busy(error: psycopg.Error) -> str:
    """What the statement waited for: the relation the server's context names, else the
    first table of the statement that gave up (``Sql`` notes it on the error)."""
    found = _RELATION.search(error.diag.context or "")
    if found:
        return f"a row of {found.group(1)}"
    for statement in getattr(error, "__notes__", ()):
        table = _FIRST_TABLE.search(statement)
        if table:
            return f"a row of {table.group(1)}"
    return "a row or table this command needs"


@contextmanager
def translated(url: str, *, writing: bool = True) -> Iterator[None]:
    """Raise the user's error instead of a driver error that has one."""
    import psycopg

    try:
        yield
    except psycopg.Error as error:
        shop_error = translate(url, error, writing=writing)
        if shop_error is None:
            raise
        raise shop_error from error


def connect_failure(settings: ConnectionSettings, error: psycopg.OperationalError) -> ShopError:
    """Why a connection could not be opened. With a SQLSTATE (some drivers and poolers send
    one), by it; without, the server is asked whether the database exists."""
    if error.sqlstate and classify(error) != "lost":  # not lost: it was never had
        translated_error = translate(settings.url, error)
        if translated_error is not None:
            return translated_error
    # Asked only when the refusal names the database: a pooler's alias (a name the server's
    # pg_database does not hold) refused for another reason, a missing client certificate
    # say, must not read as a database to create.
    said = first_line(error)
    if database_name(settings.url) in said and _database_missing(settings):
        return missing_database(settings.url)
    return unreachable(settings.url, said)


def _database_missing(settings: ConnectionSettings) -> bool:
    import psycopg

    name = database_name(settings.url)
    for maintenance in ("postgres", "template1"):
        if maintenance == name:
            continue
        try:
            parameters = settings.for_database(maintenance).parameters()
            with psycopg.connect(**parameters, autocommit=True) as connection:
                found = connection.execute(DATABASE_EXISTS, (name,)).fetchone()
                return found is None
        except psycopg.Error:
            continue
    return False
