"""The mock payment gateway: decides by card number and keeps its own records.

Like a real provider it stores every charge and refund under its idempotency key (in
``mock_gateway_charges``, apart from the shop's ``payments``), replays the stored result
for a repeated key and refuses a key reused with different parameters. Each call is its
own short transaction on its own connection: the caller holds no lock while it runs.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from shopctl.application.ports import ChargeResult, ChargeStatus, PaymentGateway, RefundResult
from shopctl.domain.errors import Conflict, NotFound
from shopctl.domain.payments import card_fingerprint

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# SPEC §5 test cards; any other number is accepted when its Luhn checksum is right.
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


class MockPaymentGateway(PaymentGateway):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def charge(
        self, amount: Decimal, currency: str, card: str, idempotency_key: str
    ) -> ChargeResult:
        from sqlalchemy import select
        from sqlalchemy.dialects.postgresql import insert

        from shopctl.infrastructure.database.tables import mock_gateway_charges as records

        status, code = decide(card)
        fingerprint = card_fingerprint(card)
        with self._engine.begin() as connection:
            # A concurrent call with the same key waits on the unique index, then replays.
            stored = connection.execute(
                insert(records)
                .values(
                    idempotency_key=idempotency_key,
                    kind="charge",
                    reference=f"ch_{secrets.token_hex(12)}",
                    amount=amount,
                    currency=currency,
                    card_fingerprint=fingerprint,
                    status=status.value,
                    decline_code=code,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(records.c.reference, records.c.status, records.c.decline_code)
            ).first()
            if stored is None:
                stored = connection.execute(
                    select(
                        records.c.reference,
                        records.c.status,
                        records.c.decline_code,
                        records.c.kind,
                        records.c.amount,
                        records.c.currency,
                        records.c.card_fingerprint,
                    ).where(records.c.idempotency_key == idempotency_key)
                ).one()
                if (stored.kind, stored.amount, stored.currency, stored.card_fingerprint) != (
                    "charge",
                    amount,
                    currency,
                    fingerprint,
                ):
                    raise key_reused(idempotency_key)
        return ChargeResult(ChargeStatus(stored.status), stored.reference, stored.decline_code)

    def refund(self, charge_ref: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        from sqlalchemy import func, select
        from sqlalchemy.dialects.postgresql import insert

        from shopctl.infrastructure.database.tables import mock_gateway_charges as records

        with self._engine.begin() as connection:
            charge = connection.execute(
                select(records.c.amount)
                .where(
                    records.c.reference == charge_ref,
                    records.c.kind == "charge",
                    records.c.status == ChargeStatus.SUCCEEDED.value,
                )
                .with_for_update()  # refunds of one charge run one at a time
            ).first()
            if charge is None:
                raise NotFound(f"no succeeded charge {charge_ref!r} to refund")
            earlier = connection.execute(
                select(records.c.charge_reference, records.c.amount, records.c.reference).where(
                    records.c.idempotency_key == idempotency_key
                )
            ).first()
            if earlier is not None:
                if (earlier.charge_reference, earlier.amount) != (charge_ref, amount):
                    raise key_reused(idempotency_key)
                return RefundResult(reference=earlier.reference, amount=amount)
            refunded = connection.execute(
                select(func.coalesce(func.sum(records.c.amount), 0)).where(
                    records.c.charge_reference == charge_ref
                )
            ).scalar_one()
            if refunded + amount > charge.amount:
                raise Conflict(
                    f"refund of {amount} exceeds what is left of charge {charge_ref} "
                    f"({charge.amount - refunded})"
                )
            reference = f"re_{secrets.token_hex(12)}"
            connection.execute(
                insert(records).values(
                    idempotency_key=idempotency_key,
                    kind="refund",
                    reference=reference,
                    charge_reference=charge_ref,
                    amount=amount,
                    status=ChargeStatus.SUCCEEDED.value,
                )
            )
        return RefundResult(reference=reference, amount=amount)
