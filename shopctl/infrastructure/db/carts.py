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

SAVE_CART = f"""
WITH cart AS ({LOCK_CART}), gone AS (
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


class PostgresCartRepository(CartRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

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
