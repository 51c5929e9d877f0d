"""Cart use cases: each customer edits only their own cart."""

from __future__ import annotations

from collections.abc import Callable

from shopctl.application.auth import Principal, authorize, authorizing, require_user
from shopctl.application.dto import CartView
from shopctl.application.products import UnitOfWorkFactory
from shopctl.domain.carts import Cart
from shopctl.domain.errors import NotFound
from shopctl.domain.products import Product, is_sku
from shopctl.domain.repositories import UnitOfWork


class ShowCart:
    """The cart with current prices and line totals. Reading writes nothing."""

    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def __call__(self, principal: Principal | None) -> CartView:
        require_user(principal)
        with self._uow() as uow:
            user = authorize(uow.accounts, principal)
            return CartView.of(uow.carts.get(user.user_id), self._currency)


class _EditCart:
    # Use cases are shared between threads (simulate): per-call state stays in arguments.
    def __init__(self, uow: UnitOfWorkFactory, currency: str) -> None:
        self._uow = uow
        self._currency = currency

    def _edit(
        self,
        principal: Principal | None,
        sku: str | None,
        change: Callable[[Cart, Product | None], object],
    ) -> CartView:
        claimed = require_user(principal)
        with self._uow() as uow:
            # The session check and the product go with the cart's lock: one round trip.
            checked = authorizing(uow.accounts, principal)
            product = None if sku is None else _product_ahead(uow, sku)
            cart = uow.carts.get(claimed.user_id, for_update=True)
            checked()  # it ran with the lock; asking makes sure, whatever the adapter
            change(cart, None if product is None else product())
            uow.carts.save(cart)
            uow.commit()
            return CartView.of(cart, self._currency)


def _product_ahead(uow: UnitOfWork, sku: str) -> Callable[[], Product]:
    """The product with this SKU, read with the unit of work's next statement; the result
    raises ``NotFound`` when there is none."""
    found = uow.products.get_by_sku_ahead(sku) if is_sku(sku) else lambda: None

    def product() -> Product:
        if (stored := found()) is None:
            raise NotFound(f"no product with SKU {sku!r}")
        return stored

    return product


class AddToCart(_EditCart):
    """Put ``quantity`` units of a product in the cart (merged with what is there)."""

    def __call__(self, principal: Principal | None, sku: str, quantity: int = 1) -> CartView:
        return self._edit(principal, sku, lambda cart, product: cart.add(_given(product), quantity))


class SetCartQuantity(_EditCart):
    """Set how many units of a product the cart holds."""

    def __call__(self, principal: Principal | None, sku: str, quantity: int) -> CartView:
        return self._edit(principal, sku, lambda cart, product: cart.set(_given(product), quantity))


class RemoveFromCart(_EditCart):
    """Take a product out of the cart."""

    def __call__(self, principal: Principal | None, sku: str) -> CartView:
        return self._edit(principal, None, lambda cart, _: cart.remove(sku))


class ClearCart(_EditCart):
    """Empty the cart."""

    def __call__(self, principal: Principal | None) -> CartView:
        return self._edit(principal, None, lambda cart, _: cart.clear())


def _given(product: Product | None) -> Product:
    assert product is not None, "the use case looked the product up"
    return product
