"""The reports' arithmetic, over a fake ledger: windows and periods, refunds, zero rows,
average order value, exact money, low stock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shopctl.application.auth import Principal
from shopctl.application.reports import (
    ExportOrders,
    LowStock,
    OrderRecord,
    RankBy,
    SalesBy,
    SalesFigures,
    SalesLedger,
    SalesLine,
    SalesReport,
    SalesReportView,
    StockLevel,
    TopProduct,
    TopProducts,
    Window,
    low_stock,
    period_of,
    periods,
)
from shopctl.domain.errors import Forbidden, InvalidInput
from shopctl.domain.orders import OrderStatus
from shopctl.domain.users import Role
from tests.fakes import FakeUnitOfWork

ADMIN = Principal(user_id=1, email="admin@shop.test", role=Role.ADMIN)
CUSTOMER = Principal(user_id=2, email="c@shop.test", role=Role.CUSTOMER)
TODAY = date(2026, 12, 3)  # a Thursday


class FakeLedger(SalesLedger):
    def __init__(self, figures: list[SalesFigures], total: SalesFigures | None = None) -> None:
        self.figures = figures
        self.total = total or SalesFigures("total", 0, 0, Decimal("0"), Decimal("0"))
        self.asked: list[tuple[datetime | None, datetime | None, object]] = []
        self.levels: list[StockLevel] = []

    def sales(
        self, start: datetime, end: datetime, by: SalesBy
    ) -> tuple[list[SalesFigures], SalesFigures]:
        self.asked.append((start, end, by))
        return self.figures, self.total

    def top_products(
        self, start: datetime, end: datetime, by: RankBy, limit: int
    ) -> list[TopProduct]:
        self.asked.append((start, end, by))
        return []

    def stock_levels(self, start: datetime, end: datetime) -> list[StockLevel]:
        self.asked.append((start, end, None))
        return self.levels

    def stream_orders(
        self,
        start: datetime | None,
        end: datetime | None,
        status: OrderStatus | None,
        *,
        lines: bool,
    ) -> Iterator[OrderRecord]:
        self.asked.append((start, end, (status, lines)))
        return iter([])


def report(ledger: FakeLedger, **options: Any) -> SalesReportView:
    uow = FakeUnitOfWork([], principals=[ADMIN, CUSTOMER])
    return SalesReport(ledger, uow, lambda: TODAY)(ADMIN, **options)


def money(text: str) -> Decimal:
    return Decimal(text)


def test_the_default_window_is_the_last_30_days_and_both_ends_are_included() -> None:
    window = Window.of(None, None, today=TODAY)
    assert (window.since, window.until) == (date(2026, 11, 4), TODAY)
    assert window.start == datetime(2026, 11, 4, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 4, tzinfo=UTC)  # the day after until, at 00:00
    assert len(periods(window, SalesBy.DAY)) == 30
    with pytest.raises(InvalidInput, match="--until 2026-11-01 is before --since 2026-11-02"):
        Window(date(2026, 11, 2), date(2026, 11, 1))


def test_weeks_start_on_monday_and_months_on_the_first_across_a_year() -> None:
    assert period_of(date(2026, 12, 3), SalesBy.WEEK) == date(2026, 11, 30)  # Thursday → Monday
    assert period_of(date(2026, 11, 30), SalesBy.WEEK) == date(2026, 11, 30)  # a Monday
    assert period_of(date(2026, 12, 6), SalesBy.WEEK) == date(2026, 11, 30)  # Sunday: same week
    assert period_of(date(2026, 12, 7), SalesBy.WEEK) == date(2026, 12, 7)
    weeks = periods(Window(date(2026, 12, 2), date(2026, 12, 14)), SalesBy.WEEK)
    assert weeks == [date(2026, 11, 30), date(2026, 12, 7), date(2026, 12, 14)]
    months = periods(Window(date(2026, 11, 15), date(2027, 2, 1)), SalesBy.MONTH)
    assert months == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]


def test_periods_without_sales_are_zero_rows_in_order() -> None:
    ledger = FakeLedger([SalesFigures(date(2026, 12, 2), 2, 5, money("30.00"), money("0.00"))])
    view = report(ledger, since=date(2026, 12, 1), until=date(2026, 12, 3))
    assert [(r.key, r.orders, r.net) for r in view.rows] == [
        ("2026-12-01", 0, money("0.00")),
        ("2026-12-02", 2, money("30.00")),
        ("2026-12-03", 0, money("0.00")),
    ]
    assert ledger.asked == [
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC), SalesBy.DAY)
    ]


def test_refunds_come_off_the_gross_and_money_stays_exact() -> None:
    line = SalesLine.of("2026-12-01", 3, 7, money("0.10") + money("0.20") + money("10"),
                        money("0.10"))  # fmt: skip
    assert (line.gross, line.refunds, line.net) == (money("10.30"), money("0.10"), money("10.20"))
    assert str(line.net) == "10.20"  # no float anywhere: 0.1 + 0.2 is 0.30
    assert line.average_order_value == money("3.43")  # 10.30 / 3, to the cent, half up
    assert SalesLine.of("x", 0, 0, money("0"), money("0")).average_order_value == money("0.00")


def test_totals_come_from_the_ledger_by_product_each_order_once() -> None:
    ledger = FakeLedger(
        [
            SalesFigures("TEA-2", 1, 1, money("4.00"), money("0.00")),
            SalesFigures("TEA-1", 2, 3, money("9.00"), money("4.50")),
        ],
        SalesFigures("total", 2, 4, money("13.00"), money("4.50")),  # one order had both
    )
    view = report(ledger, by=SalesBy.PRODUCT)
    assert [r.key for r in view.rows] == ["TEA-1", "TEA-2"]
    totals = view.totals
    assert (totals.orders, totals.net, totals.average_order_value) == (
        2, money("8.50"), money("6.50"),
    )  # fmt: skip


def test_only_admins_see_reports() -> None:
    uow = FakeUnitOfWork([], principals=[ADMIN, CUSTOMER])
    with pytest.raises(Forbidden):
        SalesReport(FakeLedger([]), uow, lambda: TODAY)(CUSTOMER)
    with pytest.raises(InvalidInput, match="--limit 0 must be between 1 and 1000"):
        TopProducts(FakeLedger([]), uow, lambda: TODAY)(ADMIN, limit=0)


def level(sku: str, available: int, sold: int) -> StockLevel:
    return StockLevel(sku, sku.title(), available, sold)


def test_low_stock_is_below_the_threshold_or_out_within_the_days_soonest_first() -> None:
    levels = [
        level("plenty", 100, 14),  # 1 a day: 100 days left
        level("few", 3, 0),  # below 5, nothing sold: no days left to tell
        level("fast", 20, 28),  # 2 a day: 10 days left, within 14
        level("faster", 6, 42),  # 3 a day: 2 days left
    ]
    found = low_stock(levels, below=5, days=14)
    assert [(line.sku, line.daily_rate, line.days_left) for line in found] == [
        ("faster", money("3.00"), money("2.0")),
        ("fast", money("2.00"), money("10.0")),
        ("few", money("0.00"), None),
    ]
    assert low_stock(levels, below=0, days=0) == []


def test_low_stock_reads_the_last_14_days_sales() -> None:
    ledger = FakeLedger([])
    uow = FakeUnitOfWork([], principals=[ADMIN])
    assert LowStock(ledger, uow, lambda: TODAY)(ADMIN) == []
    assert ledger.asked == [
        (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC), None)
    ]


def test_an_export_window_includes_both_days_and_may_be_open() -> None:
    ledger = FakeLedger([])
    export = ExportOrders(ledger, FakeUnitOfWork([], principals=[ADMIN]))
    assert list(export(ADMIN, since=date(2026, 12, 1), until=date(2026, 12, 2))) == []
    assert list(export(ADMIN, status=OrderStatus.PAID, lines=True)) == []
    assert ledger.asked == [
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC), (None, False)),
        (None, None, (OrderStatus.PAID, True)),
    ]
    with pytest.raises(InvalidInput, match="is before --since"):
        export(ADMIN, since=date(2026, 12, 2), until=date(2026, 12, 1))
