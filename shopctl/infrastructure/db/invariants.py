"""The invariant checks behind ``shopctl audit``: named SQL queries over the whole database.

Each check's query returns one row ``(subject, detail)`` per violation. Later issues
append their own checks to ``CHECKS``; constraints may have been dropped or rows written
behind shopctl's back, so the checks do not rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopctl.application.audit import InvariantAuditor, Violation

if TYPE_CHECKING:
    from shopctl.infrastructure.db.connect import Database


@dataclass(frozen=True)
class InvariantCheck:
    name: str
    description: str
    sql: str


CHECKS: list[InvariantCheck] = [
    InvariantCheck(
        name="stock_matches_ledger",
        description="stock_on_hand equals the sum of the product's stock movements",
        sql="""
            SELECT p.sku, format('stock_on_hand is %s, the ledger sums to %s',
                                 p.stock_on_hand, coalesce(m.total, 0))
            FROM products p
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
            SELECT sku, format('stock_on_hand is %s', stock_on_hand)
            FROM products WHERE stock_on_hand < 0 ORDER BY sku
        """,
    ),
    InvariantCheck(
        name="reserved_within_stock",
        description="0 <= reserved <= stock_on_hand",
        sql="""
            SELECT sku, format('reserved is %s, stock_on_hand is %s', reserved, stock_on_hand)
            FROM products WHERE reserved < 0 OR reserved > stock_on_hand ORDER BY sku
        """,
    ),
    InvariantCheck(
        name="price_not_negative",
        description="price >= 0.00",
        sql="SELECT sku, format('price is %s', price) FROM products WHERE price < 0 ORDER BY sku",
    ),
    # -- purchase flow -----------------------------------------------------------------------
    InvariantCheck(
        name="reserved_matches_reservations",
        description="reserved equals the sum of the product's active reservations",
        sql="""
            SELECT p.sku, format('reserved is %s, active reservations hold %s',
                                 p.reserved, coalesce(r.held, 0))
            FROM products p
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
            SELECT format('order %s', o.id),
                   format('%s with %s succeeded payment(s) totalling %s, order total %s',
                          o.status, count(pay.id), coalesce(sum(pay.amount), 0), o.total)
            FROM orders o
            LEFT JOIN payments pay ON pay.order_id = o.id AND pay.status = 'succeeded'
            WHERE o.status IN ('paid', 'fulfilled')
            GROUP BY o.id
            HAVING count(pay.id) <> 1 OR sum(pay.amount) <> o.total
            ORDER BY o.id
        """,
    ),
    InvariantCheck(
        name="unpaid_orders_keep_no_charge",
        description="pending, expired and cancelled orders have no succeeded payment "
        "(a cancelled paid order was refunded)",
        sql="""
            SELECT format('order %s', o.id),
                   format('%s but payment %s is succeeded', o.status, pay.id)
            FROM orders o JOIN payments pay ON pay.order_id = o.id
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
            SELECT format('order %s', pay.order_id),
                   format('payment %s captured %s but was neither recorded nor refunded',
                          pay.id, pay.gateway_reference)
            FROM payments pay
            WHERE pay.status = 'pending' AND pay.gateway_reference IS NOT NULL
            ORDER BY pay.order_id, pay.id
        """,
    ),
    InvariantCheck(
        name="reservations_match_order_status",
        description="reservations are active while the order is pending, committed once "
        "paid, expired or released when it expired or was cancelled",
        sql="""
            SELECT format('order %s', o.id),
                   format('%s order has a %s reservation of %s', o.status, r.status, p.sku)
            FROM inventory_reservations r
            JOIN orders o ON o.id = r.order_id
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
        description="an order's total is the sum of its lines",
        sql="""
            SELECT format('order %s', o.id),
                   format('total is %s, the lines sum to %s', o.total, coalesce(l.sum, 0))
            FROM orders o
            LEFT JOIN (SELECT order_id, sum(unit_price * quantity) AS sum
                       FROM order_lines GROUP BY order_id) l ON l.order_id = o.id
            WHERE o.total IS DISTINCT FROM coalesce(l.sum, 0)
            ORDER BY o.id
        """,
    ),
    InvariantCheck(
        name="refunds_within_capture",
        description="the mock gateway never refunded more than a charge captured",
        sql="""
            SELECT c.reference, format('captured %s, refunded %s', c.amount, sum(r.amount))
            FROM mock_gateway_charges c
            JOIN mock_gateway_charges r ON r.kind = 'refund' AND r.charge_reference = c.reference
            WHERE c.kind = 'charge'
            GROUP BY c.reference, c.amount
            HAVING sum(r.amount) > c.amount
            ORDER BY c.reference
        """,
    ),
]


class PostgresInvariantAuditor(InvariantAuditor):
    def __init__(self, database: Database, checks: list[InvariantCheck] | None = None) -> None:
        self._database = database
        self._checks = CHECKS if checks is None else checks

    def check_names(self) -> list[str]:
        return [check.name for check in self._checks]

    def violations(self) -> list[Violation]:
        found: list[Violation] = []
        # One read-only snapshot: a concurrent purchase cannot make the checks disagree.
        with self._database.transaction(read_only=True, snapshot=True) as sql:
            for check in self._checks:
                for subject, detail in sql.tuples(check.sql):
                    found.append(Violation(check.name, str(subject), str(detail)))
        return found
