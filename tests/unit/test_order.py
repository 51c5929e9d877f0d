"""Order status machine, reservations at placement, payments and their idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shopctl.domain.errors import Conflict, InvalidInput
from shopctl.domain.orders import Order, OrderStatus, ReservationStatus, parse_order_status
from shopctl.domain.payments import (
    Payment,
    PaymentStatus,
    card_fingerprint,
    default_idempotency_key,
    validate_card,
    validate_idempotency_key,
)
from shopctl.domain.products import Product

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)


def product(
    pid: int, sku: str, *, stock: int = 10, price: str = "3.00", active: bool = True
) -> Product:
    return Product(
        sku=sku,
        name=f"{sku} name",
        price=Decimal(price),
        stock_on_hand=stock,
        active=active,
        id=pid,
    )


def place(*items: tuple[Product, int]) -> Order:
    order = Order.place(7, items, now=NOW, ttl=TTL, currency="USD")
    order.id = 1
    return order


def test_place_reserves_snapshots_and_sums_per_product() -> None:
    tea, mug = product(2, "TEA", price="4.50"), product(1, "MUG", price="9.90")
    order = place((tea, 2), (mug, 1), (tea, 3))
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("MUG", 1, Decimal("9.90")),
        ("TEA", 5, Decimal("4.50")),
    ]
    assert order.total == Decimal("32.40")
    assert tea.reserved == 5 and mug.reserved == 1
    assert [(r.product_id, r.quantity, r.status) for r in order.reservations] == [
        (1, 1, ReservationStatus.ACTIVE),
        (2, 5, ReservationStatus.ACTIVE),
    ]
    assert order.expires_at == NOW + TTL
    tea.price = Decimal("1.00")  # a later price change does not alter the order
    assert order.total == Decimal("32.40")


def test_place_checks_the_summed_quantity_and_touches_nothing_when_short() -> None:
    tea, mug = product(1, "TEA", stock=4), product(2, "MUG", stock=10)
    with pytest.raises(Conflict, match="TEA"):
        place((mug, 2), (tea, 3), (tea, 2))
    assert tea.reserved == 0 and mug.reserved == 0


def test_place_refuses_archived_products_and_an_empty_cart() -> None:
    with pytest.raises(Conflict, match="OLD"):
        place((product(1, "OLD", active=False), 1))
    with pytest.raises(Conflict, match="empty"):
        place()
    with pytest.raises(InvalidInput):
        place((product(1, "TEA"), 0))


def test_pay_commits_reservations() -> None:
    order = place((product(1, "TEA"), 2))
    sold = order.mark_paid(NOW)
    assert order.status is OrderStatus.PAID and order.paid_at == NOW
    assert [r.status for r in sold] == [ReservationStatus.COMMITTED]


def test_cancel_pending_releases_and_cancel_paid_releases_nothing() -> None:
    pending = place((product(1, "TEA"), 2))
    assert [r.status for r in pending.cancel()] == [ReservationStatus.RELEASED]
    assert pending.status is OrderStatus.CANCELLED
    paid = place((product(1, "TEA"), 2))
    paid.mark_paid(NOW)
    assert paid.cancel() == []
    assert paid.status is OrderStatus.CANCELLED
    assert paid.reservations[0].status is ReservationStatus.COMMITTED


def test_expiry_only_after_the_ttl() -> None:
    order = place((product(1, "TEA"), 2))
    assert not order.is_due(NOW + TTL - timedelta(seconds=1))
    with pytest.raises(Conflict):
        order.expire(NOW)
    assert order.is_due(NOW + TTL)
    assert [r.status for r in order.expire(NOW + TTL)] == [ReservationStatus.EXPIRED]
    assert order.status is OrderStatus.EXPIRED


def test_fulfill_only_paid() -> None:
    order = place((product(1, "TEA"), 1))
    with pytest.raises(Conflict, match="is pending_payment"):
        order.fulfill()
    order.mark_paid(NOW)
    order.fulfill()
    assert order.status is OrderStatus.FULFILLED


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ("fulfilled", "cancel"),
        ("cancelled", "cancel"),
        ("expired", "cancel"),
        ("paid", "pay"),
        ("cancelled", "pay"),
        ("expired", "pay"),
        ("cancelled", "fulfill"),
        ("expired", "fulfill"),
        ("fulfilled", "fulfill"),
    ],
)
def test_refused_transitions_name_the_current_status(setup: str, action: str) -> None:
    order = place((product(1, "TEA"), 1))
    if setup in ("paid", "fulfilled"):
        order.mark_paid(NOW)
    if setup == "fulfilled":
        order.fulfill()
    if setup == "cancelled":
        order.cancel()
    if setup == "expired":
        order.expire(NOW + TTL)
    with pytest.raises(Conflict, match=f"is {setup}"):
        {"cancel": order.cancel, "pay": lambda: order.mark_paid(NOW), "fulfill": order.fulfill}[
            action
        ]()
    assert order.status.value == setup


def test_check_payable_refuses_a_pending_order_past_its_ttl() -> None:
    order = place((product(1, "TEA"), 1))
    order.check_payable(NOW)
    with pytest.raises(Conflict, match="expired"):
        order.check_payable(NOW + TTL)


def test_parse_order_status() -> None:
    assert parse_order_status("paid") is OrderStatus.PAID
    with pytest.raises(InvalidInput, match="pending_payment"):
        parse_order_status("nope")


def test_payment_outcomes() -> None:
    payment = Payment(1, Decimal("5.00"), "USD", "k")
    payment.decline("ch_1", "card_declined")
    assert payment.status is PaymentStatus.DECLINED
    payment.decline("ch_1", "card_declined")  # a replayed outcome is no change
    with pytest.raises(Conflict):
        payment.succeed("ch_2")
    ok = Payment(1, Decimal("5.00"), "USD", "k2")
    ok.succeed("ch_3")
    ok.refund()
    assert ok.status is PaymentStatus.REFUNDED
    with pytest.raises(Conflict):
        ok.refund()
    with pytest.raises(Conflict):
        Payment(1, Decimal("5.00"), "USD", "k3").refund()  # nothing captured


def test_default_key_changes_only_after_a_recorded_transient_failure() -> None:
    card = "4242424242424242"
    first = default_idempotency_key(9, card, [])
    declined = Payment(
        9,
        Decimal("1.00"),
        "USD",
        first,
        status=PaymentStatus.DECLINED,
        decline_code="card_declined",
    )
    assert default_idempotency_key(9, card, [declined]) == first
    failed = Payment(
        9,
        Decimal("1.00"),
        "USD",
        first,
        status=PaymentStatus.FAILED,
        decline_code="processing_error",
    )
    second = default_idempotency_key(9, card, [failed])
    assert second != first
    assert default_idempotency_key(9, "4000000000000002", []) != first
    assert default_idempotency_key(10, card, []) != first
    assert card not in first and card_fingerprint(card) in first


def test_card_and_key_validation() -> None:
    assert validate_card("4242 4242 4242 4242") == "4242424242424242"
    for bad in ("", "abc", "4242", "4" * 20, "４２４２４２４２４２４２"):
        with pytest.raises(InvalidInput):
            validate_card(bad)
    assert validate_idempotency_key(" k ") == "k"
    for bad in ("", "x" * 256, "a\nb"):
        with pytest.raises(InvalidInput):
            validate_idempotency_key(bad)
