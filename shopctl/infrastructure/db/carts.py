"""Carts and their lines."""

from __future__ import annotations

from shopctl.domain.carts import Cart, CartLine
from shopctl.domain.repositories import CartRepository
from shopctl.infrastructure.db.connect import Sql
from shopctl.infrastructure.db.products import product_from_row

LINES = """l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at"""
JOIN_LINES = """LEFT JOIN cart_lines l ON l.cart_id = {cart}.id
LEFT JOIN products p ON p.id = l.product_id"""
GET_CART = f"""
SELECT c.id AS cart_id, {LINES}
FROM carts c
{JOIN_LINES.format(cart="c")}
WHERE c.user_id = %(user_id)s
ORDER BY p.sku
"""

# Locks the cart, creating it on first use, so that concurrent edits and placements of one
# cart run one after the other, and raises its version.
LOCK_CART = """
INSERT INTO carts (user_id) VALUES (%(user_id)s)
ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = carts.version + 1
RETURNING id, version
"""
# The lock and the lines in one statement. Its lines come from the statement's snapshot, taken
# before the lock was granted; they are the lines under the lock when nobody locked the cart
# in between (every writer of its lines holds that lock): when the version it raised is one
# more than the snapshot's (a new cart: 0, none before). Otherwise (``current`` false) the
# lines are read again, by a statement whose snapshot is taken after the lock.
LOCK_CART_WITH_LINES = f"""
WITH locked AS ({LOCK_CART.strip()})
SELECT locked.id AS cart_id,
       locked.version = coalesce(
           (SELECT version FROM carts WHERE user_id = %(user_id)s), -1) + 1 AS current,
       {LINES}
FROM locked
{JOIN_LINES.format(cart="locked")}
ORDER BY p.sku
"""

# A cart is saved by what changed since it was read under its lock: a cart add writes its one
# line, instead of sending every line again (the lock keeps the rest as it was read).
PUT_CART_LINE = """
INSERT INTO cart_lines (cart_id, product_id, quantity)
VALUES (%(cart_id)s, %(product_id)s, %(quantity)s)
ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity
"""
CLEAR_CART = "DELETE FROM cart_lines WHERE cart_id = %(cart_id)s"
DROP_CART_LINE = CLEAR_CART + " AND product_id = %(product_id)s"


class PostgresCartRepository(CartRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        # user id -> (cart id, {product id: quantity}) as read under the cart's lock
        self._locked: dict[int, tuple[int, dict[int, int]]] = {}

    def get(self, user_id: int, *, for_update: bool = False) -> Cart:
        rows = self.sql.rows(LOCK_CART_WITH_LINES if for_update else GET_CART, {"user_id": user_id})
        if for_update:
            cart_id = rows[0].cart_id
            if not rows[0].current:  # locked by somebody else meanwhile: read what they left
                rows = self.sql.rows(GET_CART, {"user_id": user_id})
        cart = Cart(user_id=user_id, id=rows[0].cart_id if rows else None)
        cart.lines = [CartLine(product_from_row(row), row.quantity) for row in rows if row.sku]
        if for_update:
            self._locked[user_id] = (cart_id, _quantities(cart))
        return cart

    def save(self, cart: Cart) -> None:
        locked = self._locked.get(cart.user_id)
        assert locked is not None, "save() stores a cart read with get(for_update=True)"
        cart_id, stored = locked
        now = _quantities(cart)
        if not now and stored:
            self.sql.later(CLEAR_CART, {"cart_id": cart_id})
        else:
            for product_id in stored.keys() - now.keys():
                self.sql.later(DROP_CART_LINE, {"cart_id": cart_id, "product_id": product_id})
            for product_id, quantity in now.items():
                if stored.get(product_id) != quantity:
                    parameters = {"cart_id": cart_id, "product_id": product_id}
                    self.sql.later(PUT_CART_LINE, {**parameters, "quantity": quantity})
        cart.id = cart_id
        self._locked[cart.user_id] = (cart_id, now)


def _quantities(cart: Cart) -> dict[int, int]:
    return {line.product.id: line.quantity for line in cart.lines if line.product.id is not None}
