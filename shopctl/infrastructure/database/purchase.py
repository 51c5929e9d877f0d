"""Purchase-flow repositories: carts, orders, payments, reservations.

This is the checkout hot path (``shopctl simulate`` runs it from many threads), so it is
written for few round trips and little Python per statement:

- fixed SQL sent straight through the psycopg connection under SQLAlchemy's (same
  transaction, ``Statements``), so psycopg prepares each statement once per connection;
- arrays bound once (``unnest``) instead of a statement per line, and data-modifying CTEs,
  so that an order with its lines and reservations is one round trip;
- an order is read with its lines and reservations in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from shopctl.infrastructure.database.reads import product_from_row
from shopctl.infrastructure.database.statements import Statements

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


# -- carts ----------------------------------------------------------------------------------

GET_CART = """
SELECT c.id AS cart_id, l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM carts c
LEFT JOIN cart_lines l ON l.cart_id = c.id
LEFT JOIN products p ON p.id = l.product_id
WHERE c.user_id = %(user_id)s
ORDER BY p.sku
"""

# Locks the cart, creating it on first use, so that concurrent edits and placements of one
# cart run one after the other. The lines are read by the next statement, whose snapshot is
# taken after the lock: a FOR UPDATE on the joined query would re-check the cart row only and
# still return the lines as they were before the other transaction emptied them.
LOCK_CART = """
INSERT INTO carts (user_id) VALUES (%(user_id)s)
ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
RETURNING id
"""

SAVE_CART = """
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (%(user_id)s)
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
), gone AS (
    DELETE FROM cart_lines USING cart
    WHERE cart_lines.cart_id = cart.id
      AND NOT (cart_lines.product_id = ANY(%(product_ids)s::bigint[]))
), kept AS (
    INSERT INTO cart_lines (cart_id, product_id, quantity)
    SELECT cart.id, line.product_id, line.quantity
    FROM cart, unnest(%(product_ids)s::bigint[], %(quantities)s::integer[])
         AS line(product_id, quantity)
    ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity
)
SELECT id FROM cart
"""


class SqlCartRepository(CartRepository):
    def __init__(self, connection: Connection) -> None:
        self.sql = Statements(connection)

    def get(self, user_id: int, *, for_update: bool = False) -> Cart:
        if for_update:
            self.sql.rows(LOCK_CART, {"user_id": user_id})
        rows = self.sql.rows(GET_CART, {"user_id": user_id})
        cart = Cart(user_id=user_id, id=rows[0].cart_id if rows else None)
        cart.lines = [CartLine(product_from_row(row), row.quantity) for row in rows if row.sku]
        return cart

    def save(self, cart: Cart) -> None:
        cart.id = self.sql.rows(
            SAVE_CART,
            {
                "user_id": cart.user_id,
                "product_ids": [line.product.id for line in cart.lines],
                "quantities": [line.quantity for line in cart.lines],
            },
        )[0].id


# -- orders ---------------------------------------------------------------------------------

ADD_ORDER = """
WITH new_order AS (
    INSERT INTO orders (user_id, status, total, currency, created_at, updated_at, expires_at)
    VALUES (%(user_id)s, %(status)s, %(total)s, %(currency)s, %(created_at)s, %(created_at)s,
            %(expires_at)s)
    RETURNING id
), lines AS (
    INSERT INTO order_lines (order_id, product_id, sku, name, unit_price, quantity)
    SELECT new_order.id, line.*
    FROM new_order, unnest(
        %(product_ids)s::bigint[], %(skus)s::text[], %(names)s::text[],
        %(prices)s::numeric[], %(quantities)s::integer[]
    ) AS line(product_id, sku, name, unit_price, quantity)
), held AS (
    INSERT INTO inventory_reservations
        (order_id, product_id, quantity, status, expires_at, created_at)
    SELECT new_order.id, held.product_id, held.quantity, 'active', %(expires_at)s,
           %(created_at)s
    FROM new_order, unnest(%(reserved_ids)s::bigint[], %(reserved)s::integer[])
         AS held(product_id, quantity)
    RETURNING id, product_id
)
SELECT new_order.id AS order_id, held.id, held.product_id FROM new_order LEFT JOIN held ON true
"""

# One row per line, with the order's columns and the line's reservation.
ORDER_ROWS = """
SELECT o.id, o.user_id, o.status, o.currency, o.created_at, o.expires_at, o.paid_at,
       l.product_id, l.sku, l.name, l.unit_price, l.quantity,
       r.id AS reservation_id, r.quantity AS reserved_quantity, r.status AS reservation_status,
       r.expires_at AS reservation_expires_at
FROM orders o
JOIN order_lines l ON l.order_id = o.id
{join} inventory_reservations r ON r.order_id = o.id AND r.product_id = l.product_id
"""
GET_ORDER = ORDER_ROWS.format(join="LEFT JOIN") + "WHERE o.id = %(id)s ORDER BY l.product_id"
# The reservations are locked with the order: a reader that waited for the lock then gets
# their committed versions too (with FOR UPDATE OF o alone it would get the order as
# committed but its reservations as they were before the wait). Every order has one
# reservation per line from its placement, so the inner join loses no line.
LOCK_ORDER = (
    ORDER_ROWS.format(join="JOIN") + "WHERE o.id = %(id)s ORDER BY l.product_id FOR UPDATE OF o, r"
)
LIST_ORDERS = (
    ORDER_ROWS.format(join="LEFT JOIN")
    + """WHERE (%(user_id)s::bigint IS NULL OR o.user_id = %(user_id)s)
  AND (%(status)s::text IS NULL OR o.status = %(status)s)
ORDER BY o.id DESC, l.product_id"""
)

UPDATE_ORDER = """
WITH settled AS (
    UPDATE inventory_reservations r SET status = s.status
    FROM unnest(%(reservation_ids)s::bigint[], %(statuses)s::text[]) AS s(id, status)
    WHERE r.id = s.id AND r.status <> s.status
)
UPDATE orders SET status = %(status)s, paid_at = %(paid_at)s, updated_at = now()
WHERE id = %(id)s
"""


def _orders_from_rows(rows: Iterable[Any]) -> list[Order]:
    found: dict[int, Order] = {}
    for row in rows:
        order = found.get(row.id)
        if order is None:
            order = found[row.id] = Order(
                id=row.id,
                user_id=row.user_id,
                status=OrderStatus(row.status),
                lines=[],
                currency=row.currency,
                created_at=row.created_at,
                expires_at=row.expires_at,
                paid_at=row.paid_at,
            )
        order.lines.append(
            OrderLine(row.product_id, row.sku, row.name, row.unit_price, row.quantity)
        )
        if row.reservation_id is not None:
            order.reservations.append(
                InventoryReservation(
                    product_id=row.product_id,
                    quantity=row.reserved_quantity,
                    expires_at=row.reservation_expires_at,
                    status=ReservationStatus(row.reservation_status),
                    id=row.reservation_id,
                )
            )
    return list(found.values())


class SqlOrderRepository(OrderRepository):
    def __init__(self, connection: Connection) -> None:
        self.sql = Statements(connection)

    def add(self, order: Order) -> None:
        lines, held = order.lines, order.reservations
        rows = self.sql.rows(
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
        )
        order.id = rows[0].order_id
        ids = {row.product_id: row.id for row in rows}
        for reservation in held:
            reservation.id = ids[reservation.product_id]

    def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        statement = LOCK_ORDER if for_update else GET_ORDER
        found = _orders_from_rows(self.sql.rows(statement, {"id": order_id}))
        return found[0] if found else None

    def list(self, query: OrderQuery) -> list[Order]:
        status = None if query.status is None else query.status.value
        rows = self.sql.rows(LIST_ORDERS, {"user_id": query.user_id, "status": status})
        return _orders_from_rows(rows)

    def update(self, order: Order) -> None:
        self.sql.rows(
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


class SqlPaymentRepository(PaymentRepository):
    def __init__(self, connection: Connection) -> None:
        self.sql = Statements(connection)

    def add(self, payment: Payment) -> None:
        row = self.sql.first(
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
        )
        if row is None:
            raise Conflict(f"idempotency key {payment.idempotency_key!r} is already in use")
        payment.id, payment.created_at = row.id, row.created_at

    def for_order(self, order_id: int) -> list[Payment]:
        return [_payment_from_row(r) for r in self.sql.rows(PAYMENTS_OF_ORDER, {"id": order_id})]

    def get_by_key(self, idempotency_key: str) -> Payment | None:
        row = self.sql.first(PAYMENT_BY_KEY, {"key": idempotency_key})
        return None if row is None else _payment_from_row(row)

    def update(self, payment: Payment) -> None:
        self.sql.rows(
            UPDATE_PAYMENT,
            {
                "id": payment.id,
                "status": payment.status.value,
                "gateway_reference": payment.gateway_reference,
                "decline_code": payment.decline_code,
            },
        )


# -- inventory ------------------------------------------------------------------------------

LOCK_PRODUCTS = """
SELECT p.id, p.sku, p.name, p.description, p.price, p.stock_on_hand, p.reserved, p.active,
       p.created_at, p.updated_at,
       %(due_at)s::timestamptz IS NOT NULL AND EXISTS (
           SELECT 1 FROM inventory_reservations r
           WHERE r.product_id = p.id AND r.status = 'active' AND r.expires_at <= %(due_at)s
       ) AS due
FROM products p
WHERE p.id = ANY(%(ids)s::bigint[])
ORDER BY p.id
FOR UPDATE OF p
"""

# Absolute values: the rows are locked. The ledger entries go in with the same statement.
SAVE_PRODUCTS = """
WITH counters AS (
    UPDATE products p
    SET stock_on_hand = c.stock_on_hand, reserved = c.reserved, updated_at = now()
    FROM unnest(%(ids)s::bigint[], %(stock)s::integer[], %(reserved)s::integer[])
         AS c(id, stock_on_hand, reserved)
    WHERE p.id = c.id AND (p.stock_on_hand, p.reserved) <> (c.stock_on_hand, c.reserved)
)
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
SELECT * FROM unnest(%(m_products)s::bigint[], %(m_deltas)s::integer[], %(m_reasons)s::text[],
                     %(m_actors)s::text[], %(m_orders)s::bigint[], %(m_notes)s::text[])
"""

# Orders locked by another unit of work are skipped: that one (a payment being recorded,
# a cancellation) decides about them, and nobody waits on an order while holding products.
RELEASE_EXPIRED = """
WITH due AS (
    SELECT o.id FROM orders o
    WHERE o.status = 'pending_payment' AND o.expires_at <= %(now)s
      AND (%(product_ids)s::bigint[] IS NULL OR o.id IN (
          SELECT r.order_id FROM inventory_reservations r
          WHERE r.status = 'active' AND r.expires_at <= %(now)s
            AND r.product_id = ANY(%(product_ids)s::bigint[])))
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
SELECT count(*) AS expired FROM expired
"""

RESERVATIONS = """
SELECT r.id, r.order_id, r.product_id, p.sku, r.quantity, r.status, r.expires_at
FROM inventory_reservations r JOIN products p ON p.id = r.product_id
WHERE NOT %(active_only)s OR r.status = 'active'
ORDER BY r.id DESC
"""


class SqlInventoryRepository(InventoryRepository):
    def __init__(self, connection: Connection) -> None:
        self.sql = Statements(connection)

    def lock_products(
        self, ids: Iterable[int], *, due_at: datetime | None = None
    ) -> tuple[list[Product], bool]:
        rows = self.sql.rows(LOCK_PRODUCTS, {"ids": sorted(set(ids)), "due_at": due_at})
        return [product_from_row(row) for row in rows], any(row.due for row in rows)

    def save_products(self, changed: Sequence[Product]) -> None:
        movements = [(p.id, m) for p in changed for m in p.pending_movements]
        self.sql.rows(
            SAVE_PRODUCTS,
            {
                "ids": [p.id for p in changed],
                "stock": [p.stock_on_hand for p in changed],
                "reserved": [p.reserved for p in changed],
                "m_products": [product_id for product_id, _ in movements],
                "m_deltas": [m.delta for _, m in movements],
                "m_reasons": [m.reason.value for _, m in movements],
                "m_actors": [m.actor for _, m in movements],
                "m_orders": [m.order_id for _, m in movements],
                "m_notes": [m.note for _, m in movements],
            },
        )
        for product in changed:
            product.pending_movements.clear()

    def release_expired(self, now: datetime, product_ids: Iterable[int] | None = None) -> int:
        wanted = None if product_ids is None else sorted(set(product_ids))
        row = self.sql.first(RELEASE_EXPIRED, {"now": now, "product_ids": wanted})
        return int(row.expired)

    def reservations(self, *, active_only: bool = False) -> list[ReservationRecord]:
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
            for row in self.sql.rows(RESERVATIONS, {"active_only": active_only})
        ]
