"""Carts and their lines."""

from __future__ import annotations

from shopctl.domain.carts import Cart, CartLine
from shopctl.domain.repositories import CartRepository
from shopctl.infrastructure.db.connect import Sql
from shopctl.infrastructure.db.products import product_from_row

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
        if for_update:
            cart_id = self.sql.first(LOCK_CART, {"user_id": user_id}).id
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
            self.sql.run(CLEAR_CART, {"cart_id": cart_id})
        else:
            for product_id in stored.keys() - now.keys():
                self.sql.run(DROP_CART_LINE, {"cart_id": cart_id, "product_id": product_id})
            for product_id, quantity in now.items():
                if stored.get(product_id) != quantity:
                    parameters = {"cart_id": cart_id, "product_id": product_id}
                    self.sql.run(PUT_CART_LINE, {**parameters, "quantity": quantity})
        cart.id = cart_id
        self._locked[cart.user_id] = (cart_id, now)


def _quantities(cart: Cart) -> dict[int, int]:
    return {line.product.id: line.quantity for line in cart.lines if line.product.id is not None}
