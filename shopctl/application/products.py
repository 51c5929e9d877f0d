"""Catalog use cases: browse (public) and administer (admins) products and their stock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from shopctl.application.auth import Principal, authorize, require_user
from shopctl.application.dto import ProductView
from shopctl.domain.errors import InvalidInput, NotFound
from shopctl.domain.money import parse_money
from shopctl.domain.products import Product, is_sku, validate_quantity
from shopctl.domain.repositories import (
    ProductCatalog,
    ProductQuery,
    ProductRepository,
    UnitOfWork,
)
from shopctl.domain.text import storable

UnitOfWorkFactory = Callable[[], UnitOfWork]

MAX_PAGE = 10_000


def _found(product: Product | None, sku: str) -> Product:
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}")
    return product


def _find(products: ProductRepository, sku: str, *, for_update: bool = False) -> Product:
    return _found(products.get_by_sku(sku, for_update=for_update) if is_sku(sku) else None, sku)


class ListProducts:
    """Browse the catalog: public, read-only, ordered by SKU."""

    def __init__(self, catalog: ProductCatalog, currency: str) -> None:
        self._catalog = catalog
        self._currency = currency

    def __call__(self, query: ProductQuery) -> list[ProductView]:
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, got {query.limit}")
        if query.offset < 0:
            raise InvalidInput(f"offset must be 0 or more, got {query.offset}")
        if query.search is not None:
            storable(query.search, "search text")
        return [ProductView.of(p, self._currency) for p in self._catalog.list(query)]


class GetProduct:
    """Show one product by SKU, active or archived."""

    def __init__(self, catalog: ProductCatalog, currency: str) -> None:
        self._catalog = catalog
        self._currency = currency

    def __call__(self, sku: str) -> ProductView:
        found = self._catalog.get_by_sku(sku) if is_sku(sku) else None
        return ProductView.of(_found(found, sku), self._currency)


class CreateProduct:
    """Add a product to the catalog (admins). Initial stock is an ``adjust`` movement."""

    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def __call__(
        self,
        principal: Principal | None,
        *,
        sku: str,
        name: str,
        price: str,
        description: str = "",
        stock: int = 0,
    ) -> ProductView:
        require_user(principal)
        with self._uow() as uow:
            admin = authorize(uow.accounts, principal, admin=True)
            product = Product(sku=sku, name=name, price=parse_money(price), description=description)
            if validate_quantity(stock) > 0:
                product.add_stock(stock, actor=admin.email, note="initial stock")
            uow.products.add(product)
            view = ProductView.of(product, self._currency)
            uow.commit()
        return view


class UpdateProduct:
    """Change a product's name, price, description or active flag (admins). SKU is immutable."""

    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def __call__(
        self,
        principal: Principal | None,
        sku: str,
        *,
        name: str | None = None,
        price: str | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> ProductView:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
            if name is None and price is None and description is None and active is None:
                raise InvalidInput(
                    "nothing to update: give a new name, price, description or active state"
                )
            product = _find(uow.products, sku, for_update=True)
            if product.change_details(
                name=name, price=price, description=description, active=active
            ):
                uow.products.save(product)
                uow.commit()
            return ProductView.of(product, self._currency)


class DeleteOutcome(StrEnum):
    DELETED = "deleted"
    ARCHIVED = "archived"


@dataclass(frozen=True)
class DeletedProduct:
    sku: str
    outcome: DeleteOutcome


class DeleteProduct:
    """Delete a product nothing refers to; archive (deactivate) one that orders refer to."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None, sku: str) -> DeletedProduct:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
            product = _find(uow.products, sku, for_update=True)
            assert product.id is not None
            if product.reserved or uow.products.is_referenced(product.id):
                product.archive()
                uow.products.save(product)
                outcome = DeleteOutcome.ARCHIVED
            else:
                uow.products.remove(product)
                outcome = DeleteOutcome.DELETED
            uow.commit()
        return DeletedProduct(sku=sku, outcome=outcome)


@dataclass(frozen=True)
class StockChange:
    product: ProductView
    previous: int
    delta: int


class ChangeStock:
    """Set, add or remove stock on hand (admins); each change is an ``adjust`` movement.

    The product row is locked for the whole unit of work, so concurrent changes queue
    up instead of overwriting each other.
    """

    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def __call__(
        self,
        principal: Principal | None,
        sku: str,
        *,
        set_to: int | None = None,
        add: int | None = None,
        remove: int | None = None,
        note: str | None = None,
    ) -> StockChange:
        require_user(principal)
        with self._uow() as uow:
            admin = authorize(uow.accounts, principal, admin=True)
            given = [v for v in (set_to, add, remove) if v is not None]
            if len(given) != 1:
                raise InvalidInput("give exactly one stock change: set, add or remove")
            product = _find(uow.products, sku, for_update=True)
            previous = product.stock_on_hand
            if set_to is not None:
                product.set_stock(set_to, actor=admin.email, note=note)
            elif add is not None:
                product.add_stock(add, actor=admin.email, note=note)
            elif remove is not None:
                product.remove_stock(remove, actor=admin.email, note=note)
            if product.stock_on_hand != previous:
                uow.products.save(product)
                uow.commit()
            return StockChange(
                product=ProductView.of(product, self._currency),
                previous=previous,
                delta=product.stock_on_hand - previous,
            )
