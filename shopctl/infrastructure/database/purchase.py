"""Purchase-flow repositories: carts, orders, payments, reservations.

The checkout path is set-based: arrays bound once (``unnest``) instead of a statement per
line, and data-modifying CTEs so that an order with its lines and reservations is one
round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from shopctl.domain.carts import Cart, CartLine
from shopctl.domain.errors import Conflict
from shopctl.domain.orders import (
    InventoryReservation,
    Order,
    OrderLine,
    OrderStatus,
    ReservationStatus,
)
from shopctl.domain.payments import Payment, PaymentStatus
from shopctl.domain.products import Product
from shopctl.domain.repositories import (
    CartRepository,
    InventoryRepository,
    OrderQuery,
    OrderRepository,
    PaymentRepository,
    ReservationRecord,
)
from shopctl.infrastructure.database.repositories import product_from_row
from shopctl.infrastructure.database.tables import (
    cart_lines,
    carts,
    inventory_reservations,
    order_lines,
    orders,
    payments,
    products,
    stock_movements,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

# -- carts ----------------------------------------------------------------------------------

SAVE_CART = text("""
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (:user_id)
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
), gone AS (
    DELETE FROM cart_lines USING cart
    WHERE cart_lines.cart_id = cart.id
      AND NOT (cart_lines.product_id = ANY(CAST(:product_ids AS bigint[])))
), kept AS (
    INSERT INTO cart_lines (cart_id, product_id, quantity)
    SELECT cart.id, line.product_id, line.quantity
    FROM cart, unnest(CAST(:product_ids AS bigint[]), CAST(:quantities AS integer[]))
         AS line(product_id, quantity)
    ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity
)
SELECT id FROM cart
""")


class SqlCartRepository(CartRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, user_id: int, *, for_update: bool = False) -> Cart:
        statement = (
            select(carts.c.id.label("cart_id"), cart_lines.c.quantity, *products.c)
            .select_from(
                carts.outerjoin(cart_lines, cart_lines.c.cart_id == carts.c.id).outerjoin(
                    products, products.c.id == cart_lines.c.product_id
                )
            )
            .where(carts.c.user_id == user_id)
            .order_by(products.c.sku)
        )
        if for_update:
            statement = statement.with_for_update(of=carts)
        rows = self.connection.execute(statement).all()
        cart = Cart(user_id=user_id, id=rows[0].cart_id if rows else None)
        cart.lines = [CartLine(product_from_row(row), row.quantity) for row in rows if row.sku]
        return cart

    def save(self, cart: Cart) -> None:
        cart.id = self.connection.execute(
            SAVE_CART,
            {
                "user_id": cart.user_id,
                "product_ids": [line.product.id for line in cart.lines],
                "quantities": [line.quantity for line in cart.lines],
            },
        ).scalar_one()


# -- orders ---------------------------------------------------------------------------------

ADD_ORDER = text("""
WITH new_order AS (
    INSERT INTO orders (user_id, status, total, currency, created_at, updated_at, expires_at)
    VALUES (:user_id, :status, :total, :currency, :created_at, :created_at, :expires_at)
    RETURNING id
), lines AS (
    INSERT INTO order_lines (order_id, product_id, sku, name, unit_price, quantity)
    SELECT new_order.id, line.*
    FROM new_order, unnest(
        CAST(:product_ids AS bigint[]), CAST(:skus AS text[]), CAST(:names AS text[]),
        CAST(:prices AS numeric[]), CAST(:quantities AS integer[])
    ) AS line(product_id, sku, name, unit_price, quantity)
), held AS (
    INSERT INTO inventory_reservations
        (order_id, product_id, quantity, status, expires_at, created_at)
    SELECT new_order.id, held.product_id, held.quantity, 'active', :expires_at, :created_at
    FROM new_order, unnest(CAST(:reserved_ids AS bigint[]), CAST(:reserved AS integer[]))
         AS held(product_id, quantity)
    RETURNING id, product_id
)
SELECT new_order.id AS order_id, held.id, held.product_id FROM new_order LEFT JOIN held ON true
""")

UPDATE_ORDER = text("""
WITH settled AS (
    UPDATE inventory_reservations r SET status = s.status
    FROM unnest(CAST(:reservation_ids AS bigint[]), CAST(:statuses AS text[])) AS s(id, status)
    WHERE r.id = s.id AND r.status <> s.status
)
UPDATE orders SET status = :status, paid_at = :paid_at, updated_at = now() WHERE id = :id
""")


def _lines_of(order_ids: Sequence[int]) -> Any:
    return (
        select(
            order_lines,
            inventory_reservations.c.id.label("reservation_id"),
            inventory_reservations.c.quantity.label("reserved_quantity"),
            inventory_reservations.c.status.label("reservation_status"),
            inventory_reservations.c.expires_at.label("reservation_expires_at"),
        )
        .select_from(
            order_lines.outerjoin(
                inventory_reservations,
                (inventory_reservations.c.order_id == order_lines.c.order_id)
                & (inventory_reservations.c.product_id == order_lines.c.product_id),
            )
        )
        .where(order_lines.c.order_id.in_(order_ids))
        .order_by(order_lines.c.order_id, order_lines.c.product_id)
    )


def _order_from_rows(row: Row[Any], line_rows: Iterable[Row[Any]]) -> Order:
    order = Order(
        id=row.id,
        user_id=row.user_id,
        status=OrderStatus(row.status),
        lines=[],
        currency=row.currency,
        created_at=row.created_at,
        expires_at=row.expires_at,
        paid_at=row.paid_at,
    )
    for line in line_rows:
        order.lines.append(
            OrderLine(line.product_id, line.sku, line.name, line.unit_price, line.quantity)
        )
        if line.reservation_id is not None:
            order.reservations.append(
                InventoryReservation(
                    product_id=line.product_id,
                    quantity=line.reserved_quantity,
                    expires_at=line.reservation_expires_at,
                    status=ReservationStatus(line.reservation_status),
                    id=line.reservation_id,
                )
            )
    return order


class SqlOrderRepository(OrderRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, order: Order) -> None:
        lines, held = order.lines, order.reservations
        rows = self.connection.execute(
            ADD_ORDER,
            {
                "user_id": order.user_id,
                "status": order.status.value,
                "total": order.total,
                "currency": order.currency,
                "created_at": order.created_at,
                "expires_at": order.expires_at,
                "product_ids": [line.product_id for line in lines],
                "skus": [line.sku for line in lines],
                "names": [line.name for line in lines],
                "prices": [line.unit_price for line in lines],
                "quantities": [line.quantity for line in lines],
                "reserved_ids": [r.product_id for r in held],
                "reserved": [r.quantity for r in held],
            },
        ).all()
        order.id = rows[0].order_id
        ids = {row.product_id: row.id for row in rows}
        for reservation in held:
            reservation.id = ids[reservation.product_id]

    def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        statement = select(orders).where(orders.c.id == order_id)
        if for_update:
            statement = statement.with_for_update()
        row = self.connection.execute(statement).first()
        if row is None:
            return None
        return _order_from_rows(row, self.connection.execute(_lines_of([order_id])))

    def list(self, query: OrderQuery) -> list[Order]:
        statement = select(orders).order_by(orders.c.id.desc())
        if query.user_id is not None:
            statement = statement.where(orders.c.user_id == query.user_id)
        if query.status is not None:
            statement = statement.where(orders.c.status == query.status.value)
        rows = self.connection.execute(statement).all()
        if not rows:
            return []
        by_order: dict[int, list[Row[Any]]] = {row.id: [] for row in rows}
        for line in self.connection.execute(_lines_of(list(by_order))):
            by_order[line.order_id].append(line)
        return [_order_from_rows(row, by_order[row.id]) for row in rows]

    def update(self, order: Order) -> None:
        self.connection.execute(
            UPDATE_ORDER,
            {
                "id": order.id,
                "status": order.status.value,
                "paid_at": order.paid_at,
                "reservation_ids": [r.id for r in order.reservations],
                "statuses": [r.status.value for r in order.reservations],
            },
        )


# -- payments -------------------------------------------------------------------------------


def _payment_from_row(row: Row[Any]) -> Payment:
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


class SqlPaymentRepository(PaymentRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, payment: Payment) -> None:
        statement = (
            insert(payments)
            .values(
                order_id=payment.order_id,
                amount=payment.amount,
                currency=payment.currency,
                status=payment.status.value,
                idempotency_key=payment.idempotency_key,
                gateway_reference=payment.gateway_reference,
                decline_code=payment.decline_code,
            )
            .returning(payments.c.id, payments.c.created_at)
        )
        try:
            payment.id, payment.created_at = self.connection.execute(statement).one()
        except IntegrityError as error:
            if "idempotency_key" in str(error.orig):
                raise Conflict(
                    f"idempotency key {payment.idempotency_key!r} is already in use"
                ) from None
            raise

    def for_order(self, order_id: int) -> list[Payment]:
        statement = select(payments).where(payments.c.order_id == order_id).order_by(payments.c.id)
        return [_payment_from_row(row) for row in self.connection.execute(statement)]

    def get_by_key(self, idempotency_key: str) -> Payment | None:
        statement = select(payments).where(payments.c.idempotency_key == idempotency_key)
        row = self.connection.execute(statement).first()
        return None if row is None else _payment_from_row(row)

    def update(self, payment: Payment) -> None:
        self.connection.execute(
            update(payments)
            .where(payments.c.id == payment.id)
            .values(
                status=payment.status.value,
                gateway_reference=payment.gateway_reference,
                decline_code=payment.decline_code,
                updated_at=text("now()"),
            )
        )


# -- inventory ------------------------------------------------------------------------------

SAVE_COUNTERS = text("""
UPDATE products p
SET stock_on_hand = c.stock_on_hand, reserved = c.reserved, updated_at = now()
FROM unnest(CAST(:ids AS bigint[]), CAST(:stock AS integer[]), CAST(:reserved AS integer[]))
     AS c(id, stock_on_hand, reserved)
WHERE p.id = c.id AND (p.stock_on_hand, p.reserved) <> (c.stock_on_hand, c.reserved)
""")

# Orders locked by another unit of work are skipped: that one (a payment being recorded,
# a cancellation) decides about them, and nobody waits on an order while holding products.
RELEASE_EXPIRED = """
WITH due AS (
    SELECT o.id FROM orders o
    WHERE o.status = 'pending_payment' AND o.expires_at <= :now {products}
    ORDER BY o.id
    FOR UPDATE SKIP LOCKED
), expired AS (
    UPDATE orders o SET status = 'expired', updated_at = now()
    FROM due WHERE o.id = due.id
    RETURNING o.id
), released AS (
    UPDATE inventory_reservations r SET status = 'expired'
    FROM expired WHERE r.order_id = expired.id AND r.status = 'active'
    RETURNING r.product_id, r.quantity
), per_product AS (
    SELECT product_id, sum(quantity) AS quantity FROM released GROUP BY product_id
), counters AS (
    UPDATE products p SET reserved = p.reserved - per_product.quantity, updated_at = now()
    FROM per_product WHERE p.id = per_product.product_id
)
SELECT count(*) FROM expired
"""
ON_PRODUCTS = """AND o.id IN (
        SELECT r.order_id FROM inventory_reservations r
        WHERE r.status = 'active' AND r.expires_at <= :now
          AND r.product_id = ANY(CAST(:product_ids AS bigint[])))"""
RELEASE_EXPIRED_ALL = text(RELEASE_EXPIRED.format(products=""))
RELEASE_EXPIRED_ON = text(RELEASE_EXPIRED.format(products=ON_PRODUCTS))


class SqlInventoryRepository(InventoryRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock_products(
        self, ids: Iterable[int], *, due_at: datetime | None = None
    ) -> tuple[list[Product], bool]:
        columns: list[Any] = list(products.c)
        if due_at is not None:
            held = inventory_reservations
            columns.append(
                exists()
                .where(
                    held.c.product_id == products.c.id,
                    held.c.status == ReservationStatus.ACTIVE.value,
                    held.c.expires_at <= due_at,
                )
                .label("due")
            )
        statement = (
            select(*columns)
            .where(products.c.id.in_(sorted(set(ids))))
            .order_by(products.c.id)
            .with_for_update(of=products)
        )
        rows = self.connection.execute(statement).all()
        due = due_at is not None and any(row.due for row in rows)
        return [product_from_row(row) for row in rows], due

    def save_products(self, changed: Sequence[Product]) -> None:
        self.connection.execute(
            SAVE_COUNTERS,
            {
                "ids": [p.id for p in changed],
                "stock": [p.stock_on_hand for p in changed],
                "reserved": [p.reserved for p in changed],
            },
        )
        movements = [
            {
                "product_id": p.id,
                "delta": m.delta,
                "reason": m.reason.value,
                "actor": m.actor,
                "order_id": m.order_id,
                "note": m.note,
            }
            for p in changed
            for m in p.pending_movements
        ]
        if movements:
            self.connection.execute(insert(stock_movements), movements)
        for product in changed:
            product.pending_movements.clear()

    def release_expired(self, now: datetime, product_ids: Iterable[int] | None = None) -> int:
        if product_ids is None:
            count = self.connection.execute(RELEASE_EXPIRED_ALL, {"now": now}).scalar_one()
        else:
            count = self.connection.execute(
                RELEASE_EXPIRED_ON, {"now": now, "product_ids": sorted(set(product_ids))}
            ).scalar_one()
        return int(count)

    def reservations(self, *, active_only: bool = False) -> list[ReservationRecord]:
        held = inventory_reservations
        statement = (
            select(held, products.c.sku)
            .join(products, products.c.id == held.c.product_id)
            .order_by(held.c.id.desc())
        )
        if active_only:
            statement = statement.where(held.c.status == ReservationStatus.ACTIVE.value)
        return [
            ReservationRecord(
                id=row.id,
                order_id=row.order_id,
                product_id=row.product_id,
                sku=row.sku,
                quantity=row.quantity,
                status=ReservationStatus(row.status),
                expires_at=row.expires_at,
            )
            for row in self.connection.execute(statement)
        ]
