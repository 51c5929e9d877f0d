"""Every purchase use case against the in-memory fakes and a fake clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from shopctl.application.auth import Principal
from shopctl.application.carts import (
    AddToCart,
    ClearCart,
    RemoveFromCart,
    SetCartQuantity,
    ShowCart,
)
from shopctl.application.orders import (
    CancelOrder,
    FulfillOrder,
    GetOrder,
    ListOrders,
    ListReservations,
    PlaceOrder,
    ReleaseExpiredReservations,
)
from shopctl.application.payments import ListPayments, PayOrder
from shopctl.domain.errors import Conflict, Forbidden, NotAuthenticated, NotFound, PaymentFailed
from shopctl.domain.orders import OrderStatus
from shopctl.domain.payments import PaymentStatus
from shopctl.domain.products import Product, StockReason
from shopctl.domain.users import Role
from tests.fakes import FakeClock, FakePaymentGateway, FakeUnitOfWork

ALICE = Principal(1, "alice@example.com", Role.CUSTOMER)
BOB = Principal(2, "bob@example.com", Role.CUSTOMER)
ADMIN = Principal(3, "admin@example.com", Role.ADMIN)
TTL = timedelta(minutes=15)
DECLINED = "4000000000000002"
FLAKY = "4000000000000119"


class Shop:
    """The use cases wired to fakes, as bootstrap wires them to PostgreSQL."""

    def __init__(self, principals: Sequence[Principal] = (ALICE, BOB, ADMIN)) -> None:
        self.uow = FakeUnitOfWork(
            [
                Product(sku="TEA", name="Tea", price=Decimal("4.50"), stock_on_hand=10),
                Product(sku="MUG", name="Mug", price=Decimal("9.90"), stock_on_hand=3),
                Product(
                    sku="OLD", name="Old", price=Decimal("1.00"), stock_on_hand=5, active=False
                ),
            ],
            principals=principals,
        )
        self.clock = FakeClock()
        self.gateway = FakePaymentGateway()
        self.add = AddToCart(self.uow, "USD")
        self.set = SetCartQuantity(self.uow, "USD")
        self.remove = RemoveFromCart(self.uow, "USD")
        self.clear = ClearCart(self.uow, "USD")
        self.show = ShowCart(self.uow, "USD")
        self.place = PlaceOrder(self.uow, self.clock, TTL, "USD")
        self.pay = PayOrder(self.uow, self.clock, self.gateway)
        self.cancel = CancelOrder(self.uow, self.clock, self.gateway)
        self.fulfill = FulfillOrder(self.uow)
        self.get = GetOrder(self.uow)
        self.list = ListOrders(self.uow)
        self.payments = ListPayments(self.uow)
        self.reservations = ListReservations(self.uow)
        self.release_expired = ReleaseExpiredReservations(self.uow, self.clock)

    def product(self, sku: str) -> Product:
        found = self.uow.products.get_by_sku(sku)
        assert found is not None
        return found

    def order_of(self, principal: Principal, **items: int) -> int:
        for sku, quantity in items.items():
            self.add(principal, sku, quantity)
        return self.place(principal).id


@pytest.fixture
def shop() -> Shop:
    return Shop()


# -- cart -----------------------------------------------------------------------------------


def test_cart_add_set_remove_clear_and_show(shop: Shop) -> None:
    view = shop.add(ALICE, "TEA", 2)
    view = shop.add(ALICE, "TEA", 1)
    assert [(i.sku, i.quantity, i.line_total) for i in view.items] == [("TEA", 3, Decimal("13.50"))]
    shop.add(ALICE, "MUG")
    view = shop.set(ALICE, "MUG", 2)
    assert view.total == Decimal("33.30") and view.currency == "USD"
    assert shop.show(BOB).items == []  # carts are per user
    assert [i.sku for i in shop.remove(ALICE, "TEA").items] == ["MUG"]
    assert shop.clear(ALICE).items == []
    assert shop.show(ALICE).total == Decimal("0.00")


def test_cart_refuses_unknown_archived_and_unavailable(shop: Shop) -> None:
    with pytest.raises(NotFound):
        shop.add(ALICE, "NOPE")
    with pytest.raises(Conflict):
        shop.add(ALICE, "OLD")
    with pytest.raises(Conflict, match="only 3 of MUG"):
        shop.add(ALICE, "MUG", 4)
    with pytest.raises(NotFound):
        shop.remove(ALICE, "TEA")
    with pytest.raises(NotAuthenticated):
        shop.show(None)


def test_show_cart_writes_nothing(shop: Shop) -> None:
    shop.show(ALICE)
    assert not shop.uow.committed
    assert shop.uow.carts.quantities == {}


# -- place ----------------------------------------------------------------------------------


def test_place_reserves_empties_the_cart_and_opens_a_pending_order(shop: Shop) -> None:
    shop.add(ALICE, "TEA", 2)
    shop.add(ALICE, "MUG", 3)
    order = shop.place(ALICE)
    assert order.status == "pending_payment"
    assert order.total == Decimal("38.70")
    assert order.expires_at == shop.clock.now() + TTL
    assert shop.product("TEA").reserved == 2 and shop.product("MUG").reserved == 3
    assert shop.show(ALICE).items == []
    assert sorted(r.quantity for r in shop.reservations(ADMIN, active_only=True)) == [2, 3]


def test_place_with_an_empty_cart_is_a_conflict(shop: Shop) -> None:
    with pytest.raises(Conflict, match="empty"):
        shop.place(ALICE)


def test_place_short_names_the_sku_and_changes_nothing(shop: Shop) -> None:
    shop.add(ALICE, "TEA", 1)
    shop.add(ALICE, "MUG", 3)
    shop.add(BOB, "MUG", 2)
    shop.place(BOB)
    with pytest.raises(Conflict, match="MUG"):
        shop.place(ALICE)
    assert shop.product("TEA").reserved == 0 and shop.product("MUG").reserved == 2
    assert len(shop.show(ALICE).items) == 2  # the cart is kept


def test_place_releases_expired_reservations_of_its_products_lazily(shop: Shop) -> None:
    shop.add(ALICE, "MUG", 3)
    first = shop.order_of(BOB, MUG=3)
    with pytest.raises(Conflict):
        shop.place(ALICE)
    shop.clock.advance(minutes=15)
    order = shop.place(ALICE)
    assert shop.get(ADMIN, first).status == "expired"
    assert order.status == "pending_payment"
    assert shop.product("MUG").reserved == 3


# -- list / show / fulfill ------------------------------------------------------------------


def test_customers_see_only_their_own_orders(shop: Shop) -> None:
    mine = shop.order_of(ALICE, TEA=1)
    theirs = shop.order_of(BOB, TEA=1)
    assert [o.id for o in shop.list(ALICE)] == [mine]
    assert [o.id for o in shop.list(ADMIN, all_users=True)] == [theirs, mine]
    assert shop.list(ADMIN, all_users=True, status=OrderStatus.PAID) == []
    with pytest.raises(Forbidden):
        shop.list(ALICE, all_users=True)
    with pytest.raises(NotFound):
        shop.get(ALICE, theirs)
    with pytest.raises(NotFound):
        shop.cancel(ALICE, theirs)
    with pytest.raises(NotFound):
        shop.pay(ALICE, theirs)
    with pytest.raises(NotFound):
        shop.payments(ALICE, theirs)
    assert shop.get(ADMIN, theirs).id == theirs


def test_fulfill_is_for_admins_and_paid_orders(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    with pytest.raises(Forbidden):
        shop.fulfill(ALICE, order)
    with pytest.raises(Conflict, match="pending_payment"):
        shop.fulfill(ADMIN, order)
    shop.pay(ALICE, order)
    assert shop.fulfill(ADMIN, order).status == "fulfilled"
    with pytest.raises(Conflict, match="fulfilled"):
        shop.cancel(ALICE, order)


# -- pay ------------------------------------------------------------------------------------


def test_pay_sells_the_reserved_units(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=2)
    payment = shop.pay(ALICE, order)
    assert payment.status == "succeeded" and payment.amount == Decimal("9.00")
    tea = shop.product("TEA")
    assert (tea.stock_on_hand, tea.reserved) == (8, 0)
    assert shop.uow.products.ledger_sum("TEA") == -2
    assert [m.reason for _, m in shop.uow.products.movements] == [StockReason.SALE]
    assert shop.get(ALICE, order).status == "paid"


def test_declined_card_leaves_the_order_payable_then_a_good_card_pays(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    with pytest.raises(PaymentFailed, match="card_declined"):
        shop.pay(ALICE, order, card=DECLINED)
    assert shop.get(ALICE, order).status == "pending_payment"
    assert shop.product("TEA").reserved == 1
    shop.pay(ALICE, order)
    assert [p.status for p in shop.payments(ALICE, order)] == ["declined", "succeeded"]


def test_second_pay_of_a_paid_order_is_a_conflict_and_charges_once(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    shop.pay(ALICE, order)
    with pytest.raises(Conflict, match="is paid"):
        shop.pay(ALICE, order)
    with pytest.raises(Conflict, match="is paid"):
        shop.pay(ALICE, order, idempotency_key="another")
    assert shop.gateway.succeeded_charges() == 1
    assert [p.status for p in shop.payments(ALICE, order)] == ["succeeded"]


def test_a_lost_outcome_is_replayed_not_charged_twice(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)

    def crash() -> None:
        raise ConnectionError("the process died after the charge")

    shop.gateway.during_charge = crash
    with pytest.raises(ConnectionError):
        shop.pay(ALICE, order)
    shop.gateway.during_charge = None
    assert [p.status for p in shop.uow.payments.all] == [PaymentStatus.PENDING]
    shop.pay(ALICE, order)
    assert len(shop.gateway.charges) == 1
    assert [p.status for p in shop.payments(ALICE, order)] == ["succeeded"]


def test_processing_error_is_transient_and_the_retry_is_a_new_attempt(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    with pytest.raises(PaymentFailed, match="processing_error"):
        shop.pay(ALICE, order, card=FLAKY)
    with pytest.raises(PaymentFailed):
        shop.pay(ALICE, order, card=FLAKY)
    assert len(shop.gateway.charges) == 2  # a new key each time after a recorded failure
    shop.pay(ALICE, order)
    assert [p.status for p in shop.payments(ALICE, order)] == ["failed", "failed", "succeeded"]


def test_an_explicit_key_of_another_order_is_refused(shop: Shop) -> None:
    first = shop.order_of(ALICE, TEA=1)
    second = shop.order_of(ALICE, TEA=1)
    shop.pay(ALICE, first, idempotency_key="k1")
    with pytest.raises(Conflict, match="k1"):
        shop.pay(ALICE, second, idempotency_key="k1")


def test_paying_an_expired_order_expires_it_and_is_a_conflict(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=2)
    shop.clock.advance(minutes=15)
    with pytest.raises(Conflict, match="expired"):
        shop.pay(ALICE, order)
    assert shop.get(ALICE, order).status == "expired"
    assert shop.product("TEA").reserved == 0
    assert shop.gateway.charges == {}


def test_cancelled_while_charging_is_refunded_at_once(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=2)
    shop.gateway.during_charge = lambda: shop.cancel(ALICE, order)
    with pytest.raises(Conflict, match=r"cancelled.*refunded"):
        shop.pay(ALICE, order)
    assert [p.status for p in shop.payments(ALICE, order)] == ["refunded"]
    assert len(shop.gateway.refunds) == 1
    tea = shop.product("TEA")
    assert (tea.stock_on_hand, tea.reserved) == (10, 0)


def test_paid_by_a_concurrent_attempt_is_refunded(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)

    def other_payment() -> None:
        shop.gateway.during_charge = None
        shop.pay(ALICE, order, idempotency_key="other")

    shop.gateway.during_charge = other_payment
    with pytest.raises(Conflict, match="is paid"):
        shop.pay(ALICE, order, idempotency_key="mine")
    statuses = {p.idempotency_key: p.status for p in shop.payments(ALICE, order)}
    assert statuses == {"mine": "refunded", "other": "succeeded"}
    assert shop.product("TEA").stock_on_hand == 9


def test_ttl_passing_during_the_charge_still_sells_the_held_units(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    shop.gateway.during_charge = lambda: shop.clock.advance(minutes=20)
    assert shop.pay(ALICE, order).status == "succeeded"
    assert shop.get(ALICE, order).status == "paid"


# -- cancel / expiry ------------------------------------------------------------------------


def test_cancel_pending_releases_the_reservation(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=4)
    assert shop.cancel(ALICE, order).status == "cancelled"
    assert shop.product("TEA").reserved == 0
    assert shop.gateway.refunds == {}
    with pytest.raises(Conflict, match="cancelled"):
        shop.cancel(ALICE, order)
    with pytest.raises(Conflict, match="cancelled"):
        shop.pay(ALICE, order)


def test_cancel_paid_refunds_and_restocks(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=4)
    shop.pay(ALICE, order)
    assert shop.product("TEA").stock_on_hand == 6
    assert shop.cancel(ADMIN, order).status == "cancelled"
    tea = shop.product("TEA")
    assert (tea.stock_on_hand, tea.reserved) == (10, 0)
    assert [m.reason for _, m in shop.uow.products.movements] == [
        StockReason.SALE,
        StockReason.RESTOCK_CANCEL,
    ]
    assert shop.uow.products.ledger_sum("TEA") == 0
    assert [p.status for p in shop.payments(ALICE, order)] == ["refunded"]
    assert list(shop.gateway.refunds.values()) == [("ch_1", Decimal("18.00"))]


def test_cancel_after_the_ttl_expires_instead(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    shop.clock.advance(minutes=16)
    with pytest.raises(Conflict, match="expired"):
        shop.cancel(ALICE, order)
    assert shop.get(ALICE, order).status == "expired"


def test_release_expired_is_for_admins_and_expires_only_due_orders(shop: Shop) -> None:
    early = shop.order_of(ALICE, TEA=2)
    shop.clock.advance(minutes=10)
    late = shop.order_of(BOB, TEA=3)
    with pytest.raises(Forbidden):
        shop.release_expired(ALICE)
    with pytest.raises(Forbidden):
        shop.reservations(ALICE)
    shop.clock.advance(minutes=5)
    assert shop.release_expired(ADMIN).expired_orders == 1
    assert shop.get(ADMIN, early).status == "expired"
    assert shop.get(ADMIN, late).status == "pending_payment"
    assert shop.product("TEA").reserved == 3
    assert [r.status for r in shop.reservations(ADMIN)] == ["active", "expired"]
    assert shop.release_expired(ADMIN).expired_orders == 0


def test_a_failed_refund_is_retried_by_cancelling_again(shop: Shop) -> None:
    order = shop.order_of(ALICE, TEA=1)
    shop.pay(ALICE, order)
    shop.gateway.refund_error = ConnectionError("the gateway is down")
    with pytest.raises(ConnectionError):
        shop.cancel(ALICE, order)
    assert shop.get(ALICE, order).status == "cancelled"
    assert [p.status for p in shop.payments(ALICE, order)] == ["succeeded"]
    shop.gateway.refund_error = None
    assert shop.cancel(ALICE, order).status == "cancelled"
    assert [p.status for p in shop.payments(ALICE, order)] == ["refunded"]
    assert shop.product("TEA").stock_on_hand == 10  # restocked once, not twice
    with pytest.raises(Conflict, match="cancelled"):
        shop.cancel(ALICE, order)


def test_a_refund_owed_after_a_cancel_during_the_charge_is_retried_by_cancel(
    shop: Shop,
) -> None:
    order = shop.order_of(ALICE, TEA=1)

    def cancel_meanwhile() -> None:
        shop.cancel(ALICE, order)
        shop.gateway.refund_error = ConnectionError("the gateway is down")

    shop.gateway.during_charge = cancel_meanwhile
    with pytest.raises(ConnectionError):
        shop.pay(ALICE, order)
    shop.gateway.during_charge = None
    [owed] = shop.uow.payments.for_order(order)
    assert owed.status is PaymentStatus.PENDING and owed.is_captured
    shop.gateway.refund_error = None
    shop.cancel(ALICE, order)
    assert [p.status for p in shop.payments(ALICE, order)] == ["refunded"]


def test_two_runs_of_one_attempt_on_an_order_cancelled_meanwhile_refund_once(
    shop: Shop,
) -> None:
    order = shop.order_of(ALICE, TEA=1)

    def cancel() -> None:
        shop.gateway.during_charge = None
        shop.cancel(ALICE, order)

    def second_run_of_the_same_pay() -> None:  # both runs recorded the attempt first
        shop.gateway.during_charge = cancel
        with pytest.raises(Conflict, match=r"is cancelled; the charge ch_1 was refunded"):
            shop.pay(ALICE, order)

    shop.gateway.during_charge = second_run_of_the_same_pay
    with pytest.raises(Conflict, match=r"is cancelled; the charge ch_1 was refunded"):
        shop.pay(ALICE, order)
    assert len(shop.gateway.charges) == 1
    assert len(shop.gateway.refunds) == 1
    assert [p.status for p in shop.payments(ALICE, order)] == ["refunded"]
