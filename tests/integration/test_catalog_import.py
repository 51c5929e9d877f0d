"""The bulk import path (COPY into staging, set-based upsert) and export on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from shopctl.application.auth import Principal
from shopctl.application.catalog import ExportCatalog, ImportCatalog, OnError, SourceRow
from shopctl.domain.catalog import parse_catalog_row
from shopctl.domain.repositories import ImportUnitOfWork
from shopctl.domain.users import Role
from shopctl.infrastructure.db.connect import ConnectionSettings, Database
from shopctl.infrastructure.db.imports import PostgresImportUnitOfWork
from shopctl.infrastructure.db.invariants import PostgresInvariantAuditor
from shopctl.infrastructure.db.tables import products, stock_movements
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from tests.database import database_of, seed_users, wait_until_a_session_waits_on_a_lock

ADMIN = Principal(user_id=1, email="admin@shop.test", role=Role.ADMIN)


@pytest.fixture(autouse=True)
def stored_admin(engine: Any) -> None:
    seed_users(engine, ADMIN)


def rows(*items: Mapping[str, object]) -> list[SourceRow]:
    return [SourceRow(line, fields) for line, fields in enumerate(items, start=2)]


@pytest.fixture(params=["direct", "pgbouncer"])
def run_import(request: pytest.FixtureRequest, engine: Any) -> Iterator[Callable[..., Any]]:
    """The import on its unit of work, as the CLI runs it: straight to the server, and through
    PgBouncer in transaction mode with ``database_pooler = transaction`` (every transaction
    may then run on another server session)."""
    database = database_of(engine)
    if request.param == "pgbouncer":
        pooled = ConnectionSettings(request.getfixturevalue("pooled_db_url"), pooler="transaction")
        database = Database(pooled)

    def unit_of_work() -> ImportUnitOfWork:
        return PostgresImportUnitOfWork(database)

    def run(items: list[SourceRow], batch_size: int = 1000, **options: Any) -> Any:
        use_case = ImportCatalog(unit_of_work, batch_size=batch_size)
        return use_case(ADMIN, items, **options)

    yield run
    if database is not database_of(engine):
        database.close()


def catalog(engine: Any) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        found = connection.execute(
            select(
                products.c.sku,
                products.c.name,
                products.c.price,
                products.c.description,
                products.c.stock_on_hand,
                products.c.active,
            )
        )
        return {row[0]: tuple(row[1:]) for row in found}


def movements(engine: Any) -> list[tuple[str, int, str, str | None]]:
    with engine.connect() as connection:
        found = connection.execute(
            select(
                products.c.sku,
                stock_movements.c.delta,
                stock_movements.c.reason,
                stock_movements.c.actor,
            )
            .join(products, products.c.id == stock_movements.c.product_id)
            .order_by(stock_movements.c.id)
        )
        return [tuple(row) for row in found]


def audit_ok(engine: Any) -> bool:
    return PostgresInvariantAuditor(database_of(engine)).violations() == []


def test_created_updated_unchanged_and_the_ledger(engine: Any, run_import: Any) -> None:
    first = run_import(rows(
        {"sku": "A", "name": "Apron", "price": "12.5", "stock": "4", "description": "Blue"},
        {"sku": "B", "name": "Bag", "price": "3", "active": "no"},
        {"sku": "C", "name": "Cap", "price": "7", "stock": "0"},
    ))  # fmt: skip
    assert (first.created, first.updated, first.unchanged, first.failed) == (3, 0, 0, 0)
    assert catalog(engine) == {
        "A": ("Apron", Decimal("12.50"), "Blue", 4, True),
        "B": ("Bag", Decimal("3.00"), "", 0, False),
        "C": ("Cap", Decimal("7.00"), "", 0, True),
    }
    assert movements(engine) == [("A", 4, "import", "admin@shop.test")]
    second = run_import(rows(
        {"sku": "A", "stock": "10"},                  # stock only: +6 in the ledger
        {"sku": "B", "name": "Bag", "price": "3.00"},  # same values: unchanged
        {"sku": "C", "description": "Wool"},          # one field, the others stay
        {"sku": "D", "name": "Dish", "price": "2", "stock": "1"},
    ))  # fmt: skip
    assert (second.created, second.updated, second.unchanged) == (1, 2, 1)
    assert catalog(engine)["A"] == ("Apron", Decimal("12.50"), "Blue", 10, True)
    assert catalog(engine)["C"] == ("Cap", Decimal("7.00"), "Wool", 0, True)
    assert movements(engine)[1:] == [
        ("A", 6, "import", "admin@shop.test"),
        ("D", 1, "import", "admin@shop.test"),
    ]
    assert audit_ok(engine)


def row_versions(engine: Any) -> dict[str, tuple[str, str]]:
    """Each product's (xmin, xmax): a write or a row lock by a later transaction changes it."""
    with engine.connect() as connection:
        found = connection.execute(text("SELECT sku, xmin::text, xmax::text FROM products"))
        return {sku: (xmin, xmax) for sku, xmin, xmax in found}


def test_rows_that_change_nothing_are_neither_written_nor_locked(
    engine: Any, run_import: Any
) -> None:
    items = [{"sku": f"S{i}", "name": f"n{i}", "price": "1", "stock": "2"} for i in range(5)]
    run_import(rows(*items))
    before = row_versions(engine)
    again = run_import(rows(*items))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert row_versions(engine) == before
    items[1] = {"sku": "S1", "price": "2"}
    mixed = run_import(rows(*items, {"sku": "N", "name": "new", "price": "1"}))
    assert (mixed.created, mixed.updated, mixed.unchanged) == (1, 1, 4)
    after = row_versions(engine)
    assert after.pop("S1") != before.pop("S1") and after.pop("N")
    assert after == before
    assert catalog(engine)["S1"][1] == Decimal("2.00") and audit_ok(engine)


def test_a_sku_repeated_after_an_unchanged_row_is_still_a_duplicate(
    engine: Any, run_import: Any
) -> None:
    """An unchanged row leaves its batch, but its SKU is remembered for the later batches."""
    items = [{"sku": f"S{i:02}", "name": f"n{i}", "price": "1"} for i in range(12)]
    run_import(rows(*items))
    again = run_import(rows(*items, {"sku": "S03", "name": "changed"}), batch_size=5,
                       on_error=OnError.SKIP)  # fmt: skip
    assert [(e.line, e.message) for e in again.errors] == [
        (14, "duplicate SKU 'S03', first on line 5")
    ]
    assert (again.unchanged, again.updated) == (12, 0)
    assert catalog(engine)["S03"][0] == "n3"


def test_reserved_stock_guard(engine: Any, run_import: Any) -> None:
    run_import(rows({"sku": "A", "name": "A", "price": "1", "stock": "5"}))
    with PostgresUnitOfWork(database_of(engine)) as uow:
        product = uow.products.get_by_sku("A", for_update=True)
        assert product is not None
        product.reserve(3)
        uow.products.save(product)
        uow.commit()
    report = run_import(rows({"sku": "A", "stock": "2"}, {"sku": "A2", "name": "x", "price": "1"}))
    assert [(e.line, e.message) for e in report.errors] == [
        (2, "stock 2 is below the 3 units reserved")
    ]
    assert catalog(engine)["A"][3] == 5 and "A2" not in catalog(engine)
    skipped = run_import(rows({"sku": "A", "stock": "3"}, {"sku": "A", "stock": "1"}),
                         on_error=OnError.SKIP)  # fmt: skip
    assert (skipped.updated, skipped.failed) == (1, 1)
    assert catalog(engine)["A"][3] == 3


def test_abort_applies_nothing_even_after_whole_batches(engine: Any, run_import: Any) -> None:
    good = [{"sku": f"S{i:03}", "name": f"n{i}", "price": "1", "stock": "1"} for i in range(25)]
    report = run_import(rows(*good, {"sku": "S003", "name": "dup", "price": "1"}), batch_size=10)
    assert [(e.line, e.message) for e in report.errors] == [
        (27, "duplicate SKU 'S003', first on line 5")
    ]
    assert not report.applied
    assert catalog(engine) == {} and movements(engine) == []


def test_skip_commits_the_valid_rows(engine: Any, run_import: Any) -> None:
    items = [{"sku": f"S{i:03}", "name": f"n{i}", "price": "1"} for i in range(25)]
    items[12]["price"] = "-1"
    report = run_import(rows(*items), batch_size=10, on_error=OnError.SKIP)
    assert (report.created, report.failed, report.applied) == (24, 1, True)
    assert len(catalog(engine)) == 24 and "S012" not in catalog(engine)


def test_dry_run_writes_nothing(engine: Any, run_import: Any) -> None:
    report = run_import(rows({"sku": "A", "name": "A", "price": "1", "stock": "2"}), dry_run=True)
    assert (report.created, report.applied, report.dry_run) == (1, False, True)
    assert catalog(engine) == {} and movements(engine) == []


def test_a_second_import_on_the_same_pooled_connection_starts_afresh(
    engine: Any, run_import: Any
) -> None:
    item = {"sku": "A", "name": "A", "price": "1"}
    assert run_import(rows(item)).created == 1
    again = run_import(rows(item))  # the staging tables of the first import are emptied
    assert (again.unchanged, again.failed) == (1, 0)


def test_export_streams_and_reimports_as_unchanged(engine: Any, run_import: Any) -> None:
    items = [{"sku": f"S{i:04}", "name": f"Item {i}", "price": f"{i}.50", "stock": str(i % 7),
              "active": "yes" if i % 3 else "no", "description": f"d{i}" if i % 2 else ""}
             for i in range(2500)]  # fmt: skip
    assert run_import(rows(*items)).created == 2500
    exported = list(ExportCatalog(lambda: PostgresUnitOfWork(database_of(engine)))(ADMIN))
    assert [r.sku for r in exported] == sorted(i["sku"] for i in items)
    again = run_import(rows(*(
        {"sku": r.sku, "name": r.name, "price": str(r.price), "description": r.description,
         "stock": str(r.stock), "active": str(r.active)} for r in exported
    )))  # fmt: skip
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2500)
    assert audit_ok(engine)


def test_the_import_unit_of_work_refuses_an_outdated_schema_and_an_unreachable_server(
    db_url: str, engine: Any
) -> None:
    from shopctl.application.errors import DatabaseUnavailable
    from shopctl.infrastructure.db import migrations

    migrations.downgrade(database_of(engine).settings, "0002")
    with (
        pytest.raises(DatabaseUnavailable, match="needs revision"),
        PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))),
    ):
        pass
    migrations.upgrade(database_of(engine).settings)
    unreachable = "postgresql://postgres@127.0.0.1:9/nowhere"
    with (
        pytest.raises(DatabaseUnavailable, match="cannot reach"),
        PostgresImportUnitOfWork(Database(ConnectionSettings(unreachable))),
    ):
        pass


def test_the_import_unit_of_work_rolls_back_unless_committed(db_url: str, engine: Any) -> None:
    row = parse_catalog_row(2, {"sku": "MUG-1", "name": "Mug", "price": "5", "stock": "3"})

    def upsert(uow: ImportUnitOfWork) -> tuple[int, int]:
        uow.products.stage(uow.products.prepare([row]))
        return uow.products.apply([], actor="admin@shop.test")

    with PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as uow:
        assert upsert(uow) == (1, 0)
    assert catalog(engine) == {}
    with (
        pytest.raises(RuntimeError),
        PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as uow,
    ):
        upsert(uow)
        raise RuntimeError("a bug half-way")
    assert catalog(engine) == {}
    with PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as uow:
        upsert(uow)
        uow.commit()
    assert catalog(engine) == {"MUG-1": ("Mug", Decimal("5.00"), "", 3, True)}
    assert movements(engine) == [("MUG-1", 3, "import", "admin@shop.test")]


def test_two_imports_creating_the_same_sku_one_conflicts(db_url: str, engine: Any) -> None:
    """The second import's INSERT waits for the first's new row, then finds the SKU taken:
    a conflict (exit 6) with nothing of its own applied, not an internal error."""
    import threading

    from shopctl.domain.errors import Conflict

    row = parse_catalog_row(2, {"sku": "MUG-1", "name": "Mug", "price": "5", "stock": "3"})

    def upsert(uow: ImportUnitOfWork) -> None:
        uow.products.stage(uow.products.prepare([row]))
        uow.products.apply([], actor="admin@shop.test")

    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as uow:
                upsert(uow)
                uow.commit()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    with PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as first:
        upsert(first)
        thread = threading.Thread(target=second)
        thread.start()
        wait_until_a_session_waits_on_a_lock(engine)  # the second, on our uncommitted row
        first.commit()
    thread.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert "run the import again" in (outcome[0].hint or "")
    assert catalog(engine) == {"MUG-1": ("Mug", Decimal("5.00"), "", 3, True)}
    assert movements(engine) == [("MUG-1", 3, "import", "admin@shop.test")]


def test_only_the_products_an_import_changes_are_locked(db_url: str, engine: Any) -> None:
    """Between staging a batch and applying it, another session can still write a product
    that the batch leaves as it is (its change is kept), but not one that the batch changes
    (it waits for the import)."""
    import psycopg

    first = {"sku": "SAME", "name": "Same", "price": "1", "stock": "5"}
    second = {"sku": "MOVE", "name": "Move", "price": "1", "stock": "5"}
    run = ImportCatalog(lambda: PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))))
    run(ADMIN, rows(first, second))
    batch = [parse_catalog_row(2, first), parse_catalog_row(3, {**second, "stock": "9"})]
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SET lock_timeout = '1s'")
        with PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as uow:
            matches = uow.products.stage(uow.products.prepare(batch))
            assert set(matches) == {"SAME", "MOVE"}
            other.execute("UPDATE products SET name = 'Renamed' WHERE sku = 'SAME'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("UPDATE products SET name = 'Renamed' WHERE sku = 'MOVE'")
            assert uow.products.apply([], actor="admin@shop.test") == (0, 1)
            uow.commit()
    assert catalog(engine)["SAME"] == ("Renamed", Decimal("1.00"), "", 5, True)
    assert catalog(engine)["MOVE"] == ("Move", Decimal("1.00"), "", 9, True)
    assert audit_ok(engine)


def test_a_bulk_import_leaves_fresh_statistics_for_the_next_one(db_url: str, engine: Any) -> None:
    """An ANALYZE that runs while an import is uncommitted records the catalog as empty; the
    next import then planned scans of the whole catalog per row. The import analyzes after
    committing a bulk change, so the statistics count its rows."""
    from shopctl.infrastructure.db.imports import ANALYZE_AFTER

    count = ANALYZE_AFTER + 500
    items = [
        SourceRow(line, {"sku": f"SKU-{line:05d}", "name": "Item", "price": "1", "stock": "1"})
        for line in range(2, count + 2)
    ]
    with PostgresImportUnitOfWork(Database(ConnectionSettings(db_url))) as uow:
        ImportCatalog(lambda: _Uncommitting(uow))(ADMIN, items)
        with engine.connect() as other:  # e.g. autovacuum, while the rows are uncommitted
            other.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE products"
            )
        assert reltuples(engine) == 0
        uow.commit()
    assert reltuples(engine) == count


class _Uncommitting(ImportUnitOfWork):
    """The import's unit of work with its commit held back until the test commits."""

    def __init__(self, inner: PostgresImportUnitOfWork) -> None:
        self.products = inner.products
        self.accounts = inner.accounts

    def __exit__(self, *args: object) -> None:
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


def reltuples(engine: Any) -> float:
    with engine.connect() as connection:
        return float(
            connection.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'products'"
            ).scalar_one()
        )
