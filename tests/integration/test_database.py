"""Repositories, Unit of Work, constraints and migrations on a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.errors import CheckViolation
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DataError, IntegrityError

from shopctl.domain.products import SKU_PATTERN
from shopctl.domain.repositories import ProductQuery
from shopctl.infrastructure.db import migrations, schema
from shopctl.infrastructure.db.reads import PostgresReader
from shopctl.infrastructure.db.tables import metadata, products
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from tests.database import database_of


def add_product(engine: Any, sku: str, **values: Any) -> None:
    row = {"sku": sku, "name": sku.title(), "price": "1.00", **values}
    with engine.begin() as connection:
        connection.execute(insert(products).values(**row))


def test_repository_lists_and_filters(engine: Any) -> None:
    add_product(engine, "b-mug", stock_on_hand=2)
    add_product(engine, "a-cap", stock_on_hand=1, reserved=1)
    add_product(engine, "c-old", active=False)
    add_product(engine, "d_100", name="100% cotton")
    catalog = PostgresReader(database_of(engine))
    assert [p.sku for p in catalog.list(ProductQuery())] == ["a-cap", "b-mug", "d_100"]
    in_stock = catalog.list(ProductQuery(in_stock=True))
    assert [p.sku for p in in_stock] == ["b-mug"]
    everything = catalog.list(ProductQuery(include_inactive=True))
    assert len(everything) == 4
    # LIKE wildcards in the search text are literal
    assert [p.sku for p in catalog.list(ProductQuery(search="%"))] == ["d_100"]
    assert [p.sku for p in catalog.list(ProductQuery(search="MUG"))] == ["b-mug"]
    page = catalog.list(ProductQuery(limit=1, offset=1))
    assert [p.sku for p in page] == ["b-mug"]
    assert catalog.get_by_sku("b-mug") is not None
    with PostgresUnitOfWork(database_of(engine)) as uow:
        mug = uow.products.get_by_sku("b-mug")
        assert mug is not None and mug.available == 2 and mug.created_at is not None
        assert uow.products.get_by_sku("nope") is None


INSERT_X = "INSERT INTO products (sku, name, price) VALUES (%(sku)s, 'X', 1)"


def test_uow_rolls_back_unless_committed(engine: Any) -> None:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        uow.sql.run(INSERT_X, {"sku": "x1"})
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.products.get_by_sku("x1") is None
        uow.sql.run(INSERT_X, {"sku": "x1"})
        uow.commit()
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.products.get_by_sku("x1") is not None


def test_uow_rolls_back_on_error(engine: Any) -> None:
    with pytest.raises(RuntimeError), PostgresUnitOfWork(database_of(engine)) as uow:
        uow.sql.run(INSERT_X, {"sku": "x2"})
        raise RuntimeError("boom")
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.products.get_by_sku("x2") is None


@pytest.mark.parametrize(
    "values",
    [
        {"sku": "bad sku"},
        {"name": "   "},
        {"price": -1},
        {"stock_on_hand": -1},
        {"stock_on_hand": 1, "reserved": 2},
        {"reserved": -1},
        {"description": "d" * 5001},
    ],
)
def test_constraints_reject_invalid_products(engine: Any, values: dict[str, Any]) -> None:
    row = {"sku": "ok-1", "name": "OK", "price": 1, **values}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(products).values(**row))


# One row in every table the checkout writes, whose rules on one column are domains.
ONE_OF_EACH = """
INSERT INTO users (id, email, password_hash) VALUES (1, 'a@example.com', 'h');
INSERT INTO products (id, sku, name, price, stock_on_hand) VALUES (1, 'p-1', 'P', 1, 5);
INSERT INTO stock_movements (product_id, delta, reason) VALUES (1, 5, 'adjust');
INSERT INTO carts (id, user_id) VALUES (1, 1);
INSERT INTO cart_lines (cart_id, product_id, quantity) VALUES (1, 1, 1);
INSERT INTO orders (id, user_id, status, total, currency, expires_at, units)
VALUES (1, 1, 'pending_payment', 1, 'USD', now(), 1);
INSERT INTO order_lines (order_id, product_id, sku, name, unit_price, quantity)
VALUES (1, 1, 'p-1', 'P', 1, 1);
INSERT INTO inventory_reservations (order_id, product_id, quantity, status, expires_at)
VALUES (1, 1, 1, 'active', now());
INSERT INTO payments (order_id, amount, currency, status, idempotency_key)
VALUES (1, 1, 'USD', 'pending', 'k');
INSERT INTO mock_gateway_charges (idempotency_key, kind, reference, amount, status)
VALUES ('k', 'charge', 'ch_1', 1, 'succeeded');
"""


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ("UPDATE products SET sku = 'bad sku'", "ck_products_sku_format"),
        ("UPDATE products SET name = ' '", "ck_products_name_length"),
        ("UPDATE products SET description = repeat('d', 5001)", "ck_products_description_length"),
        ("UPDATE products SET price = -1", "ck_products_price_not_negative"),
        ("UPDATE products SET stock_on_hand = stock_on_hand - 6", "ck_products_stock_not_negative"),
        ("UPDATE stock_movements SET delta = 0", "ck_stock_movements_delta_not_zero"),
        ("UPDATE stock_movements SET reason = 'gift'", "ck_stock_movements_reason_known"),
        ("UPDATE cart_lines SET quantity = quantity + 999", "ck_cart_lines_quantity_range"),
        ("UPDATE orders SET units = -1", "ck_orders_units_not_negative"),
        ("UPDATE orders SET status = 'lost'", "ck_orders_status_known"),
        ("UPDATE orders SET total = -1", "ck_orders_total_not_negative"),
        ("UPDATE orders SET currency = 'usd'", "ck_orders_currency_code"),
        ("UPDATE order_lines SET unit_price = -1", "ck_order_lines_unit_price_not_negative"),
        ("UPDATE order_lines SET quantity = 0", "ck_order_lines_quantity_positive"),
        ("UPDATE inventory_reservations SET quantity = 0",
         "ck_inventory_reservations_quantity_positive"),
        ("UPDATE inventory_reservations SET status = 'held'",
         "ck_inventory_reservations_status_known"),
        ("UPDATE payments SET amount = -1", "ck_payments_amount_not_negative"),
        ("UPDATE payments SET status = 'maybe'", "ck_payments_status_known"),
        ("UPDATE mock_gateway_charges SET kind = 'gift'", "ck_mock_gateway_charges_kind_known"),
        ("UPDATE mock_gateway_charges SET amount = -1",
         "ck_mock_gateway_charges_amount_not_negative"),
        ("UPDATE mock_gateway_charges SET status = 'pending'",
         "ck_mock_gateway_charges_status_known"),
    ],
)  # fmt: skip
def test_a_columns_rule_holds_wherever_the_column_is_written(
    engine: Any, change: str, constraint: str
) -> None:
    # These rules are the columns' types (domains), which PostgreSQL checks where the column
    # is written: an UPDATE that sets it, relative or not, is refused as an INSERT would be.
    with engine.begin() as connection:
        connection.exec_driver_sql(ONE_OF_EACH)
    with pytest.raises(IntegrityError) as refused, engine.begin() as connection:
        connection.exec_driver_sql(change)
    error = refused.value.orig
    assert isinstance(error, CheckViolation)
    assert error.diag.constraint_name == constraint


@pytest.mark.parametrize(
    ("description", "stored"),
    [
        ("d" * 5000, True),
        ("d" * 5001, False),
        ("é" * 5000, True),  # 10 000 bytes, 5 000 characters
        ("é" * 5001, False),
        ("🛒" * 5000, True),  # 20 000 bytes
        ("🛒" * 4999 + "dd", False),
    ],
)
def test_a_description_is_held_to_5000_characters_whatever_its_bytes(
    engine: Any, description: str, stored: bool
) -> None:
    # The check reads the size in bytes first (migration 0007): a text of more bytes than
    # 5 000 is still admitted when it has no more characters than that.
    try:
        add_product(engine, "desc-1", description=description)
    except IntegrityError:
        admitted = False
    else:
        admitted = True
    assert admitted == stored


@pytest.mark.parametrize(
    "sku",
    ["a", "Z9", "a.b_c-D9", "7" * 64, "7" * 65, "-a", ".a", "_a", "a b", "a/b", "é", "a\n", ""],
)
def test_the_database_admits_exactly_the_domains_skus(engine: Any, sku: str) -> None:
    # The check constraint is written differently from SKU_PATTERN (migration 0004): the
    # column's length limit stands in for the pattern's {0,63}.
    try:
        add_product(engine, sku, name="Any")
    except (IntegrityError, DataError):
        stored = False
    else:
        stored = True
    assert stored == bool(SKU_PATTERN.fullmatch(sku))


def test_sku_is_unique(engine: Any) -> None:
    add_product(engine, "dup")
    with pytest.raises(IntegrityError):
        add_product(engine, "dup")


def test_migrations_match_the_metadata(engine: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_the_migrations_check_what_the_metadata_checks(engine: Any) -> None:
    """Alembic's comparison leaves CHECK constraints out: the migrated tables and a copy made
    from the metadata (in a schema of its own) must check the same rules, as PostgreSQL
    stores them, under the same names, on the same table or column type (domain)."""
    checks = text(
        "SELECT CASE WHEN c.conrelid <> 0 THEN c.conrelid::regclass::text"
        " ELSE 'domain ' || c.contypid::regtype::text END,"
        " c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'c' AND n.nspname = :schema"
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA from_metadata"))
        copy = connection.execution_options(schema_translate_map={None: "from_metadata"})
        metadata.create_all(copy)
        migrated = {
            (table, name): rule
            for table, name, rule in connection.execute(checks, {"schema": "public"})
        }
        made = {
            (table.replace("from_metadata.", ""), name): rule
            for table, name, rule in connection.execute(checks, {"schema": "from_metadata"})
        }
    assert migrated, "the migrations made no CHECK constraint"
    assert made == migrated


def test_upgrade_downgrade_upgrade(engine: Any) -> None:
    migrations.downgrade(database_of(engine).settings, "base")
    with engine.connect() as connection:
        assert migrations.status(database_of(engine).settings).current is None
        tables = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ).scalar()
        assert tables == 1  # only alembic_version is left
    migrations.upgrade(database_of(engine).settings)
    migrations.upgrade(database_of(engine).settings)  # idempotent
    assert migrations.status(database_of(engine).settings).up_to_date
    with engine.connect() as connection:
        assert connection.execute(select(products)).all() == []


def test_head_revision_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(schema.migrations_dir()))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [schema.head_revision()]
