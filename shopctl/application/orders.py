"""Order use cases: place, list, show, cancel, fulfill; expiry of reservations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from shopctl.application.auth import Principal, authorize, authorizing, require_user
from shopctl.application.dto import ExpiryReport, OrderView, ReservationView
from shopctl.application.ports import Clock, PaymentGateway
from shopctl.application.products import UnitOfWorkFactory
from shopctl.application.retry import run_with_retries
from shopctl.domain.errors import Conflict, NotFound
from shopctl.domain.orders import InventoryReservation, Order, OrderLine, OrderStatus
from shopctl.domain.payments import Payment, PaymentStatus
from shopctl.domain.repositories import OrderQuery, UnitOfWork


def load_order(
    uow: UnitOfWork, principal: Principal, order_id: int, *, for_update: bool = False
) -> Order:
    """The order if ``principal`` may see it; another customer's order does not exist for them."""
    return visible(uow.orders.get(order_id, for_update=for_update), principal, order_id)


def visible(order: Order | None, principal: Principal, order_id: int) -> Order:
    """``order`` if ``principal`` may see it (``load_order``'s rule)."""
    if order is None or (order.user_id != principal.user_id and not principal.is_admin):
        raise NotFound(f"no order {order_id}")
    return order


def release(uow: UnitOfWork, order: Order, reservations: Sequence[InventoryReservation]) -> None:
    """Give the units of ``reservations`` back (``reserved -= q``) and store the order."""
    if reservations:
        products, _ = uow.inventory.lock_products([r.product_id for r in reservations])
        by_id = {p.id: p for p in products}
        for reservation in reservations:
            by_id[reservation.product_id].release(reservation.quantity)
        uow.inventory.save_products(products)
    uow.orders.update(order)


class PlaceOrder:
    """Turn the cart into a pending order whose units are reserved until the TTL passes.

    One unit of work: lock the cart, lock its products in ascending id order, expire due
    reservations on them, reserve (quantities summed per product), store the order, empty
    the cart. Lost serialization races and deadlocks re-run the whole unit.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ttl: timedelta, currency: str) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl = ttl
        self._currency = currency

    def __call__(self, principal: Principal | None) -> OrderView:
        user = require_user(principal)
        return run_with_retries(lambda: self._place(user))

    def _place(self, principal: Principal) -> OrderView:
        now = self._clock.now()
        with self._uow() as uow:
            # One round trip: the session check, the cart's lock, then its products' locks.
            checked = authorizing(uow.accounts, principal)
            locking = uow.inventory.lock_cart_products_after_next(principal.user_id, due_at=now)
            cart = uow.carts.get(principal.user_id, for_update=True)
            user = checked()
            products, due = locking()
            ids = [line.product.id for line in cart.lines if line.product.id is not None]
            if due:  # lazily release what expired on these products, then read them again
                uow.inventory.release_expired(now, ids)
                products, _ = uow.inventory.lock_products(ids)
            by_id = {p.id: p for p in products}
            missing = [line.product.sku for line in cart.lines if line.product.id not in by_id]
            if missing:
                raise Conflict(f"{missing[0]} no longer exists; remove it from your cart")
            items = [(by_id[line.product.id], line.quantity) for line in cart.lines]
            order = Order.place(
                user.user_id, items, now=now, ttl=self._ttl, currency=self._currency
            )
            uow.orders.add(order)
            uow.inventory.save_products(products)
            cart.clear()
            uow.carts.save(cart)
            uow.commit()
            return OrderView.of(order)


class ListOrders:
    """The caller's orders, or every order (``all_users``, admins only); newest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(
        self,
        principal: Principal | None,
        *,
        all_users: bool = False,
        status: OrderStatus | None = None,
    ) -> list[OrderView]:
        require_user(principal)
        with self._uow() as uow:
            user = authorize(uow.accounts, principal, admin=all_users)
            query = OrderQuery(user_id=None if all_users else user.user_id, status=status)
            return [OrderView.of(order) for order in uow.orders.list(query)]


class GetOrder:
    """One order: its owner's or, for admins, anyone's."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None, order_id: int) -> OrderView:
        require_user(principal)
        with self._uow() as uow:
            user = authorize(uow.accounts, principal)
            return OrderView.of(load_order(uow, user, order_id))


class CancelOrder:
    """Cancel a pending order (its reservations are released) or a paid one (refunded through
    the gateway and restocked with ``restock_cancel`` movements). Others are refused.

    The cancellation commits before the gateway is called (no row lock is held during the
    call), so nobody can fulfill the order meanwhile; the refund is recorded afterwards.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, gateway: PaymentGateway) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway

    def __call__(self, principal: Principal | None, order_id: int) -> OrderView:
        user = require_user(principal)
        order, captured = run_with_retries(lambda: self._cancel(user, order_id))
        if captured is not None:
            refund_payment(self._uow, self._gateway, captured)
        return OrderView.of(order)

    def _cancel(self, principal: Principal, order_id: int) -> tuple[Order, Payment | None]:
        now = self._clock.now()
        with self._uow() as uow:
            user = authorize(uow.accounts, principal)
            order = load_order(uow, user, order_id, for_update=True)
            if order.is_due(now):
                release(uow, order, order.expire(now))
                uow.commit()
                raise Conflict(f"{order.label} is expired; its reservations were released")
            was_paid = order.status is OrderStatus.PAID
            if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
                # A refund owed on a closed order did not go through (the gateway failed, or
                # the process died): running the cancel again retries it.
                owed = _captured(uow, order_id)
                if owed is not None:
                    return order, owed
            released = order.cancel()
            release(uow, order, released)
            captured = None
            if was_paid:
                restock(uow, order.lines, order_id=order_id, actor=user.email)
                captured = _captured(uow, order_id)
            uow.commit()
            return order, captured


def _captured(uow: UnitOfWork, order_id: int) -> Payment | None:
    """The order's captured payment, if any: succeeded, or charged by a payment whose order
    could no longer take it (pending with a gateway reference: its refund is owed)."""
    payments = uow.payments.for_order(order_id)
    return next((p for p in payments if p.is_captured), None)


def restock(uow: UnitOfWork, lines: Sequence[OrderLine], *, order_id: int, actor: str) -> None:
    products, _ = uow.inventory.lock_products([line.product_id for line in lines])
    by_id = {p.id: p for p in products}
    for line in lines:
        by_id[line.product_id].restock_cancelled(line.quantity, order_id=order_id, actor=actor)
    uow.inventory.save_products(products)


def refund_payment(
    uow_factory: UnitOfWorkFactory, gateway: PaymentGateway, payment: Payment
) -> None:
    """Refund a captured payment in full, then record it (the gateway call holds no lock)."""
    assert payment.gateway_reference is not None, "only captured payments are refunded"
    gateway.refund(payment.gateway_reference, payment.amount, f"refund-{payment.idempotency_key}")

    def record() -> None:
        with uow_factory() as uow:
            stored = uow.payments.get_by_key(payment.idempotency_key)
            assert stored is not None
            if stored.status is not PaymentStatus.REFUNDED:
                stored.gateway_reference = payment.gateway_reference
                stored.refund()
                uow.payments.update(stored)
                uow.commit()

    run_with_retries(record)


class FulfillOrder:
    """paid → fulfilled (admins only)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None, order_id: int) -> OrderView:
        require_user(principal)

        def fulfill() -> OrderView:
            with self._uow() as uow:
                admin = authorize(uow.accounts, principal, admin=True)
                order = load_order(uow, admin, order_id, for_update=True)
                order.fulfill()
                uow.orders.update(order)
                uow.commit()
                return OrderView.of(order)

        return run_with_retries(fulfill)


class ListReservations:
    """Inventory reservations, newest first (admins only)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(
        self, principal: Principal | None, *, active_only: bool = False
    ) -> list[ReservationView]:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
            return [
                ReservationView(r.id, r.order_id, r.sku, r.quantity, r.status.value, r.expires_at)
                for r in uow.inventory.reservations(active_only=active_only)
            ]


class ReleaseExpiredReservations:
    """Expire every pending order past its TTL and release its reserved units (admins only)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, principal: Principal | None) -> ExpiryReport:
        require_user(principal)

        def expire() -> int:
            with self._uow() as uow:
                authorize(uow.accounts, principal, admin=True)
                count = uow.inventory.release_expired(self._clock.now())
                uow.commit()
                return count

        return ExpiryReport(expired_orders=run_with_retries(expire))
