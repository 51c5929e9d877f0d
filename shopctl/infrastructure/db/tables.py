"""The schema, as SQLAlchemy Core tables. Alembic's ``target_metadata`` is ``metadata``.

Hard invariants are enforced here too (CHECK, unique), so that a bug in Python
cannot store an invalid row. The enumerations they check (statuses, reasons, roles) are the
domain's own: a value added there without a migration fails the test that holds the
migrations to this metadata.

On the tables the checkout writes, a rule on one column is its type's: a PostgreSQL domain
(``ruled()``). A table's CHECK constraints are read back from their stored text, planned
and run for every statement that writes the table, all of them whatever it changes; a
domain's rule is planned once per connection and run only where its column is written. A
rule that joins columns stays a table CHECK.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import DOMAIN
from sqlalchemy.sql.operators import OperatorClass
from sqlalchemy.types import TypeEngine

from shopctl.application.ports import ChargeStatus
from shopctl.domain.orders import OrderStatus, ReservationStatus
from shopctl.domain.payments import PaymentStatus
from shopctl.domain.products import StockReason
from shopctl.domain.users import Role

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def one_of(column: str, values: Iterable[str]) -> str:
    """A rule that ``column`` (or a domain's ``VALUE``) holds one of ``values`` (a domain
    enumeration, or some of its members), written as one array constant: ``status IN ('a',
    'b')`` on a ``varchar`` is stored as an array built of casts, twice as long and twice as
    dear to plan (7 against 3.5 µs, for the table CHECKs planned on every write). Both admit
    exactly the same values."""
    listed = [str(value) for value in values]
    assert all(value.replace("_", "").isalnum() for value in listed), listed
    return f"{column}::text = ANY ('{{{','.join(listed)}}}'::text[])"


class _Domain(DOMAIN):
    """A domain that takes its stored type's operators in SQLAlchemy's expressions (its
    DOMAIN names none, and warns on each comparison)."""

    if not TYPE_CHECKING:

        @property
        def operator_classes(self) -> OperatorClass:
            return self.data_type.operator_classes


def ruled(
    table: str, column: str, stored: TypeEngine[Any], name: str, rule: str, **options: Any
) -> Column[Any]:
    """The NOT NULL column ``column`` of ``stored``, as the domain ``table_column`` whose
    constraint ``ck_table_name`` holds ``rule`` (on ``VALUE``, the value written)."""
    domain = _Domain(f"{table}_{column}", stored, check=rule, constraint_name=f"ck_{table}_{name}")
    return Column(column, domain, nullable=False, **options)


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


products = Table(
    "products",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # With the column's 64-character limit, this is the domain's SKU rule (see 0004).
    ruled(
        "products",
        "sku",
        String(64),
        "sku_format",
        "VALUE ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'",
        unique=True,
    ),
    ruled(
        "products",
        "name",
        String(200),
        "name_length",
        "char_length(btrim(VALUE)) BETWEEN 1 AND 200",
    ),
    # octet_length first: it reads a stored (compressed or out-of-line) text's size from its
    # header, where char_length decompresses or fetches and counts it; no text has more
    # characters than bytes, so the rule is the same
    ruled(
        "products",
        "description",
        Text(),
        "description_length",
        "octet_length(VALUE) <= 5000 OR char_length(VALUE) <= 5000",
        server_default="",
    ),
    ruled("products", "price", Numeric(12, 2), "price_not_negative", "VALUE >= 0"),
    ruled(
        "products",
        "stock_on_hand",
        Integer(),
        "stock_not_negative",
        "VALUE >= 0",
        server_default="0",
    ),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
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
    ruled("stock_movements", "delta", Integer(), "delta_not_zero", "VALUE <> 0"),
    ruled("stock_movements", "reason", String(20), "reason_known", one_of("VALUE", StockReason)),
    Column("actor", String(320), nullable=True),
    Column("order_id", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
    _created_at(),
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False, server_default="customer"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    CheckConstraint("email = lower(email)", name="email_lower_case"),
    CheckConstraint("email ~ '^[^@[:space:]]+@[^@[:space:]]+$'", name="email_format"),
    CheckConstraint(one_of("role", Role), name="role_known"),
    CheckConstraint("password_hash <> ''", name="password_hash_set"),
)

# Refresh tokens are kept as SHA-256 hashes only; one row per issued token.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("jti", String(64), nullable=False, unique=True),
    Column(
        "user_id",
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("family_id", String(64), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    _created_at(),
    CheckConstraint("char_length(token_hash) = 64", name="token_hash_sha256"),
)

# Generated secrets shared by everyone using this database (the JWT signing key).
app_secrets = Table(
    "app_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    _created_at(),
    CheckConstraint("octet_length(value) >= 32", name="value_long_enough"),
)


# -- purchase flow: carts, orders, reservations, payments ---------------------------------

carts = Table(
    "carts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "user_id",
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # raised by every lock of the cart: its lines, read with the lock, are current when the
    # version is one more than the statement's snapshot saw
    Column("version", BigInteger, nullable=False, server_default="0"),
)

cart_lines = Table(
    "cart_lines",
    metadata,
    Column("cart_id", BigInteger, ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "product_id", BigInteger, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    ),
    ruled("cart_lines", "quantity", Integer(), "quantity_range", "VALUE BETWEEN 1 AND 999"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    ruled("orders", "status", String(20), "status_known", one_of("VALUE", OrderStatus)),
    ruled("orders", "total", Numeric(12, 2), "total_not_negative", "VALUE >= 0"),
    ruled("orders", "currency", String(3), "currency_code", "VALUE ~ '^[A-Z]{3}$'"),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    # the sum of its lines' quantities
    ruled("orders", "units", Integer(), "units_not_negative", "VALUE >= 0"),
    CheckConstraint(
        f"(paid_at IS NOT NULL) = ({one_of('status', (OrderStatus.PAID, OrderStatus.FULFILLED))} OR "
        "(status::text = 'cancelled' AND paid_at IS NOT NULL))",
        name="paid_at_when_paid",
    ),
    Index("ix_orders_user_id_id", "user_id", "id"),
    Index(
        "ix_orders_pending_expires_at",
        "expires_at",
        postgresql_where=text("status = 'pending_payment'"),
    ),
    # The reports: the orders paid in a window, with what they sum beside the key.
    Index(
        "ix_orders_paid_at",
        "paid_at",
        postgresql_include=["status", "total", "units"],
        postgresql_where=text("paid_at IS NOT NULL"),
    ),
)

# A snapshot of what was bought: later catalog changes do not alter it.
order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", BigInteger, ForeignKey("products.id"), primary_key=True, index=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    ruled("order_lines", "unit_price", Numeric(12, 2), "unit_price_not_negative", "VALUE >= 0"),
    ruled("order_lines", "quantity", Integer(), "quantity_positive", "VALUE > 0"),
)

# products.reserved == Σ quantity of the active reservations of the product.
inventory_reservations = Table(
    "inventory_reservations",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("product_id", BigInteger, ForeignKey("products.id"), nullable=False),
    ruled("inventory_reservations", "quantity", Integer(), "quantity_positive", "VALUE > 0"),
    ruled(
        "inventory_reservations",
        "status",
        String(20),
        "status_known",
        one_of("VALUE", ReservationStatus),
    ),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    _created_at(),
    UniqueConstraint("order_id", "product_id"),
    # lazy expiry and the placement check look up active reservations by product
    Index(
        "ix_inventory_reservations_active_product_id",
        "product_id",
        "expires_at",
        postgresql_where=text("status = 'active'"),
    ),
)

payments = Table(
    "payments",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.id"), nullable=False, index=True),
    ruled("payments", "amount", Numeric(12, 2), "amount_not_negative", "VALUE >= 0"),
    Column("currency", String(3), nullable=False),
    ruled("payments", "status", String(20), "status_known", one_of("VALUE", PaymentStatus)),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("gateway_reference", String(64), nullable=True),
    Column("decline_code", String(64), nullable=True),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        f"{one_of('status', (PaymentStatus.PENDING, PaymentStatus.FAILED))} OR gateway_reference IS NOT NULL",
        name="reference_when_settled",
    ),
    CheckConstraint(
        f"(decline_code IS NOT NULL) = ({one_of('status', (PaymentStatus.DECLINED, PaymentStatus.FAILED))})",
        name="decline_code_when_refused",
    ),
    # at most one succeeded payment per order
    Index(
        "uq_payments_succeeded_order_id",
        "order_id",
        unique=True,
        postgresql_where=text("status = 'succeeded'"),
    ),
)

# The mock payment provider's own records, kept apart from ``payments`` as a real provider's.
mock_gateway_charges = Table(
    "mock_gateway_charges",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    ruled(
        "mock_gateway_charges",
        "kind",
        String(10),
        "kind_known",
        one_of("VALUE", ("charge", "refund")),
    ),
    Column("reference", String(64), nullable=False, unique=True),
    Column("charge_reference", String(64), nullable=True, index=True),
    ruled("mock_gateway_charges", "amount", Numeric(12, 2), "amount_not_negative", "VALUE >= 0"),
    Column("currency", String(3), nullable=True),
    Column("card_fingerprint", String(64), nullable=True),
    ruled(
        "mock_gateway_charges", "status", String(20), "status_known", one_of("VALUE", ChargeStatus)
    ),
    Column("decline_code", String(64), nullable=True),
    _created_at(),
    CheckConstraint("(kind = 'refund') = (charge_reference IS NOT NULL)", name="refund_has_charge"),
)
