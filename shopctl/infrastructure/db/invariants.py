"""The invariant checks behind ``shopctl audit`` and ``simulate``'s audit: named SQL queries.

Each check's query returns one row ``(subject, detail)`` per violation. Constraints may
have been dropped or rows written behind shopctl's back, so the checks do not rely on them.
They read ``scoped_products``, ``scoped_users``, ``scoped_orders`` and ``scoped_charges``
(``SCOPED``): the whole
shop for ``shopctl audit``, or one simulation run's products and shoppers (``Scope``).
Statements take parameters: a literal ``%`` is written ``%%``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopctl.application.audit import InvariantAuditor, Violation

if TYPE_CHECKING:
    from shopctl.infrastructure.db.connect import Database, Sql


@dataclass(frozen=True)
class InvariantCheck:
    name: str
    description: str
    sql: str


@dataclass(frozen=True)
class Scope:
    """Which rows the checks look at: products whose SKU starts with ``sku_prefix`` and the
    orders of users whose email ends with ``@user_domain``; everything when both are None."""

    sku_prefix: str | None = None
    user_domain: str | None = None

    def parameters(self) -> dict[str, str | None]:
        return {"sku_prefix": self.sku_prefix, "user_domain": self.user_domain}


WHOLE_SHOP = Scope()

SCOPED = """
WITH scoped_products AS (
    SELECT * FROM products
    WHERE %(sku_prefix)s::text IS NULL OR starts_with(sku, %(sku_prefix)s)
), scoped_users AS (
    SELECT id AS user_id FROM users
    WHERE %(user_domain)s::text IS NULL OR email LIKE '%%@' || %(user_domain)s
), scoped_orders AS (
    SELECT * FROM orders WHERE user_id IN (SELECT user_id FROM scoped_users)
), scoped_charges AS (
    SELECT * FROM mock_gateway_charges
    WHERE kind = 'charge' AND (%(user_domain)s::text IS NULL OR idempotency_key IN (
        SELECT idempotency_key FROM payments WHERE order_id IN (SELECT id FROM scoped_orders)))
)
"""


CHECKS: list[InvariantCheck] = [
    InvariantCheck(
        name="stock_matches_ledger",
        description="stock_on_hand equals the sum of the product's stock movements",
        sql="""
            SELECT p.sku, format('stock_on_hand is %%s, the ledger sums to %%s',
                                 p.stock_on_hand, coalesce(m.total, 0))
            FROM scoped_products p
            LEFT JOIN (SELECT product_id, sum(delta) AS total
                       FROM stock_movements GROUP BY product_id) m ON m.product_id = p.id
            WHERE p.stock_on_hand IS DISTINCT FROM coalesce(m.total, 0)
            ORDER BY p.sku
        """,
    ),
    InvariantCheck(
        name="stock_not_negative",
        description="stock_on_hand >= 0",
        sql="""
            SELECT sku, format('stock_on_hand is %%s', stock_on_hand)
            FROM scoped_products WHERE stock_on_hand < 0 ORDER BY sku
        """,
    ),
    InvariantCheck(
        name="reserved_within_stock",
        description="0 <= reserved <= stock_on_hand",
        sql="""
            SELECT sku, format('reserved is %%s, stock_on_hand is %%s', reserved, stock_on_hand)
            FROM scoped_products WHERE reserved < 0 OR reserved > stock_on_hand ORDER BY sku
        """,
    ),
    InvariantCheck(
        name="price_not_negative",
        description="price >= 0.00",
        sql="SELECT sku, format('price is %%s', price) FROM scoped_products WHERE price < 0 ORDER BY sku",
    ),
    # -- purchase flow -----------------------------------------------------------------------
    InvariantCheck(
        name="sales_match_paid_order_lines",
        description="the units the ledger sold (net of restocks after cancelled sales) are "
        "the units of the product's paid and fulfilled order lines",
        sql="""
            SELECT p.sku, format('the ledger sold %%s, paid order lines hold %%s',
                                 coalesce(m.sold, 0), coalesce(l.paid, 0))
            FROM scoped_products p
            LEFT JOIN (SELECT product_id, -sum(delta) AS sold FROM stock_movements
                       WHERE reason IN ('sale', 'restock_cancel') GROUP BY product_id) m
                   ON m.product_id = p.id
            LEFT JOIN (SELECT l.product_id, sum(l.quantity) AS paid
                       FROM order_lines l JOIN orders o ON o.id = l.order_id
                       WHERE o.status IN ('paid', 'fulfilled') GROUP BY l.product_id) l
                   ON l.product_id = p.id
            WHERE coalesce(m.sold, 0) <> coalesce(l.paid, 0)
            ORDER BY p.sku
        """,
    ),
    InvariantCheck(
        name="reserved_matches_reservations",
        description="reserved equals the sum of the product's active reservations",
        sql="""
            SELECT p.sku, format('reserved is %%s, active reservations hold %%s',
                                 p.reserved, coalesce(r.held, 0))
            FROM scoped_products p
            LEFT JOIN (SELECT product_id, sum(quantity) AS held FROM inventory_reservations
                       WHERE status = 'active' GROUP BY product_id) r ON r.product_id = p.id
            WHERE p.reserved IS DISTINCT FROM coalesce(r.held, 0)
            ORDER BY p.sku
        """,
    ),
    InvariantCheck(
        name="paid_orders_have_one_payment",
        description="a paid or fulfilled order has exactly one succeeded payment of its total",
        sql="""
            SELECT format('order %%s', o.id),
                   format('%%s with %%s succeeded payment(s) totalling %%s, order total %%s',
                          o.status, count(pay.id), coalesce(sum(pay.amount), 0), o.total)
            FROM scoped_orders o
            LEFT JOIN payments pay ON pay.order_id = o.id AND pay.status = 'succeeded'
            WHERE o.status IN ('paid', 'fulfilled')
            GROUP BY o.id, o.status, o.total
            HAVING count(pay.id) <> 1 OR sum(pay.amount) <> o.total
            ORDER BY o.id
        """,
    ),
    InvariantCheck(
        name="unpaid_orders_keep_no_charge",
        description="pending, expired and cancelled orders have no succeeded payment "
        "(a cancelled paid order was refunded)",
        sql="""
            SELECT format('order %%s', o.id),
                   format('%%s but payment %%s is succeeded', o.status, pay.id)
            FROM scoped_orders o JOIN payments pay ON pay.order_id = o.id
            WHERE o.status IN ('pending_payment', 'expired', 'cancelled')
              AND pay.status = 'succeeded'
            ORDER BY o.id, pay.id
        """,
    ),
    InvariantCheck(
        name="no_refund_owed",
        description="no charge was captured for an order that could not take it without "
        "being refunded (cancelling the order again retries the refund)",
        sql="""
            SELECT format('order %%s', pay.order_id),
                   format('payment %%s captured %%s but was neither recorded nor refunded',
                          pay.id, pay.gateway_reference)
            FROM payments pay
            WHERE pay.status = 'pending' AND pay.gateway_reference IS NOT NULL
              AND pay.order_id IN (SELECT id FROM scoped_orders)
            ORDER BY pay.order_id, pay.id
        """,
    ),
    InvariantCheck(
        name="reservations_match_order_status",
        description="reservations are active while the order is pending, committed once "
        "paid, expired or released when it expired or was cancelled",
        sql="""
            SELECT format('order %%s', o.id),
                   format('%%s order has a %%s reservation of %%s', o.status, r.status, p.sku)
            FROM inventory_reservations r
            JOIN scoped_orders o ON o.id = r.order_id
            JOIN products p ON p.id = r.product_id
            WHERE NOT (
                (o.status = 'pending_payment' AND r.status = 'active')
                OR (o.status IN ('paid', 'fulfilled') AND r.status = 'committed')
                OR (o.status = 'expired' AND r.status = 'expired')
                OR (o.status = 'cancelled' AND o.paid_at IS NULL AND r.status = 'released')
                OR (o.status = 'cancelled' AND o.paid_at IS NOT NULL AND r.status = 'committed')
            )
            ORDER BY o.id, p.sku
        """,
    ),
    InvariantCheck(
        name="order_total_matches_lines",
        description="an order's total and units are the sums of its lines",
        sql="""
            SELECT format('order %%s', o.id),
                   format('total is %%s, units %%s; the lines sum to %%s, %%s units',
                          o.total, o.units, coalesce(l.sum, 0), coalesce(l.units, 0))
            FROM scoped_orders o
            LEFT JOIN (SELECT order_id, sum(unit_price * quantity) AS sum,
                              sum(quantity) AS units
                       FROM order_lines GROUP BY order_id) l ON l.order_id = o.id
            WHERE o.total IS DISTINCT FROM coalesce(l.sum, 0)
               OR o.units IS DISTINCT FROM coalesce(l.units, 0)
            ORDER BY o.id
        """,
    ),
    InvariantCheck(
        name="refunds_within_capture",
        description="the mock gateway never refunded more than a charge captured",
        sql="""
            SELECT c.reference, format('captured %%s, refunded %%s', c.amount, sum(r.amount))
            FROM scoped_charges c
            JOIN mock_gateway_charges r ON r.kind = 'refund' AND r.charge_reference = c.reference
            WHERE c.kind = 'charge'
            GROUP BY c.reference, c.amount
            HAVING sum(r.amount) > c.amount
            ORDER BY c.reference
        """,
    ),
]


def find_violations(sql: Sql, scope: Scope, checks: list[InvariantCheck]) -> list[Violation]:
    """Every violation of ``checks`` within ``scope``, in check order, on ``sql``'s
    transaction (the caller gives it one snapshot)."""
    parameters = scope.parameters()
    return [
        Violation(check.name, str(subject), str(detail))
        for check in checks
        for subject, detail in sql.tuples(SCOPED + check.sql, parameters)
    ]


class PostgresInvariantAuditor(InvariantAuditor):
    def __init__(
        self,
        database: Database,
        checks: list[InvariantCheck] | None = None,
        *,
        scope: Scope = WHOLE_SHOP,
    ) -> None:
        self._database = database
        self._checks = CHECKS if checks is None else checks
        self._scope = scope

    def check_names(self) -> list[str]:
        return [check.name for check in self._checks]

    def violations(self) -> list[Violation]:
        # One read-only snapshot: a concurrent purchase cannot make the checks disagree.
        with self._database.transaction(read_only=True, snapshot=True) as sql:
            return find_violations(sql, self._scope, self._checks)
