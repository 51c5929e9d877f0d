"""The data of a simulation run: its tagged catalog and shoppers, their audit and removal.

Statements that take parameters write a literal ``%`` as ``%%``.

Everything a run creates is found again by its tag alone: products by the SKU prefix
``SIM-<run id>-``, shoppers by the e-mail domain ``<run id>.simulate.invalid`` (``.invalid``
is reserved: no mail can ever reach it). Setup and cleanup are set-based statements; the
flows themselves go through the use cases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from shopctl.application.audit import Audit
from shopctl.domain.products import Product
from shopctl.domain.users import Role, User, normalise_email
from shopctl.infrastructure.db.invariants import CHECKS, SCOPED, Scope, find_violations
from shopctl.infrastructure.db.products import add_products
from shopctl.infrastructure.db.users import add_users

if TYPE_CHECKING:
    from shopctl.infrastructure.db.connect import Database

# matches no password: simulated shoppers never log in
UNUSABLE_PASSWORD_HASH = "!simulated-shopper"
ACTOR = "simulate"


@dataclass(frozen=True)
class SimulatedProduct:
    id: int
    sku: str


@dataclass(frozen=True)
class SimulatedShopper:
    id: int
    email: str


def sku_prefix(run_id: str) -> str:
    return f"SIM-{run_id}-"


def shopper_domain(run_id: str) -> str:
    return f"{run_id}.simulate.invalid"


class SimulationData:
    def __init__(self, database: Database, run_id: str) -> None:
        self._database = database
        self.run_id = run_id
        self.prefix = sku_prefix(run_id)
        self.domain = shopper_domain(run_id)
        self.scope = Scope(sku_prefix=self.prefix, user_domain=self.domain)

    def create_catalog(self, count: int, stock: int, seed: int) -> list[SimulatedProduct]:
        """``count`` products with ``stock`` units each (one ``adjust`` movement each), in
        SKU order: ``SIM-<run>-00001`` … (the hot SKUs are the first ones). Each is a
        ``Product`` first, so the catalog passes the rules of ``products create``."""
        rng = random.Random(f"{seed}/prices")
        products = []
        for n in range(1, count + 1):
            product = Product(
                sku=f"{self.prefix}{n:05d}",
                name=f"Simulated product {n}",
                price=Decimal(rng.randrange(100, 10_000)) / 100,
                description="created by shopctl simulate",
            )
            if stock:
                product.add_stock(stock, actor=ACTOR, note="simulation stock")
            products.append(product)
        with self._database.transaction() as sql:
            add_products(sql, products)
        return [SimulatedProduct(p.id, p.sku) for p in products if p.id is not None]

    def create_shoppers(self, count: int) -> list[SimulatedShopper]:
        shoppers = [
            User(
                email=normalise_email(f"shopper-{n}@{self.domain}"),
                password_hash=UNUSABLE_PASSWORD_HASH,
                role=Role.CUSTOMER,
            )
            for n in range(1, count + 1)
        ]
        with self._database.transaction() as sql:
            add_users(sql, shoppers)
        return [SimulatedShopper(u.id, u.email) for u in shoppers if u.id is not None]

    # -- after the run ----------------------------------------------------------------------

    def audit(
        self,
        *,
        stock: int,
        paid_orders: int,
        units_paid: int,
        unsure_orders: int = 0,
        unsure_units: int = 0,
    ) -> Audit:
        """Check the run's products and orders in one snapshot: every invariant of
        ``shopctl audit`` scoped to the run, and what only the run knows.

        ``paid_orders`` / ``units_paid`` are what the shoppers were told: the database must
        agree with them; every product started with ``stock`` units and sold at most those.
        ``unsure_*``: what shoppers who were lost with their worker may have been told on top
        (the database may hold up to that many more, never fewer).
        """
        scope = self.scope
        parameters = scope.parameters()
        with self._database.transaction(read_only=True, snapshot=True) as sql:
            violations = [
                f"{v.check}: {v.subject}: {v.detail}" for v in find_violations(sql, scope, CHECKS)
            ]
            rows = sql.rows(PRODUCT_AUDIT, parameters)
            ((paid_in_db, units_in_db),) = sql.tuples(PAID_TOTALS, parameters)
        for row in rows:
            if row.sold > stock:
                violations.append(f"{row.sku}: OVERSOLD {row.sold} units of {stock} in stock")
            if row.initial != stock:
                violations.append(f"{row.sku}: started with {row.initial} units, not {stock}")
        units_sold = sum(row.sold for row in rows)
        if not paid_orders <= paid_in_db <= paid_orders + unsure_orders:
            told = f"{paid_orders}" + (
                f" (+ up to {unsure_orders} unsure)" if unsure_orders else ""
            )
            violations.append(
                f"shoppers were told {told} order(s) were paid, the database has {paid_in_db}"
            )
        if not units_paid <= units_in_db <= units_paid + unsure_units or units_sold != units_in_db:
            told = f"{units_paid}" + (f" (+ up to {unsure_units} unsure)" if unsure_units else "")
            violations.append(
                f"shoppers paid for {told} unit(s); paid order lines hold {units_in_db}, "
                f"the ledger sold {units_sold}"
            )
        return Audit(
            products=len(rows),
            stock=stock * len(rows),
            units_sold=units_sold,
            units_reserved=sum(row.reserved for row in rows),
            violations=tuple(violations),
        )

    def cleanup(self) -> None:
        """Delete everything the run created, and nothing else (one transaction)."""
        parameters = self.scope.parameters()
        if not (parameters["sku_prefix"] and parameters["user_domain"]):
            raise ValueError("cleanup deletes a run's rows only, never the whole shop's")
        with self._database.transaction() as sql:
            for statement in CLEANUP:
                sql.run(statement, parameters)


# The run's rows are the scope's (``invariants.SCOPED``): its products by SKU prefix, its
# orders by their shoppers' email domain.
PRODUCT_AUDIT = (
    SCOPED
    + """
SELECT p.sku, p.reserved,
       coalesce((SELECT sum(delta) FROM stock_movements m
                 WHERE m.product_id = p.id AND m.reason = 'adjust'), 0) AS initial,
       coalesce((SELECT -sum(delta) FROM stock_movements m
                 WHERE m.product_id = p.id AND m.reason IN ('sale', 'restock_cancel')), 0)
           AS sold
FROM scoped_products p
ORDER BY p.sku
"""
)

PAID_TOTALS = (
    SCOPED
    + """
SELECT count(DISTINCT o.id), coalesce(sum(l.quantity), 0)
FROM scoped_orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.status IN ('paid', 'fulfilled')
"""
)

# In foreign-key order. A product that someone else's order refers to is archived, not
# deleted (history stays intact); everything else of the run goes.
CLEANUP = [
    SCOPED + statement
    for statement in (
        "DELETE FROM mock_gateway_charges"
        " WHERE charge_reference IN (SELECT reference FROM scoped_charges)",  # refunds
        "DELETE FROM mock_gateway_charges WHERE id IN (SELECT id FROM scoped_charges)",
        "DELETE FROM payments WHERE order_id IN (SELECT id FROM scoped_orders)",
        "DELETE FROM orders WHERE id IN (SELECT id FROM scoped_orders)",
        "DELETE FROM carts WHERE user_id IN (SELECT user_id FROM scoped_users)",
        "DELETE FROM users WHERE id IN (SELECT user_id FROM scoped_users)",
        "DELETE FROM products p WHERE p.id IN (SELECT id FROM scoped_products)"
        " AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.product_id = p.id)",
        "UPDATE products SET active = false WHERE id IN (SELECT id FROM scoped_products)",
    )
]
