"""Domain errors. Each carries a stable ``kind`` that the CLI edge maps to an exit code."""

from __future__ import annotations

from enum import Enum


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


class ShopError(Exception):
    """Base of every error that shopctl reports to its user as a one-line message."""

    kind = ErrorKind.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
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
