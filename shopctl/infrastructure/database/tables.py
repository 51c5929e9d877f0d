"""The schema, as SQLAlchemy Core tables. Alembic's ``target_metadata`` is ``metadata``.

Hard invariants are enforced here too (CHECK, unique), so that a bug in Python
cannot store an invalid row.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


products = Table(
    "products",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("price", Numeric(12, 2), nullable=False),
    Column("stock_on_hand", Integer, nullable=False, server_default="0"),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'", name="sku_format"),
    CheckConstraint("char_length(btrim(name)) BETWEEN 1 AND 200", name="name_length"),
    CheckConstraint("char_length(description) <= 5000", name="description_length"),
    CheckConstraint("price >= 0", name="price_not_negative"),
    CheckConstraint("stock_on_hand >= 0", name="stock_not_negative"),
    CheckConstraint("reserved >= 0 AND reserved <= stock_on_hand", name="reserved_within_stock"),
)

# Every change of products.stock_on_hand is one row here: stock_on_hand == Σ delta.
stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "product_id",
        BigInteger,
        ForeignKey("products.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("delta", Integer, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("actor", String(320), nullable=True),
    Column("order_id", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
    _created_at(),
    CheckConstraint("delta <> 0", name="delta_not_zero"),
    CheckConstraint(
        "reason IN ('import', 'adjust', 'sale', 'restock_cancel')", name="reason_known"
    ),
)
