"""Driver errors are classified by SQLSTATE, never by their message text."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from shopctl.application.errors import (
    ConnectionLost,
    DatabaseUnavailable,
    LockTimeout,
    StatementTimeout,
    TransientConflict,
)
from shopctl.domain.errors import Hint
from shopctl.infrastructure.db.errors import DatabaseMissing, classify, translate

URL = "postgresql://shop:secret@db.internal/shop"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (errors.SerializationFailure, "transient"),
        (errors.DeadlockDetected, "transient"),
        (errors.InvalidCatalogName, "missing"),
        (errors.InvalidPassword, "refused"),
        (errors.InvalidAuthorizationSpecification, "refused"),
        (errors.AdminShutdown, "lost"),
        (errors.CrashShutdown, "lost"),
        (errors.CannotConnectNow, "lost"),
        (errors.ConnectionFailure, "lost"),
        (errors.ConnectionException, "lost"),
        (errors.UniqueViolation, "other"),
        (errors.UndefinedTable, "other"),
        (errors.QueryCanceled, "statement_timeout"),
        (errors.LockNotAvailable, "lock_timeout"),
        (errors.InvalidSqlStatementName, "pooled"),
        (errors.InsufficientPrivilege, "other"),
    ],
)
def test_every_class_by_its_sqlstate(error: type[psycopg.Error], kind: str) -> None:
    assert classify(error("whatever the server's language says")) == kind


@pytest.mark.parametrize(
    "message",
    [
        'role "x" does not exist',
        "la base de données « shop » n'existe pas",
        "connection refused",
        "",
    ],
)
def test_the_message_text_decides_nothing(message: str) -> None:
    assert classify(errors.InvalidAuthorizationSpecification(message)) == "refused"
    assert classify(errors.UndefinedTable(message)) == "other"
    # no SQLSTATE at all: the client lost the server (or never reached it)
    assert classify(psycopg.OperationalError(message)) == "lost"


def test_what_the_user_is_told() -> None:
    transient = translate(URL, errors.DeadlockDetected("deadlock detected"))
    assert isinstance(transient, TransientConflict)
    missing = translate(URL, errors.InvalidCatalogName('database "shop" does not exist'))
    assert isinstance(missing, DatabaseMissing) and missing.hint is Hint.MIGRATE
    refused = translate(URL, errors.InvalidAuthorizationSpecification('role "x" does not exist'))
    assert isinstance(refused, DatabaseUnavailable) and not isinstance(refused, DatabaseMissing)
    assert refused.hint is Hint.CHECK_DATABASE_URL
    assert "secret" not in refused.message and "***" in refused.message
    lost = translate(URL, errors.AdminShutdown("terminating connection"))
    assert isinstance(lost, ConnectionLost) and "rolled back" in lost.message
    assert "secret" not in lost.message and lost.hint is Hint.RUN_AGAIN
    assert translate(URL, errors.UndefinedTable("no such table")) is None  # a bug: exit 1
    assert translate(URL, ValueError("not a driver error")) is None


def test_a_read_only_server_refuses_writes_in_words_of_its_own() -> None:
    refused = errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")
    assert classify(refused) == "read_only"
    told = translate(URL, refused)
    assert isinstance(told, DatabaseUnavailable) and "read-only (a standby?)" in told.message
    # a write inside a unit of work that meant to read only is a bug, not the server's state
    assert translate(URL, refused, writing=False) is None


def test_timeouts_and_a_pooler_are_named_with_the_setting_that_decides() -> None:
    busy = translate(URL, errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert isinstance(busy, LockTimeout) and busy.kind.value == "conflict"
    assert "lock_timeout" in busy.message and "nothing was written" in busy.message
    assert isinstance(busy.hint, str) and "pg_stat_activity" in busy.hint
    slow = translate(URL, errors.QueryCanceled("canceling statement due to statement timeout"))
    assert isinstance(slow, StatementTimeout) and "statement_timeout" in slow.message
    pooled = translate(URL, errors.InvalidSqlStatementName('prepared statement "_pg3_0"'))
    assert isinstance(pooled, DatabaseUnavailable) and not isinstance(pooled, ConnectionLost)
    assert isinstance(pooled.hint, str) and "database_pooler = transaction" in pooled.hint


def test_a_lock_timeout_names_the_busy_table_from_the_statement_when_the_server_does_not() -> None:
    # A second waiter queues on the tuple lock, and then the server's context is empty.
    waited = errors.LockNotAvailable("canceling statement due to lock timeout")
    waited.add_note("SELECT id, stock_on_hand\nFROM products\nWHERE sku = %(sku)s FOR UPDATE")
    busy = translate(URL, waited)
    assert isinstance(busy, LockTimeout) and busy.message.startswith("a row of products ")
    unknown = translate(URL, errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert isinstance(unknown, LockTimeout) and unknown.message.startswith("a row or table")


class LibpqResult:
    """A failed result as libpq makes it itself (the server closed the connection mid-pipeline):
    a message, no SQLSTATE."""

    def error_field(self, field: object) -> bytes | None:
        return None

    def get_error_message(self, encoding: str = "utf-8") -> str:
        return "server closed the connection unexpectedly"


def test_a_failed_result_without_a_sqlstate_is_a_lost_connection() -> None:
    from shopctl.infrastructure.db.connect import _error

    error = _error(LibpqResult(), None, "utf-8")  # type: ignore[arg-type]
    assert isinstance(error, psycopg.OperationalError)
    assert classify(error) == "lost"
    assert isinstance(translate(URL, error), ConnectionLost)
