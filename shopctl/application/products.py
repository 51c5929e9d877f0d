"""Catalog use cases."""

from __future__ import annotations

from collections.abc import Callable

from shopctl.application.dto import ProductView
from shopctl.domain.errors import InvalidInput, NotFound
from shopctl.domain.repositories import ProductQuery, UnitOfWork

UnitOfWorkFactory = Callable[[], UnitOfWork]

MAX_PAGE = 10_000


class ListProducts:
    """Browse the catalog: public, read-only, ordered by SKU."""

    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def __call__(self, query: ProductQuery) -> list[ProductView]:
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput(f"--limit must be between 1 and {MAX_PAGE}, got {query.limit}")
        if query.offset < 0:
            raise InvalidInput(f"--offset must be 0 or more, got {query.offset}")
        with self._uow() as uow:
            return [ProductView.of(p, self._currency) for p in uow.products.list(query)]


class GetProduct:
    """Show one product by SKU, active or archived."""

    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def __call__(self, sku: str) -> ProductView:
        with self._uow() as uow:
            product = uow.products.get_by_sku(sku)
            if product is None:
                raise NotFound(f"no product with SKU {sku!r}")
            return ProductView.of(product, self._currency)
