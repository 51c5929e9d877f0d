"""ImportCatalog / ExportCatalog against the in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

import pytest

from shopctl.application.auth import Principal
from shopctl.application.catalog import (
    ExportCatalog,
    ImportCatalog,
    OnError,
    RowError,
    SourceRow,
)
from shopctl.application.errors import Interrupted
from shopctl.domain.errors import Forbidden, InvalidInput, NotAuthenticated
from shopctl.domain.products import Product, StockReason
from shopctl.domain.users import Role
from tests.fakes import FakeUnitOfWork

ADMIN = Principal(user_id=1, email="admin@shop.test", role=Role.ADMIN)
CUSTOMER = Principal(user_id=2, email="c@shop.test", role=Role.CUSTOMER)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    mug = Product(sku="MUG", name="Mug", price=Decimal("9.90"))
    mug.add_stock(5)
    mug.reserve(2)
    return FakeUnitOfWork([mug], principals=[ADMIN, CUSTOMER])


def rows(*items: Mapping[str, object]) -> list[SourceRow]:
    return [SourceRow(line, fields) for line, fields in enumerate(items, start=2)]


def test_creates_updates_and_leaves_unchanged(uow: FakeUnitOfWork) -> None:
    report = ImportCatalog(uow)(
        ADMIN,
        rows(
            {"sku": "CAP", "name": "Cap", "price": "5", "stock": "4"},
            {"sku": "MUG", "price": "8.00"},
            {"sku": "MUG2", "name": "Mug 2", "price": "1", "active": "no"},
        ),
    )
    assert (report.created, report.updated, report.unchanged, report.failed) == (2, 1, 0, 0)
    assert report.applied and uow.committed
    mug = uow.products.get_by_sku("MUG")
    assert mug is not None and (mug.name, mug.price, mug.stock_on_hand) == (
        "Mug",
        Decimal("8.00"),
        5,
    )
    cap = uow.products.get_by_sku("CAP")
    assert cap is not None and cap.stock_on_hand == 4 and uow.products.ledger_sum("CAP") == 4
    assert [m.reason for sku, m in uow.products.movements if sku == "CAP"] == [StockReason.IMPORT]
    assert uow.products.stored("MUG2").active is False
    again = ImportCatalog(uow)(ADMIN, rows({"sku": "MUG", "price": "8.00", "stock": "5"}))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_abort_reports_every_failure_and_applies_nothing(uow: FakeUnitOfWork) -> None:
    report = ImportCatalog(uow, batch_size=2)(
        ADMIN,
        [
            SourceRow(2, {"sku": "A", "name": "A", "price": "1"}),
            SourceRow(3, {"sku": "B", "price": "1"}),
            SourceRow(4, {}, "line 4 is not valid UTF-8"),
            SourceRow(5, {"sku": "MUG", "stock": "1"}),
            SourceRow(6, {"sku": "C", "name": "C", "price": "1"}),
        ],
    )
    assert report.errors == [
        RowError(3, "B", "a new SKU needs name"),
        RowError(4, None, "line 4 is not valid UTF-8"),
        RowError(5, "MUG", "stock 1 is below the 2 units reserved"),
    ]
    assert (report.created, report.updated, report.unchanged, report.failed) == (0, 0, 0, 3)
    assert not report.applied and not uow.committed


def test_skip_applies_the_valid_rows_and_commits_batch_by_batch(uow: FakeUnitOfWork) -> None:
    rejected: list[tuple[RowError, SourceRow]] = []
    report = ImportCatalog(uow, batch_size=2)(
        ADMIN,
        rows(
            {"sku": "A", "name": "A", "price": "1"},
            {"sku": "B", "name": "B", "price": "x"},
            {"sku": "C", "name": "C", "price": "1"},
        ),
        on_error=OnError.SKIP,
        rejected=lambda error, source: rejected.append((error, source)),
    )
    assert (report.created, report.failed, report.applied) == (2, 1, True)
    assert uow.committed
    assert [(e.line, s.fields["sku"]) for e, s in rejected] == [(3, "B")]
    assert uow.products.get_by_sku("B") is None


def test_duplicates_within_a_batch_and_across_batches(uow: FakeUnitOfWork) -> None:
    report = ImportCatalog(uow, batch_size=2)(
        ADMIN,
        rows(
            {"sku": "A", "name": "A", "price": "1"},
            {"sku": "A", "name": "A again", "price": "1"},
            {"sku": "B", "name": "B", "price": "1"},
            {"sku": "A", "name": "A thrice", "price": "1"},
        ),
        on_error=OnError.SKIP,
    )
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "duplicate SKU 'A', first on line 2"),
        (5, "duplicate SKU 'A', first on line 2"),
    ]
    assert uow.products.stored("A").name == "A"


def test_dry_run_counts_but_does_not_commit(uow: FakeUnitOfWork) -> None:
    report = ImportCatalog(uow)(
        ADMIN, rows({"sku": "A", "name": "A", "price": "1"}), dry_run=True, on_error=OnError.SKIP
    )
    assert (report.created, report.dry_run, report.applied) == (1, True, False)
    assert not uow.committed


def test_file_errors_propagate(uow: FakeUnitOfWork) -> None:
    def broken() -> list[SourceRow]:
        raise InvalidInput("line 1: a JSON file must be an array")

    with pytest.raises(InvalidInput, match="array"):
        ImportCatalog(uow)(ADMIN, (row for row in broken()))
    assert not uow.committed


def test_import_and_export_need_an_admin(uow: FakeUnitOfWork) -> None:
    customer = Principal(user_id=2, email="c@shop.test", role=Role.CUSTOMER)
    for principal, error in ((None, NotAuthenticated), (customer, Forbidden)):
        with pytest.raises(error):
            ImportCatalog(uow)(principal, rows({"sku": "A", "name": "A", "price": "1"}))
        with pytest.raises(error):
            ExportCatalog(uow)(principal)
    assert uow.products.get_by_sku("A") is None


def test_export_then_import_is_all_unchanged(uow: FakeUnitOfWork) -> None:
    ImportCatalog(uow)(ADMIN, rows({"sku": "A", "name": "A", "price": "1", "active": "no"}))
    exported = list(ExportCatalog(uow)(ADMIN))
    assert [(r.sku, r.stock, r.active) for r in exported] == [("A", 0, False), ("MUG", 5, True)]
    fields = [
        {"sku": r.sku, "name": r.name, "price": str(r.price), "description": r.description,
         "stock": str(r.stock), "active": str(r.active)}
        for r in exported
    ]  # fmt: skip
    report = ImportCatalog(uow)(ADMIN, rows(*fields))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)


def interrupted_after(count: int) -> Iterator[SourceRow]:
    """Rows ``A1``… and then Ctrl-C, as the reader sees it while the file is still coming."""
    for n in range(count):
        yield SourceRow(n + 2, {"sku": f"A{n}", "name": "A", "price": "1"})
    raise KeyboardInterrupt


def test_ctrl_c_says_what_was_kept(uow: FakeUnitOfWork) -> None:
    with pytest.raises(Interrupted) as aborted:  # abort mode: one transaction, rolled back
        ImportCatalog(uow, batch_size=2)(ADMIN, interrupted_after(5))
    assert aborted.value.kept == "nothing was imported" and not uow.committed
    fresh = FakeUnitOfWork([], principals=[ADMIN])
    with pytest.raises(Interrupted) as skipped:  # skip mode: the batches before it stay
        ImportCatalog(fresh, batch_size=2)(ADMIN, interrupted_after(5), on_error=OnError.SKIP)
    assert skipped.value.kept.startswith("2 batches of the file were committed (4 created,")
    assert "importing it again applies the rest" in skipped.value.kept and fresh.committed
    with pytest.raises(Interrupted) as early:
        ImportCatalog(fresh, batch_size=2)(ADMIN, interrupted_after(1), on_error=OnError.SKIP)
    assert early.value.kept == "nothing was imported"
