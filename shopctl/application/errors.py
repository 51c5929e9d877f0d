"""Errors raised by ports and adapters that the application reports as they are."""

from __future__ import annotations

from shopctl.domain.errors import ErrorKind, ShopError


class DatabaseUnavailable(ShopError):
    """The database cannot be reached, or its schema is not at the latest migration."""

    kind = ErrorKind.UNAVAILABLE


class TransientConflict(ShopError):
    """A serialization failure or deadlock: the whole unit of work may simply be run again."""

    kind = ErrorKind.CONFLICT


class DatabaseUnreachable(DatabaseUnavailable):
    """A connection could not be opened: the server (or the pooler in front) did not take it."""


class ConnectionLost(DatabaseUnavailable):
    """The connection broke while a command used it (a server or pooler restart, a failover,
    ``pg_terminate_backend``): its open transaction was rolled back by the server."""


class LockTimeout(ShopError):
    """A lock stayed busy for longer than ``lock_timeout``: another session holds it."""

    kind = ErrorKind.CONFLICT


class StatementTimeout(DatabaseUnavailable):
    """A statement ran for longer than ``statement_timeout`` and the server cancelled it."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying what the command had kept when it came (``kept``, one clause: "nothing
    was imported", "2 batches were committed (…)"). Still a KeyboardInterrupt: whatever does
    not know it sees an interrupt."""

    def __init__(self, kept: str) -> None:
        super().__init__(kept)
        self.kept = kept
