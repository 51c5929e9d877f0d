"""Payment: one attempt to charge an order through the payment gateway."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shopctl.domain.errors import Conflict, InvalidInput
from shopctl.domain.text import storable

DEFAULT_CARD = "4242424242424242"
TRANSIENT_DECLINE_CODES = frozenset({"processing_error"})
IDEMPOTENCY_KEY_MAX = 255


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded before the gateway is called; outcome not known yet
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    FAILED = "failed"
    REFUNDED = "refunded"


def validate_card(number: str) -> str:
    """Digits only (spaces and dashes allowed as separators), 12-19 of them."""
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise InvalidInput("card number must be 12-19 digits")
    return digits


def validate_idempotency_key(key: str) -> str:
    key = storable(key, "idempotency key").strip()
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise InvalidInput(f"idempotency key must be 1-{IDEMPOTENCY_KEY_MAX} printable characters")
    return key


def card_fingerprint(card: str) -> str:
    """Identifies a card in keys and records without storing its number."""
    return hashlib.sha256(card.encode()).hexdigest()[:16]


@dataclass(eq=False)
class Payment:
    order_id: int
    amount: Decimal
    currency: str
    idempotency_key: str
    status: PaymentStatus = PaymentStatus.PENDING
    gateway_reference: str | None = None
    decline_code: str | None = None
    id: int | None = None
    created_at: datetime | None = None

    @property
    def is_transient_failure(self) -> bool:
        return self.status is PaymentStatus.FAILED and self.decline_code in TRANSIENT_DECLINE_CODES

    @property
    def is_captured(self) -> bool:
        """The gateway holds the money: succeeded, or charged but not yet refunded."""
        return self.status is PaymentStatus.SUCCEEDED or (
            self.status is PaymentStatus.PENDING and self.gateway_reference is not None
        )

    def succeed(self, reference: str) -> None:
        self._settle(PaymentStatus.SUCCEEDED, reference, None)

    def decline(self, reference: str, code: str) -> None:
        self._settle(PaymentStatus.DECLINED, reference, code)

    def fail(self, reference: str | None, code: str) -> None:
        self._settle(PaymentStatus.FAILED, reference, code)

    def captured(self, reference: str) -> None:
        """The gateway took the money but the order cannot have it: a refund must follow."""
        if self.status is not PaymentStatus.PENDING:
            raise Conflict(f"payment {self.id} is {self.status}, not pending")
        self.gateway_reference = reference

    def refund(self) -> None:
        if self.gateway_reference is None or self.status not in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.PENDING,
        ):
            raise Conflict(f"payment {self.id} is {self.status}; nothing was captured to refund")
        self.status = PaymentStatus.REFUNDED

    def _settle(self, status: PaymentStatus, reference: str | None, code: str | None) -> None:
        if self.status is status and self.gateway_reference == reference:
            return  # the same outcome recorded twice (a replayed attempt)
        if self.status is not PaymentStatus.PENDING:
            raise Conflict(f"payment {self.id} is already {self.status}")
        self.status, self.gateway_reference, self.decline_code = status, reference, code


def default_idempotency_key(order_id: int, card: str, earlier: Iterable[Payment]) -> str:
    """Same order + card + number of recorded transient failures → the same key.

    Re-running a ``pay`` whose outcome was lost therefore replays the same gateway charge
    (never a second one), while a retry after a recorded ``processing_error`` is a new attempt.
    """
    failures = sum(1 for payment in earlier if payment.is_transient_failure)
    return f"order-{order_id}-card-{card_fingerprint(card)}-try-{failures}"
