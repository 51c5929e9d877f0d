"""Hypothesis state machine over cart → order → payment → cancel/expiry/fulfil.

Random interleavings of every purchase use case against the in-memory model; after each
step the audit invariants must hold (the same ones ``shopctl audit`` checks in SQL).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shopctl.application.auth import Principal
from shopctl.domain.errors import ShopError
from shopctl.domain.orders import OrderStatus, ReservationStatus
from shopctl.domain.payments import PaymentStatus
from shopctl.domain.products import Product
from shopctl.domain.users import Role
from tests.unit.test_purchase_use_cases import Shop

USERS = [Principal(1, "a@x.io", Role.CUSTOMER), Principal(2, "b@x.io", Role.CUSTOMER)]
ADMIN = Principal(9, "admin@x.io", Role.ADMIN)
SKUS = ["TEA", "MUG"]
CARDS = ["4242424242424242", "4000000000000002", "4000000000009995", "4000000000000119"]
INITIAL = {"TEA": 10, "MUG": 3}


class PurchaseFlow(RuleBasedStateMachine):
    @initialize()
    def open_shop(self) -> None:
        self.shop = Shop(principals=[*USERS, ADMIN])
        self.outcomes: dict[str, int] = {}

    def attempt(self, name: str, action: Callable[[], object]) -> None:
        try:
            action()
            self.outcomes[name] = self.outcomes.get(name, 0) + 1
        except ShopError:
            pass  # refusals are fine; the invariants say whether the state stayed sound

    @property
    def order_ids(self) -> list[int]:
        return sorted(self.shop.uow.orders.by_id)

    @rule(user=st.sampled_from(USERS), sku=st.sampled_from(SKUS), quantity=st.integers(1, 4))
    def add_to_cart(self, user: Principal, sku: str, quantity: int) -> None:
        self.attempt("add", lambda: self.shop.add(user, sku, quantity))

    @rule(user=st.sampled_from(USERS), sku=st.sampled_from(SKUS), quantity=st.integers(1, 3))
    def set_quantity(self, user: Principal, sku: str, quantity: int) -> None:
        self.attempt("set", lambda: self.shop.set(user, sku, quantity))

    @rule(user=st.sampled_from(USERS))
    def place(self, user: Principal) -> None:
        self.attempt("place", lambda: self.shop.place(user))

    @rule(
        user=st.sampled_from([*USERS, ADMIN]), pick=st.integers(0, 20), card=st.sampled_from(CARDS)
    )
    def pay(self, user: Principal, pick: int, card: str) -> None:
        if self.order_ids:
            order = self.order_ids[pick % len(self.order_ids)]
            self.attempt("pay", lambda: self.shop.pay(user, order, card=card))

    @rule(user=st.sampled_from([*USERS, ADMIN]), pick=st.integers(0, 20))
    def cancel(self, user: Principal, pick: int) -> None:
        if self.order_ids:
            order = self.order_ids[pick % len(self.order_ids)]
            self.attempt("cancel", lambda: self.shop.cancel(user, order))

    @rule(pick=st.integers(0, 20))
    def fulfill(self, pick: int) -> None:
        if self.order_ids:
            order = self.order_ids[pick % len(self.order_ids)]
            self.attempt("fulfill", lambda: self.shop.fulfill(ADMIN, order))

    @rule(minutes=st.integers(1, 20))
    def time_passes(self, minutes: int) -> None:
        self.shop.clock.advance(minutes=minutes)

    @rule()
    def release_expired(self) -> None:
        self.attempt("release", lambda: self.shop.release_expired(ADMIN))

    @rule(sku=st.sampled_from(SKUS), quantity=st.integers(1, 5))
    def restock(self, sku: str, quantity: int) -> None:
        product = self.shop.product(sku)
        product.add_stock(quantity)
        self.shop.uow.products.save(product)

    # -- the audit --------------------------------------------------------------------------

    def products(self) -> list[Product]:
        return [self.shop.product(sku) for sku in SKUS]

    @invariant()
    def reserved_is_the_sum_of_active_reservations(self) -> None:
        for product in self.products():
            active = sum(
                r.quantity
                for order in self.shop.uow.orders.by_id.values()
                for r in order.reservations
                if r.product_id == product.id and r.status is ReservationStatus.ACTIVE
            )
            assert product.reserved == active, product.sku
            assert 0 <= product.reserved <= product.stock_on_hand

    @invariant()
    def stock_on_hand_is_the_ledger(self) -> None:
        for product in self.products():
            assert product.stock_on_hand == INITIAL[
                product.sku
            ] + self.shop.uow.products.ledger_sum(product.sku)

    @invariant()
    def payments_match_order_status(self) -> None:
        for order in self.shop.uow.orders.by_id.values():
            assert order.total == sum((line.line_total for line in order.lines), Decimal(0))
            payments = self.shop.uow.payments.for_order(order.id or 0)
            succeeded = [p for p in payments if p.status is PaymentStatus.SUCCEEDED]
            if order.status in (OrderStatus.PAID, OrderStatus.FULFILLED):
                assert len(succeeded) == 1
                assert succeeded[0].amount == order.total
            else:
                assert succeeded == []
            assert all(p.status is not PaymentStatus.PENDING for p in payments)

    @invariant()
    def reservations_match_order_status(self) -> None:
        for order in self.shop.uow.orders.by_id.values():
            statuses = {r.status for r in order.reservations}
            refunded = any(
                p.status is PaymentStatus.REFUNDED
                for p in self.shop.uow.payments.for_order(order.id or 0)
            )
            expected = {
                OrderStatus.PENDING_PAYMENT: ReservationStatus.ACTIVE,
                OrderStatus.PAID: ReservationStatus.COMMITTED,
                OrderStatus.FULFILLED: ReservationStatus.COMMITTED,
                OrderStatus.EXPIRED: ReservationStatus.EXPIRED,
                OrderStatus.CANCELLED: ReservationStatus.COMMITTED
                if refunded
                else ReservationStatus.RELEASED,
            }[order.status]
            assert statuses == {expected}, (order.id, order.status, statuses)

    @invariant()
    def refunds_never_exceed_captures(self) -> None:
        gateway = self.shop.gateway
        captured = {
            result.reference: params[0]
            for params, result in gateway.charges.values()
            if result.status.value == "succeeded"
        }
        for charge_ref, _amount in gateway.refunds.values():
            refunded = sum(a for ref, a in gateway.refunds.values() if ref == charge_ref)
            assert refunded <= captured[charge_ref]

    @invariant()
    def units_sold_never_exceed_stock(self) -> None:
        for product in self.products():
            sold = sum(
                line.quantity
                for order in self.shop.uow.orders.by_id.values()
                if order.status in (OrderStatus.PAID, OrderStatus.FULFILLED)
                for line in order.lines
                if line.product_id == product.id
            )
            restocked = self.shop.uow.products.ledger_sum(product.sku) + sold
            assert sold <= INITIAL[product.sku] + restocked


PurchaseFlow.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPurchaseFlow = PurchaseFlow.TestCase
