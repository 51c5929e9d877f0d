"""Carts: a version, raised by every lock of the cart.

A cart edit locks its cart and reads its lines in one statement. The lines come from the
statement's snapshot, taken before the lock was granted; the version tells whether anybody
locked the cart in between (the lines may have changed then, and are read again).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "carts", sa.Column("version", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("carts", "version")
