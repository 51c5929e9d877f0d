"""Domain errors. Each carries a stable ``kind`` that the CLI edge maps to an exit code."""

from __future__ import annotations

from enum import Enum, StrEnum


class ErrorKind(Enum):
    INTERNAL = "internal"
    INVALID_INPUT = "invalid_input"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PAYMENT_FAILED = "payment_failed"
    UNAVAILABLE = "unavailable"
    CHECK_FAILED = "check_failed"


class Hint(StrEnum):
    """What the user can do next, where that is a command of theirs: the driver in front (the
    CLI) words it, so that no inner layer writes a command line."""

    LOG_IN = "log_in"
    ADD_TO_CART = "add_to_cart"
    TRY_ANOTHER_CARD = "try_another_card"
    RUN_AGAIN = "run_again"
    MIGRATE = "migrate"
    CHECK_DATABASE_URL = "check_database_url"
    INSTALL_EMBEDDED = "install_embedded"


class ShopError(Exception):
    """Base of every error that shopctl reports to its user as a one-line message. ``hint``
    is a ``Hint`` or a plain sentence that names no command."""

    kind = ErrorKind.INTERNAL

    def __init__(self, message: str, *, hint: Hint | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidInput(ShopError):
    """A value breaks a rule of its own shape (malformed SKU, negative price, …)."""

    kind = ErrorKind.INVALID_INPUT


class NotAuthenticated(ShopError):
    kind = ErrorKind.NOT_AUTHENTICATED


class Forbidden(ShopError):
    kind = ErrorKind.FORBIDDEN


class NotFound(ShopError):
    kind = ErrorKind.NOT_FOUND


class Conflict(ShopError):
    """A business rule refused the change (insufficient stock, wrong state, duplicate)."""

    kind = ErrorKind.CONFLICT


class PaymentFailed(ShopError):
    kind = ErrorKind.PAYMENT_FAILED


class CheckFailed(ShopError):
    kind = ErrorKind.CHECK_FAILED
