"""The reports' sums over orders: set-based SQL, each report one read-only snapshot.

The orders of a window are found by ``ix_orders_paid_at`` (``paid_at``, only orders that
were paid, with their status, total and units beside it); their lines, where a report needs
them (by product), by ``order_lines``' primary key. A paid order that was cancelled later keeps its ``paid_at``: it is a refund of the
period it was paid in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from shopctl.application.reports import (
    OrderLineRecord,
    OrderRecord,
    RankBy,
    SalesBy,
    SalesFigures,
    SalesLedger,
    StockLevel,
    TopProduct,
)
from shopctl.domain.orders import OrderStatus
from shopctl.infrastructure.db.connect import Database

# Paid in the window: paid, fulfilled, or cancelled after the payment (a refund).
PAID_ORDERS = """
SELECT o.id, o.total, o.units, o.status = 'cancelled' AS refunded, o.paid_at
FROM orders o
WHERE o.paid_at >= %(start)s AND o.paid_at < %(end)s
"""

# Read from the index alone (paid_at with status, total and units beside it). The period's
# expression has statistics of its own (orders_paid_day, _week, _month): without them
# PostgreSQL takes a year's weeks for as many as its orders' paid_at values, and sorts them
# all. A statistics object speaks only for the expression it names, character for character.
SALES_BY_PERIOD = f"""
WITH paid AS ({PAID_ORDERS})
SELECT date_trunc(%(unit)s, paid.paid_at AT TIME ZONE 'UTC')::date AS key,
       count(*) AS orders,
       sum(paid.units) AS units,
       sum(paid.total) AS gross,
       coalesce(sum(paid.total) FILTER (WHERE paid.refunded), 0) AS refunds
FROM paid
GROUP BY 1
ORDER BY 1
"""

SALES_TOTALS = f"""
WITH paid AS ({PAID_ORDERS})
SELECT 'total' AS key,
       count(*) AS orders,
       coalesce(sum(paid.units), 0) AS units,
       coalesce(sum(paid.total), 0) AS gross,
       coalesce(sum(paid.total) FILTER (WHERE paid.refunded), 0) AS refunds
FROM paid
"""

SALES_BY_PRODUCT = f"""
WITH paid AS ({PAID_ORDERS})
SELECT l.sku AS key,
       count(DISTINCT l.order_id) AS orders,
       sum(l.quantity) AS units,
       sum(l.unit_price * l.quantity) AS gross,
       coalesce(sum(l.unit_price * l.quantity) FILTER (WHERE paid.refunded), 0) AS refunds
FROM paid JOIN order_lines l ON l.order_id = paid.id
GROUP BY l.sku
ORDER BY l.sku
"""

TOP_PRODUCTS = f"""
WITH paid AS ({PAID_ORDERS}),
sold AS (
    SELECT l.product_id, sum(l.quantity) AS units, sum(l.unit_price * l.quantity) AS revenue
    FROM paid JOIN order_lines l ON l.order_id = paid.id
    WHERE NOT paid.refunded
    GROUP BY l.product_id
)
SELECT p.sku, p.name, sold.units, sold.revenue, p.stock_on_hand,
       p.stock_on_hand - p.reserved AS available
FROM sold JOIN products p ON p.id = sold.product_id
ORDER BY {{order}} DESC, p.sku
LIMIT %(limit)s
"""
RANKING = {RankBy.UNITS: "sold.units", RankBy.REVENUE: "sold.revenue"}

STOCK_LEVELS = f"""
WITH paid AS ({PAID_ORDERS}),
sold AS (
    SELECT l.product_id, sum(l.quantity) AS units
    FROM paid JOIN order_lines l ON l.order_id = paid.id
    WHERE NOT paid.refunded
    GROUP BY l.product_id
)
SELECT p.sku, p.name, p.stock_on_hand - p.reserved AS available,
       coalesce(sold.units, 0) AS units_sold
FROM products p LEFT JOIN sold ON sold.product_id = p.id
WHERE p.active
ORDER BY p.sku
"""

# Orders placed in a window, oldest first (the primary key is in placing order).
EXPORTED = """
FROM orders o JOIN users u ON u.id = o.user_id
WHERE (%(start)s::timestamptz IS NULL OR o.created_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR o.created_at < %(end)s)
  AND (%(status)s::text IS NULL OR o.status = %(status)s)
"""
EXPORT_ORDERS = f"""
SELECT o.id, o.status, u.email, o.currency, o.total,
       (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l WHERE l.order_id = o.id),
       o.created_at, o.paid_at
{EXPORTED}
ORDER BY o.id
"""
EXPORT_LINES = f"""
SELECT o.id, o.status, u.email, o.created_at, o.paid_at, l.sku, l.name, l.unit_price,
       l.quantity, l.unit_price * l.quantity
{EXPORTED.replace("FROM orders o", "FROM orders o JOIN order_lines l ON l.order_id = o.id")}
ORDER BY o.id, l.sku
"""

UNITS = {SalesBy.DAY: "day", SalesBy.WEEK: "week", SalesBy.MONTH: "month"}


def _figures(row: tuple[Any, ...]) -> SalesFigures:
    key, orders, units, gross, refunds = row
    return SalesFigures(key, int(orders), int(units), gross, refunds)


def _summed(figures: list[SalesFigures]) -> SalesFigures:
    return SalesFigures(
        "total",
        sum(f.orders for f in figures),
        sum(f.units for f in figures),
        sum((f.gross for f in figures), Decimal("0.00")),
        sum((f.refunds for f in figures), Decimal("0.00")),
    )


class PostgresSalesLedger(SalesLedger):
    def __init__(self, database: Database) -> None:
        self._database = database

    def sales(
        self, start: datetime, end: datetime, by: SalesBy
    ) -> tuple[list[SalesFigures], SalesFigures]:
        window = {"start": start, "end": end}
        if by is not SalesBy.PRODUCT:  # each order is in one period: the rows add up
            with self._database.transaction(read_only=True) as sql:
                rows = sql.tuples(SALES_BY_PERIOD, {**window, "unit": UNITS[by]})
            figures = [_figures(row) for row in rows]
            return figures, _summed(figures)
        # An order with two products is in two rows: the totals count it once, from the same
        # snapshot as the rows.
        with self._database.transaction(read_only=True, snapshot=True) as sql:
            rows = sql.tuples(SALES_BY_PRODUCT, window)
            total = sql.tuples(SALES_TOTALS, window)[0]
        return [_figures(row) for row in rows], _figures(total)

    def top_products(
        self, start: datetime, end: datetime, by: RankBy, limit: int
    ) -> list[TopProduct]:
        statement = TOP_PRODUCTS.format(order=RANKING[by])
        parameters = {"start": start, "end": end, "limit": limit}
        with self._database.transaction(read_only=True) as sql:
            rows = sql.tuples(statement, parameters)
        return [TopProduct(sku, name, int(u), rev, int(on_hand), int(available))
                for sku, name, u, rev, on_hand, available in rows]  # fmt: skip

    def stock_levels(self, start: datetime, end: datetime) -> list[StockLevel]:
        with self._database.transaction(read_only=True) as sql:
            rows = sql.tuples(STOCK_LEVELS, {"start": start, "end": end})
        return [StockLevel(sku, name, int(available), int(units))
                for sku, name, available, units in rows]  # fmt: skip

    def stream_orders(
        self,
        start: datetime | None,
        end: datetime | None,
        status: OrderStatus | None,
        *,
        lines: bool,
    ) -> Iterator[OrderRecord] | Iterator[OrderLineRecord]:
        parameters = {"start": start, "end": end, "status": status and status.value}
        if lines:
            return self._stream(EXPORT_LINES, parameters, OrderLineRecord)
        return self._stream(EXPORT_ORDERS, parameters, OrderRecord)

    def _stream(self, statement: str, parameters: dict[str, Any], record: Any) -> Iterator[Any]:
        with self._database.transaction(read_only=True, snapshot=True) as sql:
            for row in sql.stream(statement, parameters, size=2000):
                yield record(*row)
