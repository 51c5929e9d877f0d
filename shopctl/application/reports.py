"""Reports for admins: sales by period or product, top products, low stock.

Reports are reads: the ``SalesLedger`` port sums the orders in set-based SQL, and this module
does what is left: the periods of the window (a period without sales is a row of zeros),
net revenue, average order value and totals, in exact ``Decimal`` money.

Dates are UTC. A window is ``since`` to ``until``, both whole days included. An order counts
in the period of its payment (``paid_at``). Refunds are the paid orders of the window that
were cancelled later (a paid order is refunded whole when cancelled): net = gross − refunds.
The average order value is gross / orders paid.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from shopctl.application.auth import Principal, authorize, require_user
from shopctl.domain.errors import InvalidInput
from shopctl.domain.orders import OrderStatus
from shopctl.domain.repositories import UnitOfWork

CENT = Decimal("0.01")
DEFAULT_DAYS = 30  # the default window: the last 30 days, today included
RATE_DAYS = 14  # low stock: the sales rate is that of the last 14 days


class SalesBy(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, from Monday
    MONTH = "month"
    PRODUCT = "product"


class RankBy(StrEnum):
    UNITS = "units"
    REVENUE = "revenue"


@dataclass(frozen=True)
class Window:
    """``since`` to ``until``, both whole UTC days included."""

    since: date
    until: date

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise InvalidInput(f"--until {self.until} is before --since {self.since}")

    @classmethod
    def of(cls, since: date | None, until: date | None, *, today: date) -> Window:
        """The window asked for; by default the last ``DEFAULT_DAYS`` days up to today."""
        until = until or today
        return cls(since or until - timedelta(days=DEFAULT_DAYS - 1), until)

    @property
    def start(self) -> datetime:
        return midnight(self.since)

    @property
    def end(self) -> datetime:
        """The first instant after the window."""
        return midnight(self.until + timedelta(days=1))


def midnight(day: date) -> datetime:
    """The first instant of ``day``, UTC."""
    return datetime.combine(day, time(), UTC)


def period_of(day: date, by: SalesBy) -> date:
    """The first day of the period ``day`` falls in."""
    if by is SalesBy.WEEK:
        return day - timedelta(days=day.weekday())
    if by is SalesBy.MONTH:
        return day.replace(day=1)
    return day


def periods(window: Window, by: SalesBy) -> list[date]:
    """The first day of each period that the window touches, in order (the first may start
    before ``since``: a week or month is named by its first day)."""
    found: list[date] = []
    day = period_of(window.since, by)
    while day <= window.until:
        found.append(day)
        if by is SalesBy.WEEK:
            day += timedelta(days=7)
        elif by is SalesBy.MONTH:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day += timedelta(days=1)
    return found


@dataclass(frozen=True)
class SalesFigures:
    """What the database sums for one period (its first day) or one product (its SKU)."""

    key: date | str
    orders: int
    units: int
    gross: Decimal
    refunds: Decimal


@dataclass(frozen=True)
class SalesLine:
    key: str  # the period's first day (ISO) or the SKU
    orders: int
    units: int
    gross: Decimal
    refunds: Decimal
    net: Decimal
    average_order_value: Decimal

    @classmethod
    def of(cls, key: str, orders: int, units: int, gross: Decimal, refunds: Decimal) -> SalesLine:
        gross, refunds = gross.quantize(CENT), refunds.quantize(CENT)  # money: to the cent
        average = (gross / orders).quantize(CENT, ROUND_HALF_UP) if orders else Decimal("0.00")
        return cls(key, orders, units, gross, refunds, gross - refunds, average)


@dataclass(frozen=True)
class SalesReportView:
    since: date
    until: date
    by: SalesBy
    rows: list[SalesLine]
    totals: SalesLine


@dataclass(frozen=True)
class TopProduct:
    sku: str
    name: str
    units: int
    revenue: Decimal
    stock_on_hand: int
    available: int


@dataclass(frozen=True)
class StockLevel:
    """An active product, and the units its paid orders took over the rate window."""

    sku: str
    name: str
    available: int
    units_sold: int


@dataclass(frozen=True)
class LowStockLine:
    sku: str
    name: str
    available: int
    daily_rate: Decimal  # units a day, over the last ``RATE_DAYS`` days
    days_left: Decimal | None  # at that rate; None when nothing sold


@dataclass(frozen=True)
class OrderRecord:
    """An order as ``order export`` writes it (one per row)."""

    id: int
    status: str
    email: str
    currency: str
    total: Decimal
    units: int
    created_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True)
class OrderLineRecord:
    """An order line as ``order export --lines`` writes it."""

    order_id: int
    status: str
    email: str
    created_at: datetime
    paid_at: datetime | None
    sku: str
    name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal


class SalesLedger(abc.ABC):
    """Port: the sums over orders that the reports need, each in one snapshot."""

    @abc.abstractmethod
    def sales(
        self, start: datetime, end: datetime, by: SalesBy
    ) -> tuple[list[SalesFigures], SalesFigures]:
        """Orders paid in [start, end), summed per period (key: its first day) or per SKU,
        and summed over the window (each order once, key ``total``), in one snapshot."""

    @abc.abstractmethod
    def top_products(
        self, start: datetime, end: datetime, by: RankBy, limit: int
    ) -> list[TopProduct]:
        """Products by units or revenue of their orders paid in [start, end) and not
        refunded, best first, with their stock now."""

    @abc.abstractmethod
    def stock_levels(self, start: datetime, end: datetime) -> list[StockLevel]:
        """Every active product, with the units of its orders paid in [start, end)."""

    @abc.abstractmethod
    def stream_orders(
        self,
        start: datetime | None,
        end: datetime | None,
        status: OrderStatus | None,
        *,
        lines: bool,
    ) -> Iterator[OrderRecord] | Iterator[OrderLineRecord]:
        """Orders placed in [start, end) (either end open: None), oldest first, or their
        lines; read from a server-side cursor (memory stays flat), in one snapshot."""


def _zero(key: str) -> SalesFigures:
    return SalesFigures(key, 0, 0, Decimal("0.00"), Decimal("0.00"))


class _Report:
    """A report of the ledger's sums, for admins only, over windows that end today (UTC) by
    default."""

    def __init__(
        self, ledger: SalesLedger, uow: Callable[[], UnitOfWork], today: Callable[[], date]
    ) -> None:
        self._ledger = ledger
        self._uow = uow
        self._today = today

    def _check(self, principal: Principal | None) -> None:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)


class SalesReport(_Report):
    """``report sales`` (admins): per period, gaps as zero rows, or per product; totals."""

    def __call__(
        self,
        principal: Principal | None,
        *,
        since: date | None = None,
        until: date | None = None,
        by: SalesBy = SalesBy.DAY,
    ) -> SalesReportView:
        self._check(principal)
        window = Window.of(since, until, today=self._today())
        figures, total = self._ledger.sales(window.start, window.end, by)
        if by is SalesBy.PRODUCT:
            found = sorted(figures, key=lambda f: str(f.key))
        else:
            by_period = {f.key: f for f in figures}
            found = [by_period.get(day) or _zero(day.isoformat()) for day in periods(window, by)]
        rows = [SalesLine.of(_key(f.key), f.orders, f.units, f.gross, f.refunds) for f in found]
        totals = SalesLine.of("total", total.orders, total.units, total.gross, total.refunds)
        return SalesReportView(window.since, window.until, by, rows, totals)


def _key(key: date | str) -> str:
    return key.isoformat() if isinstance(key, date) else key


class TopProducts(_Report):
    """``report top-products`` (admins): best sellers of the window by units or revenue."""

    def __call__(
        self,
        principal: Principal | None,
        *,
        since: date | None = None,
        until: date | None = None,
        by: RankBy = RankBy.UNITS,
        limit: int = 10,
    ) -> list[TopProduct]:
        require_user(principal)
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"--limit {limit} must be between 1 and 1000")
        self._check(principal)
        window = Window.of(since, until, today=self._today())
        return self._ledger.top_products(window.start, window.end, by, limit)


def low_stock(
    levels: list[StockLevel], *, below: int, days: int, rate_days: int = RATE_DAYS
) -> list[LowStockLine]:
    """The products whose available units are below ``below``, or that would run out within
    ``days`` at their sales rate over the last ``rate_days`` days; soonest out first."""
    found = []
    for level in levels:
        rate = (Decimal(level.units_sold) / rate_days).quantize(CENT, ROUND_HALF_UP)
        left = None
        if level.units_sold:
            left = (Decimal(level.available) * rate_days / level.units_sold).quantize(
                Decimal("0.1"), ROUND_HALF_UP
            )
        if level.available < below or (left is not None and left < days):
            found.append(LowStockLine(level.sku, level.name, level.available, rate, left))
    return sorted(
        found, key=lambda line: (line.days_left is None, line.days_left or 0, line.available)
    )


class LowStock(_Report):
    """``report low-stock`` (admins)."""

    def __call__(
        self, principal: Principal | None, *, below: int = 5, days: int = 14
    ) -> list[LowStockLine]:
        require_user(principal)
        if below < 0 or days < 0:
            raise InvalidInput("--below and --days must be 0 or more")
        self._check(principal)
        today = self._today()
        window = Window(today - timedelta(days=RATE_DAYS - 1), today)
        levels = self._ledger.stock_levels(window.start, window.end)
        return low_stock(levels, below=below, days=days)


class ExportOrders:
    """``order export`` (admins): every order placed in the window, or every line, streamed."""

    def __init__(self, ledger: SalesLedger, uow: Callable[[], UnitOfWork]) -> None:
        self._ledger = ledger
        self._uow = uow

    def __call__(
        self,
        principal: Principal | None,
        *,
        since: date | None = None,
        until: date | None = None,
        status: OrderStatus | None = None,
        lines: bool = False,
    ) -> Iterator[OrderRecord] | Iterator[OrderLineRecord]:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
        if since is not None and until is not None:
            Window(since, until)  # the same check: until not before since
        start = None if since is None else midnight(since)
        end = None if until is None else midnight(until + timedelta(days=1))
        return self._ledger.stream_orders(start, end, status, lines=lines)
