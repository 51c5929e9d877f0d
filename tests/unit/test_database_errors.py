"""Driver errors are classified by SQLSTATE, never by their message text."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from shopctl.application.errors import DatabaseUnavailable, TransientConflict
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
        (errors.QueryCanceled, "other"),
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
    assert isinstance(lost, DatabaseUnavailable) and lost.hint is Hint.CHECK_DATABASE_URL
    assert translate(URL, errors.UndefinedTable("no such table")) is None  # a bug: exit 1
    assert translate(URL, ValueError("not a driver error")) is None


def test_a_read_only_server_refuses_writes_in_words_of_its_own() -> None:
    refused = errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")
    assert classify(refused) == "read_only"
    told = translate(URL, refused)
    assert isinstance(told, DatabaseUnavailable) and "read-only (a standby?)" in told.message
    # a write inside a unit of work that meant to read only is a bug, not the server's state
    assert translate(URL, refused, writing=False) is None
