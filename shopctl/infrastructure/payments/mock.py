"""The mock payment gateway: decides by card number and keeps its own records.

Like a real provider it stores every charge and refund under its idempotency key (in
``mock_gateway_charges``, apart from the shop's ``payments``), replays the stored result
for a repeated key and refuses a key reused with different parameters. Each call is its
own short transaction (a charge, one statement): the caller holds no lock, and has no
transaction open, while it runs.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from shopctl.application.ports import ChargeResult, ChargeStatus, PaymentGateway, RefundResult
from shopctl.domain.errors import Conflict, NotFound
from shopctl.domain.payments import card_fingerprint
from shopctl.infrastructure.db.errors import translated

if TYPE_CHECKING:
    from shopctl.infrastructure.db.connect import Database

# The test cards; any other number is accepted when its Luhn checksum is right.
TEST_CARDS: dict[str, tuple[ChargeStatus, str | None]] = {
    "4242424242424242": (ChargeStatus.SUCCEEDED, None),
    "4000000000000002": (ChargeStatus.DECLINED, "card_declined"),
    "4000000000009995": (ChargeStatus.DECLINED, "insufficient_funds"),
    "4000000000000119": (ChargeStatus.FAILED, "processing_error"),
}


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def decide(card: str) -> tuple[ChargeStatus, str | None]:
    """What the mock provider answers for ``card``."""
    if card in TEST_CARDS:
        return TEST_CARDS[card]
    if not luhn_valid(card):
        return ChargeStatus.DECLINED, "incorrect_number"
    return ChargeStatus.SUCCEEDED, None


def key_reused(key: str) -> Conflict:
    return Conflict(f"idempotency key {key!r} was already used with different parameters")


# A concurrent call with the same key waits on the unique index, then inserts nothing.
RECORD_CHARGE = """
INSERT INTO mock_gateway_charges
    (idempotency_key, kind, reference, amount, currency, card_fingerprint, status, decline_code)
VALUES (%(key)s, 'charge', %(reference)s, %(amount)s, %(currency)s, %(fingerprint)s,
        %(status)s, %(decline_code)s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING reference, status, decline_code
"""
STORED = """
SELECT kind, reference, charge_reference, amount, currency, card_fingerprint, status,
       decline_code
FROM mock_gateway_charges WHERE idempotency_key = %(key)s
"""
# Refunds of one charge run one at a time: the charge row is locked, and what was already
# refunded is summed by the next statement (its snapshot is taken after the lock).
CAPTURED = """
SELECT amount FROM mock_gateway_charges
WHERE reference = %(reference)s AND kind = 'charge' AND status = 'succeeded'
FOR UPDATE
"""
REFUNDED = """
SELECT coalesce(sum(amount), 0) AS amount FROM mock_gateway_charges
WHERE kind = 'refund' AND charge_reference = %(reference)s
"""
RECORD_REFUND = """
INSERT INTO mock_gateway_charges
    (idempotency_key, kind, reference, charge_reference, amount, status)
VALUES (%(key)s, 'refund', %(reference)s, %(charge_reference)s, %(amount)s, 'succeeded')
"""


class MockPaymentGateway(PaymentGateway):
    def __init__(self, database: Database) -> None:
        self._database = database

    def charge(
        self, amount: Decimal, currency: str, card: str, idempotency_key: str
    ) -> ChargeResult:
        status, code = decide(card)
        fingerprint = card_fingerprint(card)
        # One statement, in autocommit: the insert is its own transaction, and a replay reads
        # the row it conflicted with (committed: the insert waited for it).
        with translated(self._database.url), self._database.reading(read_only=False) as sql:
            stored = sql.first(
                RECORD_CHARGE,
                {
                    "key": idempotency_key,
                    "reference": f"ch_{secrets.token_hex(12)}",
                    "amount": amount,
                    "currency": currency,
                    "fingerprint": fingerprint,
                    "status": status.value,
                    "decline_code": code,
                },
            )
            if stored is None:  # a replay: same parameters, or refused
                stored = sql.first(STORED, {"key": idempotency_key})
                if (stored.kind, stored.amount, stored.currency, stored.card_fingerprint) != (
                    "charge",
                    amount,
                    currency,
                    fingerprint,
                ):
                    raise key_reused(idempotency_key)
        return ChargeResult(ChargeStatus(stored.status), stored.reference, stored.decline_code)

    def refund(self, charge_ref: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        with self._database.transaction() as sql:
            charge = sql.first(CAPTURED, {"reference": charge_ref})
            if charge is None:
                raise NotFound(f"no succeeded charge {charge_ref!r} to refund")
            earlier = sql.first(STORED, {"key": idempotency_key})
            if earlier is not None:
                if (earlier.kind, earlier.charge_reference, earlier.amount) != (
                    "refund",
                    charge_ref,
                    amount,
                ):
                    raise key_reused(idempotency_key)
                return RefundResult(reference=earlier.reference, amount=amount)
            refunded = sql.first(REFUNDED, {"reference": charge_ref}).amount
            if refunded + amount > charge.amount:
                raise Conflict(
                    f"refund of {amount} exceeds what is left of charge {charge_ref} "
                    f"({charge.amount - refunded})"
                )
            reference = f"re_{secrets.token_hex(12)}"
            sql.run(
                RECORD_REFUND,
                {
                    "key": idempotency_key,
                    "reference": reference,
                    "charge_reference": charge_ref,
                    "amount": amount,
                },
            )
        return RefundResult(reference=reference, amount=amount)
