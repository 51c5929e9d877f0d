"""Orders: an index for the reports, on when they were paid.

``report sales`` and ``report top-products`` sum the orders paid in a window: the index
finds them by ``paid_at`` (only orders that were paid) and holds their status and total, so
the orders table itself is not read for them.

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
    op.create_index(
        "ix_orders_paid_at",
        "orders",
        ["paid_at"],
        postgresql_include=["status", "total"],
        postgresql_where=sa.text("paid_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_paid_at", table_name="orders")
