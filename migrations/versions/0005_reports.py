"""Orders: their unit count, and an index for the reports on when they were paid.

``report sales`` sums the orders paid in a window: the index finds them by ``paid_at`` (only
orders that were paid) and holds their status, total and units, so neither the orders table
nor their lines are read for it (a year of a million orders: 3 s before, see bench/reports).
``units`` is the sum of the order's line quantities, written with the order; the audit checks
that it stays so.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("units", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE orders o SET units = coalesce("
        "(SELECT sum(l.quantity) FROM order_lines l WHERE l.order_id = o.id), 0)"
    )
    op.alter_column("orders", "units", nullable=False)
    op.create_check_constraint(op.f("ck_orders_units_not_negative"), "orders", "units >= 0")
    op.create_index(
        "ix_orders_paid_at",
        "orders",
        ["paid_at"],
        postgresql_include=["status", "total", "units"],
        postgresql_where=sa.text("paid_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_paid_at", table_name="orders")
    op.drop_column("orders", "units")
