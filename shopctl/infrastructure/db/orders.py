"""Orders with their lines and reservations, and the product counters reservations move.

This is the checkout hot path (``shopctl simulate`` runs it from many threads), so it is
written for few round trips and little Python per statement: arrays bound once (``unnest``)
instead of a statement per line, and data-modifying CTEs, so that an order with its lines
and reservations is one round trip; an order is read with its lines and reservations in
one statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from shopctl.domain.orders import (
    InventoryReservation,
    Order,
    OrderLine,
    OrderStatus,
    ReservationStatus,
)
from shopctl.domain.products import Product
from shopctl.domain.repositories import (
    InventoryRepository,
    OrderQuery,
    OrderRepository,
    ReservationRecord,
)
from shopctl.infrastructure.db.connect import Sql, ids
from shopctl.infrastructure.db.products import (
    ADD_MOVEMENTS,
    PRODUCT_COLUMNS,
    movement_parameters,
    product_from_row,
)

ADD_ORDER = """
WITH new_order AS (
    INSERT INTO orders (user_id, status, total, units, currency, created_at, updated_at,
                        expires_at)
    VALUES (%(user_id)s, %(status)s, %(total)s, %(units)s, %(currency)s, %(created_at)s,
            %(created_at)s, %(expires_at)s)
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

# The reservations are found by their order first: a plan that looks up each id of the
# array would cost more the longer the array, and so would be planned anew on every run (see
# SAVE_COUNTERS); an order's few reservations cost the same either way.
UPDATE_ORDER = """
WITH settled AS (
    UPDATE inventory_reservations r SET status = s.status
    FROM unnest(%(reservation_ids)s::bigint[], %(statuses)s::text[]) AS s(id, status)
    WHERE r.order_id = %(id)s AND r.id = s.id AND r.status <> s.status
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


class PostgresOrderRepository(OrderRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def add(self, order: Order) -> None:
        lines, held = order.lines, order.reservations

        def ids_given(rows: list[Any]) -> None:
            order.id = rows[0].order_id
            ids = {row.product_id: row.id for row in rows}
            for reservation in held:
                reservation.id = ids[reservation.product_id]

        # Nothing in the unit of work needs the ids before it commits: the order goes with
        # the COMMIT (one round trip fewer while the products are locked).
        self.sql.later(
            ADD_ORDER,
            {
                "user_id": order.user_id,
                "status": order.status.value,
                "total": order.total,
                "units": sum(line.quantity for line in lines),
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
            then=ids_given,
        )

    def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        statement = LOCK_ORDER if for_update else GET_ORDER
        found = _orders_from_rows(self.sql.rows(statement, {"id": order_id}))
        return found[0] if found else None

    def list(self, query: OrderQuery) -> list[Order]:
        status = None if query.status is None else query.status.value
        rows = self.sql.rows(LIST_ORDERS, {"user_id": query.user_id, "status": status})
        return _orders_from_rows(rows)

    def update(self, order: Order) -> None:
        self.sql.later(
            UPDATE_ORDER,
            {
                "id": order.id,
                "status": order.status.value,
                "paid_at": order.paid_at,
                "reservation_ids": [r.id for r in order.reservations],
                "statuses": [r.status.value for r in order.reservations],
            },
        )


# -- inventory ------------------------------------------------------------------------------

# Products locked in ascending id order, and whether an expired reservation (by ``due_at``)
# still holds one: the given ones, or those in a user's cart (sent right behind the cart's
# lock, in its round trip, it reads the lines that lock protects), or those an order's active
# reservations hold (right behind the order's lock, for the sale of a successful charge).
#
# Each is planned once per connection (see SAVE_COUNTERS), whatever the statistics say:
# - the ids always come as an array made by a sub-select, looked up by primary key. Joined to
#   the cart's lines instead, the planner may merge-join the primary key from its start up to
#   the cart's highest id (statistics taken while the carts were empty say so). An array
#   parameter's length would be known to the plans made for the values at hand but not to
#   the generic plan, which assumes ten ids and so costs more;
# - a statement checks ``due`` or does not: with ``due_at`` as a parameter that may be NULL,
#   a plan made for NULL would drop the check, and cost less than the generic plan.
_DUE = """EXISTS (
           SELECT 1 FROM inventory_reservations r
           WHERE r.product_id = p.id AND r.status = 'active' AND r.expires_at <= %(due_at)s
       )"""
_WHICH = {
    "given": "SELECT unnest(%(ids)s::bigint[])",
    "cart": "SELECT l.product_id FROM carts c JOIN cart_lines l ON l.cart_id = c.id\n"
    "                          WHERE c.user_id = %(user_id)s",
    "order": "SELECT h.product_id FROM inventory_reservations h\n"
    "                          WHERE h.order_id = %(order_id)s AND h.status = 'active'",
}
_LOCKING = {
    (which, due): f"""
SELECT {PRODUCT_COLUMNS},
       {_DUE if due else "false"} AS due
FROM products p
WHERE p.id = ANY(ARRAY({products}))
ORDER BY p.id
FOR UPDATE OF p
"""
    for which, products in _WHICH.items()
    for due in (False, True)
}
LOCK_CART_PRODUCTS = _LOCKING["cart", True]  # as placement sends it
LOCK_ORDER_PRODUCTS = _LOCKING["order", False]

# A product's counters move by what it changed since it was locked (``reserved = reserved +
# q``), with its ledger entries in the same statement when there are any (a reservation has
# none). One statement per product, not one for an array of them: PostgreSQL plans a
# prepared statement for the values at hand five times, then compares those plans' cost with
# its generic plan's, made without the values. An array parameter's generic plan assumes ten
# elements, so it costs more than a plan for the two or three of an order, and the statement
# was planned anew on every run: 0.13-0.15 ms of the server's time, more than running it.
SAVE_COUNTERS = """
UPDATE products
SET stock_on_hand = stock_on_hand + %(stock)s, reserved = reserved + %(reserved)s,
    updated_at = now()
WHERE id = %(id)s
"""
SAVE_PRODUCT = f"WITH counters AS ({SAVE_COUNTERS.strip()})" + ADD_MOVEMENTS

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


class PostgresInventoryRepository(InventoryRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._locked: dict[int, tuple[int, int]] = {}  # id -> (stock, reserved) as locked

    def lock_products(
        self, product_ids: Iterable[int], *, due_at: datetime | None = None
    ) -> tuple[list[Product], bool]:
        wanted = ids(product_ids)
        if not wanted:
            return [], False
        statement = _LOCKING["given", due_at is not None]
        return self._locked_rows(self.sql.rows(statement, {"ids": wanted, "due_at": due_at}))

    def lock_cart_products_after_next(
        self, user_id: int, *, due_at: datetime | None = None
    ) -> Callable[[], tuple[list[Product], bool]]:
        statement = _LOCKING["cart", due_at is not None]
        parameters = {"user_id": user_id, "due_at": due_at}
        return self.sql.behind([(statement, parameters)], self._locked_rows).value

    def lock_order_products_after_next(
        self, order_id: int
    ) -> Callable[[], tuple[list[Product], bool]]:
        parameters = {"order_id": order_id}
        return self.sql.behind([(LOCK_ORDER_PRODUCTS, parameters)], self._locked_rows).value

    def _locked_rows(self, rows: list[Any]) -> tuple[list[Product], bool]:
        for row in rows:
            self._locked[row.id] = (row.stock_on_hand, row.reserved)
        return [product_from_row(row) for row in rows], any(row.due for row in rows)

    def save_products(self, changed: Sequence[Product]) -> None:
        for product in changed:
            assert product.id in self._locked, "save_products() stores locked products"
            stock, reserved = self._locked[product.id]
            counters = {
                "id": product.id,
                "stock": product.stock_on_hand - stock,
                "reserved": product.reserved - reserved,
            }
            moved = counters["stock"] != 0 or counters["reserved"] != 0
            self._locked[product.id] = (product.stock_on_hand, product.reserved)
            if product.pending_movements:
                movements = movement_parameters([product])
                self.sql.later(SAVE_PRODUCT if moved else ADD_MOVEMENTS, {**counters, **movements})
                product.pending_movements.clear()
            elif moved:
                self.sql.later(SAVE_COUNTERS, counters)

    def release_expired(self, now: datetime, product_ids: Iterable[int] | None = None) -> int:
        wanted = None if product_ids is None else ids(product_ids)
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
