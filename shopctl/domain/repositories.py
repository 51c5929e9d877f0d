"""Repository and Unit of Work contracts. Adapters live in ``shopctl.infrastructure``."""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

if TYPE_CHECKING:  # annotations only: browsing the catalog loads no orders, carts or users
    from shopctl.domain.carts import Cart
    from shopctl.domain.catalog import CatalogRow, ImportMatch
    from shopctl.domain.orders import Order, OrderStatus, ReservationStatus
    from shopctl.domain.payments import Payment
    from shopctl.domain.products import Product
    from shopctl.domain.sessions import RefreshToken
    from shopctl.domain.users import User


Prepared = TypeVar("Prepared")
Checked = TypeVar("Checked")


@dataclass(frozen=True)
class ProductQuery:
    search: str | None = None
    in_stock: bool = False
    include_inactive: bool = False
    limit: int = 50
    offset: int = 0


class ProductCatalog(abc.ABC):
    """The catalog's read side: what browsing needs, and nothing that writes or locks."""

    @abc.abstractmethod
    def get_by_sku(self, sku: str) -> Product | None:
        """The product with this SKU, active or archived."""

    @abc.abstractmethod
    def list(self, query: ProductQuery) -> list[Product]:
        """Products matching ``query``, ordered by SKU."""


class CatalogImport(abc.ABC, Generic[Prepared]):
    """The catalog import's writes, one batch at a time: rows in, what the database knows
    of them out, then the upsert. How the rows reach the database is the adapter's: it
    turns a batch into its own ``Prepared`` form first, which needs no database, so that
    the caller may prepare the next batch while the database works on this one."""

    @abc.abstractmethod
    def prepare(self, rows: Sequence[CatalogRow]) -> Prepared:
        """One batch (SKUs distinct within it), in file order, as ``stage`` takes it. No
        database access."""

    @abc.abstractmethod
    def stage(self, batch: Prepared) -> dict[str, ImportMatch]:
        """Stage one prepared batch and lock the stored products among its rows. Returns
        what is known of each SKU that is stored already or was in an earlier batch of the
        same import; SKUs new to both are left out."""

    @abc.abstractmethod
    def apply(self, skip_lines: Collection[int], *, actor: str | None) -> tuple[int, int]:
        """Upsert the staged batch except the rows of ``skip_lines``: create new SKUs, update
        existing ones with the given fields only, write an ``import`` movement for each stock
        change. Returns (created, updated); rows that change nothing write nothing."""


class ProductRepository(abc.ABC):
    """Products and their stock ledger: ``add``/``save`` also write ``pending_movements``."""

    @abc.abstractmethod
    def get_by_sku(self, sku: str, *, for_update: bool = False) -> Product | None:
        """``for_update`` locks the row until the end of the unit of work."""

    def get_by_sku_ahead(self, sku: str) -> Callable[[], Product | None]:
        """``get_by_sku`` (no lock), read with the unit of work's next statement where the
        adapter can (one round trip fewer); call the result for the product. Here: read when
        called."""
        return lambda: self.get_by_sku(sku)

    @abc.abstractmethod
    def add(self, product: Product) -> None:
        """Store a new product and its movements; sets id and timestamps.
        A SKU that exists already → ``Conflict``."""

    @abc.abstractmethod
    def save(self, product: Product) -> None:
        """Store the changed fields of a loaded product and append its pending movements."""

    @abc.abstractmethod
    def remove(self, product: Product) -> None:
        """Delete the product (and its ledger); only for products nothing refers to."""

    @abc.abstractmethod
    def is_referenced(self, product_id: int) -> bool:
        """True when history refers to the product (orders, sales): archive, never delete."""

    # -- export --------------------------------------------------------------------------

    @abc.abstractmethod
    def stream_all(self) -> Iterator[Product]:
        """Every product, ordered by SKU, streamed (constant memory)."""


class AccountReader(abc.ABC):
    """What the session check reads: the user as stored, and whether its login was revoked.
    Every unit of work has one (``accounts``), so that the check runs in the transaction
    that acts: a deactivation or a revoked session committed before it is seen."""

    @abc.abstractmethod
    def get_user(self, user_id: int) -> User | None: ...

    @abc.abstractmethod
    def family_revoked(self, family_id: str) -> bool:
        """True when the refresh-token family (one login) was revoked."""

    def check_ahead(
        self,
        user_id: int,
        family_id: str | None,
        check: Callable[[User | None, bool], Checked],
    ) -> Callable[[], Checked]:
        """``check`` on the user as stored and on whether the login ``family_id`` was revoked
        (False without one); call the result for what it returned. An adapter may send the
        reads with the unit of work's next statement (one round trip fewer) and run ``check``
        as soon as they arrive, before that statement's outcome is used: what ``check``
        raises then stands in for it. Here: read and check at once."""
        revoked = family_id is not None and self.family_revoked(family_id)
        checked = check(self.get_user(user_id), revoked)
        return lambda: checked


class UserRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, user: User) -> User:
        """Store a new user; sets ``id`` and ``created_at``. Duplicate email → ``Conflict``."""

    @abc.abstractmethod
    def get(self, user_id: int) -> User | None: ...

    @abc.abstractmethod
    def get_by_email(self, email: str, *, for_update: bool = False) -> User | None: ...

    @abc.abstractmethod
    def list(self) -> list[User]:
        """Every user, ordered by email."""

    @abc.abstractmethod
    def update(self, user: User) -> None:
        """Save role, active flag and password hash of a stored user."""

    @abc.abstractmethod
    def count_active_admins(self, *, excluding: int | None = None) -> int:
        """Active admins other than ``excluding``; locks their rows until the end of the unit."""


class RefreshTokenRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, token: RefreshToken) -> None: ...

    @abc.abstractmethod
    def get(self, jti: str) -> RefreshToken | None: ...

    @abc.abstractmethod
    def mark_used(self, jti: str, at: datetime) -> bool:
        """Mark an unused, unrevoked token used. False when it already was (or was revoked):
        of two concurrent callers exactly one gets True."""

    @abc.abstractmethod
    def revoke_family(self, family_id: str, at: datetime) -> int: ...

    @abc.abstractmethod
    def revoke_user(self, user_id: int, at: datetime) -> int: ...


class CartRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, user_id: int, *, for_update: bool = False) -> Cart:
        """The user's cart with the current state of its products (empty when there is none).
        ``for_update`` locks the cart (creating it when missing) until the end of the unit of
        work, and reads the lines after the lock; without it, reading writes nothing."""

    @abc.abstractmethod
    def save(self, cart: Cart) -> None:
        """Store the cart's lines exactly as they are. The cart was read with
        ``get(for_update=True)`` in this unit of work (its lock keeps what did not change)."""


@dataclass(frozen=True)
class OrderQuery:
    user_id: int | None = None  # None: every user's orders
    status: OrderStatus | None = None


@dataclass(frozen=True)
class ReservationRecord:
    id: int
    order_id: int
    product_id: int
    sku: str
    quantity: int
    status: ReservationStatus
    expires_at: datetime


class OrderRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, order: Order) -> None:
        """Store a new order with its lines and reservations; sets the ids by the time the
        unit of work commits (they may travel with the COMMIT)."""

    @abc.abstractmethod
    def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        """The order with lines and reservations; ``for_update`` locks the order row."""

    @abc.abstractmethod
    def list(self, query: OrderQuery) -> list[Order]:
        """Orders matching ``query``, newest first."""

    @abc.abstractmethod
    def update(self, order: Order) -> None:
        """Store the status, paid time and reservation statuses of a loaded order."""


class PaymentRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, payment: Payment) -> None:
        """Store a new payment attempt; sets id and created_at by the time the unit of work
        commits (they may travel with the COMMIT). When another payment holds its
        idempotency key, nothing is stored and its id stays None: the caller refuses it then,
        with nothing of it written."""

    @abc.abstractmethod
    def for_order(self, order_id: int) -> list[Payment]:
        """Every payment of the order, oldest first."""

    @abc.abstractmethod
    def get_by_key(self, idempotency_key: str) -> Payment | None: ...

    def for_order_after_next(self, order_id: int) -> Callable[[], list[Payment]]:
        """``for_order``, read right after the unit of work's next statement (the order's
        lock), in its round trip where the adapter can; call the result for the payments.
        Here: read when called."""
        return lambda: self.for_order(order_id)

    def get_by_key_after_next(self, idempotency_key: str) -> Callable[[], Payment | None]:
        """``get_by_key``, read right after the unit of work's next statement (the order's
        lock), in its round trip where the adapter can. Here: read when called."""
        return lambda: self.get_by_key(idempotency_key)

    @abc.abstractmethod
    def update(self, payment: Payment) -> None:
        """Store status, gateway reference and decline code of a loaded payment."""


class InventoryRepository(abc.ABC):
    """Reservations and the product counters they move, set-based for the checkout path."""

    @abc.abstractmethod
    def lock_products(
        self, ids: Iterable[int], *, due_at: datetime | None = None
    ) -> tuple[list[Product], bool]:
        """Lock and return these products in ascending id order, and (with ``due_at``)
        whether any of them is held by an active reservation that expired by then."""

    @abc.abstractmethod
    def lock_cart_products_after_next(
        self, user_id: int, *, due_at: datetime | None = None
    ) -> Callable[[], tuple[list[Product], bool]]:
        """``lock_products`` for the products in ``user_id``'s cart, sent right after the unit
        of work's next statement, the cart's lock (so the lines are those the lock protects),
        in its round trip where the adapter can; call the result for them."""

    @abc.abstractmethod
    def lock_order_products_after_next(
        self, order_id: int
    ) -> Callable[[], tuple[list[Product], bool]]:
        """``lock_products`` for the products the order's active reservations hold, sent
        right after the unit of work's next statement, the order's lock, in its round trip
        where the adapter can; call the result for them."""

    @abc.abstractmethod
    def save_products(self, products: Sequence[Product]) -> None:
        """Store stock_on_hand and reserved of locked products, and their pending movements."""

    @abc.abstractmethod
    def release_expired(self, now: datetime, product_ids: Iterable[int] | None = None) -> int:
        """Expire pending orders past their expiry (only those holding ``product_ids`` when
        given), release their reservations and the products' reserved units. Orders locked by
        another unit of work are skipped (it is deciding about them). Returns how many expired."""

    @abc.abstractmethod
    def reservations(self, *, active_only: bool = False) -> list[ReservationRecord]:
        """Reservations, newest first."""


class _UnitOfWorkBase(abc.ABC):
    """One transaction: leaving the block without ``commit()`` rolls back."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...


class ImportUnitOfWork(_UnitOfWorkBase):
    """One transaction of a catalog import: all the import needs. After ``commit()`` work
    goes on in a new transaction."""

    products: CatalogImport[Any]
    accounts: AccountReader


class UnitOfWork(_UnitOfWorkBase):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    products: ProductRepository
    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    carts: CartRepository
    orders: OrderRepository
    payments: PaymentRepository
    inventory: InventoryRepository
    accounts: AccountReader
