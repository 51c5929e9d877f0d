"""Paying an order through the PaymentGateway port, and the payment history of an order."""

from __future__ import annotations

from shopctl.application.auth import Principal, authorize, authorizing, require_user
from shopctl.application.dto import PaymentView
from shopctl.application.orders import load_order, refund_payment, release, visible
from shopctl.application.ports import ChargeResult, ChargeStatus, Clock, PaymentGateway
from shopctl.application.products import UnitOfWorkFactory
from shopctl.application.retry import run_with_retries
from shopctl.domain.errors import Conflict, Hint, PaymentFailed
from shopctl.domain.orders import OrderStatus
from shopctl.domain.payments import (
    DEFAULT_CARD,
    Payment,
    PaymentStatus,
    default_idempotency_key,
    validate_card,
    validate_idempotency_key,
)


class PayOrder:
    """Charge a pending order and, on success, turn its reservations into sales.

    1. One unit of work checks the order (owner, pending, not expired) and records the
       attempt under its idempotency key (an earlier attempt with the same key is reused).
    2. The gateway is called with no transaction open, so no row lock is held meanwhile.
    3. A second unit of work records the outcome; on success the order becomes paid and its
       reservations are committed (``stock_on_hand -= q``, ``reserved -= q``, ``sale``
       movements). If the order was cancelled, expired or paid by another attempt in between,
       the charge is refunded at once and the caller gets a conflict.

    Declined or failed → ``PaymentFailed`` (the order stays payable).
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gateway: PaymentGateway) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway

    def __call__(
        self,
        principal: Principal | None,
        order_id: int,
        *,
        card: str = DEFAULT_CARD,
        idempotency_key: str | None = None,
    ) -> PaymentView:
        claimed = require_user(principal)
        card = validate_card(card)
        key = None if idempotency_key is None else validate_idempotency_key(idempotency_key)
        attempt, user = run_with_retries(lambda: self._record_attempt(claimed, order_id, card, key))
        result = self._gateway.charge(
            attempt.amount, attempt.currency, card, attempt.idempotency_key
        )
        payment, order_status = run_with_retries(
            lambda: self._record_result(attempt, result, actor=user.email)
        )
        if order_status is not None:
            refund_payment(self._uow, self._gateway, payment)
            raise Conflict(
                f"order {order_id} is {order_status}; the charge {result.reference} was refunded"
            )
        if payment.status is PaymentStatus.DECLINED:
            raise PaymentFailed(
                f"card declined ({payment.decline_code}); order {order_id} is still payable",
                hint=Hint.TRY_ANOTHER_CARD,
            )
        if payment.status is PaymentStatus.FAILED:
            raise PaymentFailed(
                f"payment failed ({payment.decline_code}); order {order_id} is still payable",
                hint=Hint.RUN_AGAIN,
            )
        return PaymentView.of(payment)

    def _record_attempt(
        self, principal: Principal, order_id: int, card: str, key: str | None
    ) -> tuple[Payment, Principal]:
        now = self._clock.now()
        with self._uow() as uow:
            # One round trip: the session check, the order's lock, then its payments as the
            # lock's last holder left them.
            checked = authorizing(uow.accounts, principal)
            payments = uow.payments.for_order_after_next(order_id)
            locked = uow.orders.get(order_id, for_update=True)
            user = checked()
            order = visible(locked, user, order_id)
            earlier = payments()
            key = key or default_idempotency_key(order_id, card, earlier)
            if order.is_due(now):
                release(uow, order, order.expire(now))
                uow.commit()
            order.check_payable(now)  # a paid order refuses a second payment, whatever the key
            # The same key again (a run whose outcome was lost, or a concurrent one) reuses the
            # recorded attempt: the gateway replays it instead of charging twice.
            payment = next((p for p in earlier if p.idempotency_key == key), None)
            if payment is None:
                payment = Payment(order_id, order.total, order.currency, key)
                uow.payments.add(payment)
            uow.commit()
            if payment.id is None:  # another order's payment holds the key: nothing stored
                raise Conflict(f"idempotency key {key!r} is already in use")
            return payment, user

    def _record_result(
        self, attempt: Payment, result: ChargeResult, *, actor: str
    ) -> tuple[Payment, OrderStatus | None]:
        """The stored payment with the outcome, and the order's status when it must be
        refunded because the order can no longer be paid by it."""
        now = self._clock.now()
        with self._uow() as uow:
            # One round trip: the order's lock, then the attempt and (a charge to sell) the
            # products its reservations hold, as the lock's last holder left them.
            stored = uow.payments.get_by_key_after_next(attempt.idempotency_key)
            selling = None
            if result.status is ChargeStatus.SUCCEEDED:
                selling = uow.inventory.lock_order_products_after_next(attempt.order_id)
            order = uow.orders.get(attempt.order_id, for_update=True)
            payment = stored()
            assert order is not None, "the order was stored before the charge"
            assert payment is not None, "the attempt was stored before the charge"
            if result.status is ChargeStatus.DECLINED:
                payment.decline(result.reference, result.decline_code or "card_declined")
            elif result.status is ChargeStatus.FAILED:
                payment.fail(result.reference, result.decline_code or "processing_error")
            elif payment.status is PaymentStatus.SUCCEEDED:
                return payment, None  # a concurrent run of the same attempt recorded it
            elif order.status is not OrderStatus.PENDING_PAYMENT:
                if payment.status is PaymentStatus.PENDING:  # else a concurrent run did this
                    payment.captured(result.reference)
                    uow.payments.update(payment)
                    uow.commit()
                return payment, order.status
            else:
                # Past its TTL but not yet expired by anyone: its units are still held, so the
                # sale goes through (expiry skips orders whose payment is being recorded).
                assert selling is not None, "a charge that succeeded sells"
                products, _ = selling()
                payment.succeed(result.reference)
                sold = order.mark_paid(now)
                assert {p.id for p in products} == {r.product_id for r in sold}, (
                    "read behind the order's lock, which holds its reservations"
                )
                by_id = {p.id: p for p in products}
                for reservation in sold:
                    by_id[reservation.product_id].commit_reservation(
                        reservation.quantity, order_id=order.id, actor=actor
                    )
                uow.inventory.save_products(products)
                uow.orders.update(order)
            uow.payments.update(payment)
            uow.commit()
            return payment, None


class ListPayments:
    """Every payment attempt of an order (owner or admin), oldest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None, order_id: int) -> list[PaymentView]:
        require_user(principal)
        with self._uow() as uow:
            user = authorize(uow.accounts, principal)
            load_order(uow, user, order_id)
            return [PaymentView.of(p) for p in uow.payments.for_order(order_id)]
