"""In-memory fakes of our own ports, for unit tests of use cases (no mocks of our classes)."""

from __future__ import annotations

from datetime import UTC, datetime

from shopctl.application.ports import Clock
from shopctl.domain.products import Product
from shopctl.domain.repositories import ProductQuery, ProductRepository, UnitOfWork


class FakeProductRepository(ProductRepository):
    def __init__(self, products: list[Product] | None = None) -> None:
        self._by_sku: dict[str, Product] = {}
        for product in products or []:
            self.add(product)

    def add(self, product: Product) -> None:
        if product.id is None:
            product.id = len(self._by_sku) + 1
        product.created_at = product.created_at or datetime.now(UTC)
        product.updated_at = product.updated_at or product.created_at
        self._by_sku[product.sku] = product

    def get_by_sku(self, sku: str) -> Product | None:
        return self._by_sku.get(sku)

    def list(self, query: ProductQuery) -> list[Product]:
        found = sorted(self._by_sku.values(), key=lambda p: p.sku)
        if not query.include_inactive:
            found = [p for p in found if p.active]
        if query.in_stock:
            found = [p for p in found if p.available > 0]
        if query.search:
            needle = query.search.lower()
            found = [p for p in found if needle in p.sku.lower() or needle in p.name.lower()]
        return found[query.offset : query.offset + query.limit]


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, products: list[Product] | None = None) -> None:
        self.products = FakeProductRepository(products)
        self.committed = False

    def commit(self) -> None:
        self.committed = True

    def rollback(self) -> None:
        pass

    def __call__(self) -> FakeUnitOfWork:
        """Serve as its own factory: use cases call ``uow()`` for each unit of work."""
        return self


class FakeClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.current += timedelta(**delta)
