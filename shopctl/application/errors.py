"""Errors raised by ports and adapters that the application reports as they are."""

from __future__ import annotations

from shopctl.domain.errors import ErrorKind, ShopError


class DatabaseUnavailable(ShopError):
    """The database cannot be reached, or its schema is not at the latest migration."""

    kind = ErrorKind.UNAVAILABLE


class TransientConflict(ShopError):
    """A serialization failure or deadlock: the whole unit of work may simply be run again."""

    kind = ErrorKind.CONFLICT
