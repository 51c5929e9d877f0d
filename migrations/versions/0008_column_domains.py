"""A column's own rule checked by its type (a domain), on the tables the checkout writes.

PostgreSQL reads a table's CHECK constraints back from their stored text and plans them
for every statement that writes the table, every one of them whatever the statement
changes: each update of a product's stock counters read and planned the SKU's pattern, the
name's and the description's lengths and the price's sign too. Under the checkout that was
11 % of the server's CPU (``perf``), most of it reading the stored text. A domain's
constraint is read and planned once per connection, and checked only where a value of the
domain is written: a column in an INSERT, or in an UPDATE's SET list.

The rules and their names stay; what moves is where PostgreSQL keeps them. A rule that
joins two columns (a product's reserved units within its stock, a paid order's time) stays
a table CHECK. The users', refresh tokens' and secrets' rules stay too: those rows are
written seldom.

No table is rewritten: each column first takes a domain without a rule (the same stored
type), then the domain takes its rule, which PostgreSQL checks against the rows stored (a
read of each table). The indexes that name a status column are rebuilt, and the changed
columns' statistics gathered again. All of it holds each table's lock until the upgrade
commits.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (table, column, stored type, constraint, the rule on VALUE): the domain is table_column
# fmt: off
DOMAINS = [
    ("products", "sku", "varchar(64)", "ck_products_sku_format",
     "VALUE ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'"),
    ("products", "name", "varchar(200)", "ck_products_name_length",
     "char_length(btrim(VALUE)) BETWEEN 1 AND 200"),
    ("products", "description", "text", "ck_products_description_length",
     "octet_length(VALUE) <= 5000 OR char_length(VALUE) <= 5000"),
    ("products", "price", "numeric(12,2)", "ck_products_price_not_negative", "VALUE >= 0"),
    ("products", "stock_on_hand", "integer", "ck_products_stock_not_negative", "VALUE >= 0"),
    ("stock_movements", "delta", "integer", "ck_stock_movements_delta_not_zero", "VALUE <> 0"),
    ("stock_movements", "reason", "varchar(20)", "ck_stock_movements_reason_known",
     "VALUE::text = ANY ('{import,adjust,sale,restock_cancel}'::text[])"),
    ("cart_lines", "quantity", "integer", "ck_cart_lines_quantity_range",
     "VALUE BETWEEN 1 AND 999"),
    ("orders", "units", "integer", "ck_orders_units_not_negative", "VALUE >= 0"),
    ("orders", "status", "varchar(20)", "ck_orders_status_known",
     "VALUE::text = ANY ('{pending_payment,paid,fulfilled,cancelled,expired}'::text[])"),
    ("orders", "total", "numeric(12,2)", "ck_orders_total_not_negative", "VALUE >= 0"),
    ("orders", "currency", "varchar(3)", "ck_orders_currency_code", "VALUE ~ '^[A-Z]{3}$'"),
    ("order_lines", "unit_price", "numeric(12,2)", "ck_order_lines_unit_price_not_negative",
     "VALUE >= 0"),
    ("order_lines", "quantity", "integer", "ck_order_lines_quantity_positive", "VALUE > 0"),
    ("inventory_reservations", "quantity", "integer",
     "ck_inventory_reservations_quantity_positive", "VALUE > 0"),
    ("inventory_reservations", "status", "varchar(20)", "ck_inventory_reservations_status_known",
     "VALUE::text = ANY ('{active,committed,released,expired}'::text[])"),
    ("payments", "amount", "numeric(12,2)", "ck_payments_amount_not_negative", "VALUE >= 0"),
    ("payments", "status", "varchar(20)", "ck_payments_status_known",
     "VALUE::text = ANY ('{pending,succeeded,declined,failed,refunded}'::text[])"),
    ("mock_gateway_charges", "kind", "varchar(10)", "ck_mock_gateway_charges_kind_known",
     "VALUE::text = ANY ('{charge,refund}'::text[])"),
    ("mock_gateway_charges", "amount", "numeric(12,2)",
     "ck_mock_gateway_charges_amount_not_negative", "VALUE >= 0"),
    ("mock_gateway_charges", "status", "varchar(20)", "ck_mock_gateway_charges_status_known",
     "VALUE::text = ANY ('{succeeded,declined,failed}'::text[])"),
]
# fmt: on


def _by_table() -> dict[str, list[tuple[str, str, str, str]]]:
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    for table, column, stored, constraint, rule in DOMAINS:
        tables.setdefault(table, []).append((column, stored, constraint, rule))
    return tables


def upgrade() -> None:
    for table, columns in _by_table().items():
        for column, stored, _, _ in columns:
            op.execute(f"CREATE DOMAIN {table}_{column} AS {stored}")
        changes = [f"DROP CONSTRAINT {constraint}" for _, _, constraint, _ in columns] + [
            f"ALTER COLUMN {column} TYPE {table}_{column}" for column, _, _, _ in columns
        ]
        op.execute(f"ALTER TABLE {table} {', '.join(changes)}")
    for table, column, _, constraint, rule in DOMAINS:
        op.execute(f"ALTER DOMAIN {table}_{column} ADD CONSTRAINT {constraint} CHECK ({rule})")
    _analyze()


def downgrade() -> None:
    for table, columns in _by_table().items():
        changes = [f"ALTER COLUMN {column} TYPE {stored}" for column, stored, _, _ in columns] + [
            f"ADD CONSTRAINT {constraint} CHECK ({rule.replace('VALUE', column)})"
            for column, _, constraint, rule in columns
        ]
        op.execute(f"ALTER TABLE {table} {', '.join(changes)}")
        for column, _, _, _ in columns:
            op.execute(f"DROP DOMAIN {table}_{column}")
    _analyze()


def _analyze() -> None:
    """A column whose type changed has lost its statistics: the planner's, gathered again."""
    for table, columns in _by_table().items():
        op.execute(f"ANALYZE {table} ({', '.join(column for column, _, _, _ in columns)})")
