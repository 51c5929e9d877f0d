"""Payments: every attempt, its outcome, and its refund."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopctl.domain.payments import Payment, PaymentStatus
from shopctl.domain.repositories import PaymentRepository
from shopctl.infrastructure.db.connect import Sql

PAYMENT_ROWS = """
SELECT id, order_id, amount, currency, idempotency_key, status, gateway_reference,
       decline_code, created_at
FROM payments
"""
# ON CONFLICT instead of catching the unique violation: the transaction stays usable.
ADD_PAYMENT = """
INSERT INTO payments (order_id, amount, currency, status, idempotency_key, gateway_reference,
                      decline_code)
VALUES (%(order_id)s, %(amount)s, %(currency)s, %(status)s, %(idempotency_key)s,
        %(gateway_reference)s, %(decline_code)s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, created_at
"""
PAYMENTS_OF_ORDER = PAYMENT_ROWS + "WHERE order_id = %(id)s ORDER BY id"
PAYMENT_BY_KEY = PAYMENT_ROWS + "WHERE idempotency_key = %(key)s"
UPDATE_PAYMENT = """
UPDATE payments SET status = %(status)s, gateway_reference = %(gateway_reference)s,
       decline_code = %(decline_code)s, updated_at = now()
WHERE id = %(id)s
"""


def _payment_from_row(row: Any) -> Payment:
    return Payment(
        id=row.id,
        order_id=row.order_id,
        amount=row.amount,
        currency=row.currency,
        idempotency_key=row.idempotency_key,
        status=PaymentStatus(row.status),
        gateway_reference=row.gateway_reference,
        decline_code=row.decline_code,
        created_at=row.created_at,
    )


class PostgresPaymentRepository(PaymentRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def add(self, payment: Payment) -> None:
        def stored(rows: list[Any]) -> None:
            if rows:  # else another payment holds the key: nothing was stored
                payment.id, payment.created_at = rows[0].id, rows[0].created_at

        # Nothing in the unit of work reads the attempt before it commits: it goes with the
        # COMMIT (one round trip fewer while the order is locked).
        self.sql.later(
            ADD_PAYMENT,
            {
                "order_id": payment.order_id,
                "amount": payment.amount,
                "currency": payment.currency,
                "status": payment.status.value,
                "idempotency_key": payment.idempotency_key,
                "gateway_reference": payment.gateway_reference,
                "decline_code": payment.decline_code,
            },
            then=stored,
        )

    def for_order(self, order_id: int) -> list[Payment]:
        return [_payment_from_row(r) for r in self.sql.rows(PAYMENTS_OF_ORDER, {"id": order_id})]

    def get_by_key(self, idempotency_key: str) -> Payment | None:
        row = self.sql.first(PAYMENT_BY_KEY, {"key": idempotency_key})
        return None if row is None else _payment_from_row(row)

    def for_order_after_next(self, order_id: int) -> Callable[[], list[Payment]]:
        def payments(rows: list[Any]) -> list[Payment]:
            return [_payment_from_row(row) for row in rows]

        return self.sql.behind([(PAYMENTS_OF_ORDER, {"id": order_id})], payments).value

    def get_by_key_after_next(self, idempotency_key: str) -> Callable[[], Payment | None]:
        def payment(rows: list[Any]) -> Payment | None:
            return _payment_from_row(rows[0]) if rows else None

        return self.sql.behind([(PAYMENT_BY_KEY, {"key": idempotency_key})], payment).value

    def update(self, payment: Payment) -> None:
        self.sql.later(
            UPDATE_PAYMENT,
            {
                "id": payment.id,
                "status": payment.status.value,
                "gateway_reference": payment.gateway_reference,
                "decline_code": payment.decline_code,
            },
        )
