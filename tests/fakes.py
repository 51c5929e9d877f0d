"""In-memory fakes of our own ports, for unit tests of use cases (no mocks of our classes)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from copy import copy
from datetime import UTC, datetime
from decimal import Decimal

from shopctl.application.auth import Principal
from shopctl.application.ports import (
    ChargeResult,
    ChargeStatus,
    Clock,
    PasswordHasher,
    PaymentGateway,
    RefundResult,
    SessionStore,
    StoredSession,
)
from shopctl.domain.carts import Cart, CartLine
from shopctl.domain.catalog import CatalogRow, ImportMatch
from shopctl.domain.errors import Conflict
from shopctl.domain.orders import Order, ReservationStatus
from shopctl.domain.payments import Payment
from shopctl.domain.products import Product, StockMovement
from shopctl.domain.repositories import (
    AccountReader,
    CartRepository,
    CatalogImport,
    ImportUnitOfWork,
    InventoryRepository,
    OrderQuery,
    OrderRepository,
    PaymentRepository,
    ProductCatalog,
    ProductQuery,
    ProductRepository,
    RefreshTokenRepository,
    ReservationRecord,
    UnitOfWork,
    UserRepository,
)
from shopctl.domain.sessions import RefreshToken
from shopctl.domain.users import Role, User
from shopctl.infrastructure.payments.mock import decide


class FakeProductRepository(ProductRepository, ProductCatalog, CatalogImport[Sequence[CatalogRow]]):
    """Also the catalog's read side and the import's port: one store for all three."""

    """Products in a dict, the ledger in a list; the bulk import path done row by row."""

    def __init__(self, products: list[Product] | None = None) -> None:
        self._by_sku: dict[str, Product] = {}
        self.movements: list[tuple[str, StockMovement]] = []
        self.referenced: set[int] = set()
        self._seen: dict[str, int] = {}
        self._staged: Sequence[CatalogRow] = ()
        for product in products or []:
            self.add(product)

    def add(self, product: Product) -> None:
        from shopctl.domain.errors import Conflict

        if product.sku in self._by_sku:
            raise Conflict(f"a product with SKU {product.sku!r} already exists")
        if product.id is None:
            product.id = max((p.id or 0 for p in self._by_sku.values()), default=0) + 1
        product.created_at = product.created_at or datetime.now(UTC)
        product.updated_at = product.updated_at or product.created_at
        self._by_sku[product.sku] = product
        self._write_movements(product)

    def save(self, product: Product) -> None:
        assert self._by_sku.get(product.sku) is product
        product.updated_at = datetime.now(UTC)
        self._write_movements(product)

    def _write_movements(self, product: Product) -> None:
        self.movements.extend((product.sku, m) for m in product.pending_movements)
        product.pending_movements.clear()

    def ledger_sum(self, sku: str) -> int:
        return sum(m.delta for s, m in self.movements if s == sku)

    def remove(self, product: Product) -> None:
        del self._by_sku[product.sku]
        self.movements = [(s, m) for s, m in self.movements if s != product.sku]

    def stored(self, sku: str) -> Product:
        """The product with this SKU, which a test expects to exist (KeyError if not)."""
        return self._by_sku[sku]

    def is_referenced(self, product_id: int) -> bool:
        return product_id in self.referenced

    def get_by_sku(self, sku: str, *, for_update: bool = False) -> Product | None:
        return self._by_sku.get(sku)

    def stored_products(self) -> list[Product]:
        return list(self._by_sku.values())

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

    def new_unit(self) -> None:
        """Like the SQL repository, an import's memory of SKUs lasts one unit of work."""
        self._seen.clear()

    def prepare(self, rows: Sequence[CatalogRow]) -> Sequence[CatalogRow]:
        return tuple(rows)

    def stage(self, batch: Sequence[CatalogRow]) -> dict[str, ImportMatch]:
        rows = self._staged = batch
        matches = {}
        for row in rows:
            stored = self._by_sku.get(row.sku)
            first = self._seen.get(row.sku)
            if stored is not None or first is not None:
                matches[row.sku] = ImportMatch(first, None if stored is None else stored.reserved)
        for row in rows:
            self._seen.setdefault(row.sku, row.line)
        return matches

    def apply(self, skip_lines: Collection[int], *, actor: str | None) -> tuple[int, int]:
        from shopctl.domain.products import StockReason

        created = updated = 0
        for row in self._staged:
            if row.line in skip_lines:
                continue
            product = self._by_sku.get(row.sku)
            if product is None:
                assert row.name is not None
                assert row.price is not None
                product = Product(
                    sku=row.sku, name=row.name, price=row.price, active=row.active is not False
                )
                product.change_details(description=row.description)
                if row.stock:
                    product.add_stock(row.stock, reason=StockReason.IMPORT, actor=actor)
                self.add(product)
                created += 1
                continue
            changed = product.change_details(
                name=row.name, price=row.price, description=row.description, active=row.active
            )
            if row.stock is not None and product.set_stock(
                row.stock, reason=StockReason.IMPORT, actor=actor
            ):
                changed = True
            if changed:
                self.save(product)
                updated += 1
        return created, updated

    def stream_all(self) -> Iterator[Product]:
        yield from sorted(self._by_sku.values(), key=lambda p: p.sku)


class FakeUserRepository(UserRepository):
    def __init__(self, users: list[User] | None = None) -> None:
        self._by_id: dict[int, User] = {}
        for user in users or []:
            self.add(user)

    def add(self, user: User) -> User:
        from shopctl.domain.errors import Conflict

        if self.get_by_email(user.email) is not None:
            raise Conflict(f"a user with email {user.email} already exists")
        user.id = max(self._by_id, default=0) + 1
        user.created_at = user.created_at or datetime.now(UTC)
        self._by_id[user.id] = user
        return user

    def seed(self, principal: Principal) -> User:
        """The stored user a test's principal stands for (same id, email and role)."""
        user = User(
            email=principal.email,
            password_hash="seeded",
            role=principal.role,
            id=principal.user_id,
            created_at=datetime.now(UTC),
        )
        self._by_id[principal.user_id] = user
        return user

    def get(self, user_id: int) -> User | None:
        return self._by_id.get(user_id)

    def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        return next((u for u in self._by_id.values() if u.email == email.lower()), None)

    def list(self) -> list[User]:
        return sorted(self._by_id.values(), key=lambda u: u.email)

    def update(self, user: User) -> None:
        assert user.id in self._by_id

    def count_active_admins(self, *, excluding: int | None = None) -> int:
        return sum(
            1
            for u in self._by_id.values()
            if u.role is Role.ADMIN and u.active and u.id != excluding
        )


class FakeRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self) -> None:
        self.tokens: dict[str, RefreshToken] = {}

    def add(self, token: RefreshToken) -> None:
        self.tokens[token.jti] = token

    def get(self, jti: str) -> RefreshToken | None:
        return self.tokens.get(jti)

    def mark_used(self, jti: str, at: datetime) -> bool:
        token = self.tokens.get(jti)
        if token is None or token.used_at is not None or token.revoked_at is not None:
            return False
        token.used_at = at
        return True

    def revoke_family(self, family_id: str, at: datetime) -> int:
        return self._revoke([t for t in self.tokens.values() if t.family_id == family_id], at)

    def revoke_user(self, user_id: int, at: datetime) -> int:
        return self._revoke([t for t in self.tokens.values() if t.user_id == user_id], at)

    def family_revoked(self, family_id: str) -> bool:
        return any(
            t.revoked_at is not None for t in self.tokens.values() if t.family_id == family_id
        )

    @staticmethod
    def _revoke(tokens: list[RefreshToken], at: datetime) -> int:
        fresh = [t for t in tokens if t.revoked_at is None]
        for token in fresh:
            token.revoked_at = at
        return len(fresh)


class FakeAccountReader(AccountReader):
    """The session check's reads, from a fake unit of work's repositories."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get_user(self, user_id: int) -> User | None:
        return self._uow.users.get(user_id)

    def family_revoked(self, family_id: str) -> bool:
        return self._uow.refresh_tokens.family_revoked(family_id)


class FakeUnitOfWork(UnitOfWork, ImportUnitOfWork):
    """Typed as the fakes, not the ports: tests inspect them (``uow.products.movements``)."""

    products: FakeProductRepository
    users: FakeUserRepository
    refresh_tokens: FakeRefreshTokenRepository
    carts: FakeCartRepository
    orders: FakeOrderRepository
    payments: FakePaymentRepository
    inventory: FakeInventoryRepository

    def __init__(
        self,
        products: list[Product] | None = None,
        *,
        users: list[User] | None = None,
        principals: Iterable[Principal] = (),
    ) -> None:
        self.products = FakeProductRepository(products)
        self.users = FakeUserRepository(users)
        for principal in principals:
            self.users.seed(principal)
        self.accounts = FakeAccountReader(self)
        self.refresh_tokens = FakeRefreshTokenRepository()
        self.carts = FakeCartRepository(self.products)
        self.orders = FakeOrderRepository()
        self.payments = FakePaymentRepository()
        self.inventory = FakeInventoryRepository(self.products, self.orders, self.carts)
        self.committed = False

    def commit(self) -> None:
        self.committed = True

    def rollback(self) -> None:
        pass

    def __call__(self) -> FakeUnitOfWork:
        """Serve as its own factory: use cases call ``uow()`` for each unit of work."""
        self.products.new_unit()
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


class FakePasswordHasher(PasswordHasher):
    """Reversible "hashing" for unit tests; ``version`` plays the role of the parameters."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.wasted = 0

    def hash(self, password: str) -> str:
        return f"fake{self.version}${password}"

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        scheme, _, expected = password_hash.partition("$")
        if expected != password:
            return False, None
        return True, None if scheme == f"fake{self.version}" else self.hash(password)

    def waste_time(self, password: str) -> None:
        self.wasted += 1


class FakeSessionStore(SessionStore):
    def __init__(self, profile: str = "default") -> None:
        self._profile = profile
        self.session: StoredSession | None = None
        self.locked = 0

    @property
    def profile(self) -> str:
        return self._profile

    def load(self) -> StoredSession | None:
        return self.session

    def save(self, session: StoredSession) -> None:
        self.session = session

    def clear(self) -> bool:
        had, self.session = self.session is not None, None
        return had

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        self.locked += 1
        yield


# -- purchase flow --------------------------------------------------------------------------


class FakeCartRepository(CartRepository):
    def __init__(self, products: FakeProductRepository) -> None:
        self._products = products
        self.quantities: dict[int, dict[str, int]] = {}  # user id -> sku -> quantity

    def get(self, user_id: int, *, for_update: bool = False) -> Cart:
        cart = Cart(user_id=user_id)
        for sku, quantity in sorted(self.quantities.get(user_id, {}).items()):
            product = self._products.get_by_sku(sku)
            if product is not None:
                cart.lines.append(CartLine(copy(product), quantity))
        return cart

    def save(self, cart: Cart) -> None:
        self.quantities[cart.user_id] = {line.product.sku: line.quantity for line in cart.lines}


class FakeOrderRepository(OrderRepository):
    def __init__(self) -> None:
        self.by_id: dict[int, Order] = {}

    def add(self, order: Order) -> None:
        order.id = len(self.by_id) + 1
        for number, reservation in enumerate(order.reservations, start=1):
            reservation.id = order.id * 1000 + number
        self.by_id[order.id] = order

    def get(self, order_id: int, *, for_update: bool = False) -> Order | None:
        return self.by_id.get(order_id)

    def list(self, query: OrderQuery) -> list[Order]:
        return [
            order
            for order in sorted(self.by_id.values(), key=lambda o: -(o.id or 0))
            if (query.user_id is None or order.user_id == query.user_id)
            and (query.status is None or order.status is query.status)
        ]

    def update(self, order: Order) -> None:
        assert self.by_id.get(order.id or 0) is order


class FakePaymentRepository(PaymentRepository):
    def __init__(self) -> None:
        self.all: list[Payment] = []

    def add(self, payment: Payment) -> None:
        if self.get_by_key(payment.idempotency_key) is not None:
            return  # another payment holds the key: nothing stored, no id
        payment.id = len(self.all) + 1
        payment.created_at = datetime.now(UTC)
        self.all.append(payment)

    def for_order(self, order_id: int) -> list[Payment]:
        return [p for p in self.all if p.order_id == order_id]

    def get_by_key(self, idempotency_key: str) -> Payment | None:
        return next((p for p in self.all if p.idempotency_key == idempotency_key), None)

    def update(self, payment: Payment) -> None:
        assert payment in self.all


class FakeInventoryRepository(InventoryRepository):
    def __init__(
        self,
        products: FakeProductRepository,
        orders: FakeOrderRepository,
        carts: FakeCartRepository | None = None,
    ) -> None:
        self._products = products
        self._orders = orders
        self._carts = carts

    def lock_cart_products_after_next(
        self, user_id: int, *, due_at: datetime | None = None
    ) -> Callable[[], tuple[list[Product], bool]]:
        assert self._carts is not None, "this fake was built without carts"
        carts = self._carts

        def lock() -> tuple[list[Product], bool]:  # when asked: after the cart's lock
            in_cart = [self._products.get_by_sku(sku) for sku in carts.quantities.get(user_id, {})]
            return self.lock_products([p.id for p in in_cart if p and p.id], due_at=due_at)

        return lock

    def lock_order_products_after_next(
        self, order_id: int
    ) -> Callable[[], tuple[list[Product], bool]]:
        def lock() -> tuple[list[Product], bool]:  # when asked: after the order's lock
            order = self._orders.by_id.get(order_id)
            held = [] if order is None else order.reservations
            active = [r.product_id for r in held if r.status is ReservationStatus.ACTIVE]
            return self.lock_products(active)

        return lock

    def lock_products(
        self, ids: Iterable[int], *, due_at: datetime | None = None
    ) -> tuple[list[Product], bool]:
        wanted_ids = set(ids)
        locked = sorted(
            (p for p in self._products.stored_products() if p.id in wanted_ids),
            key=lambda p: p.id or 0,
        )
        wanted = {p.id for p in locked}
        due = due_at is not None and any(
            r.product_id in wanted and r.expires_at <= due_at
            for order in self._orders.by_id.values()
            for r in order.reservations
            if r.status is ReservationStatus.ACTIVE
        )
        return locked, due

    def save_products(self, products: Sequence[Product]) -> None:
        for product in products:
            self._products.save(product)

    def release_expired(self, now: datetime, product_ids: Iterable[int] | None = None) -> int:
        touched = None if product_ids is None else set(product_ids)
        count = 0
        for order in self._orders.by_id.values():
            if not order.is_due(now):
                continue
            if touched is not None and not {r.product_id for r in order.reservations} & touched:
                continue
            released = order.expire(now)
            products = {p.id: p for p in self._products.stored_products()}
            for reservation in released:
                products[reservation.product_id].release(reservation.quantity)
            count += 1
        return count

    def reservations(self, *, active_only: bool = False) -> list[ReservationRecord]:
        skus = {p.id: p.sku for p in self._products.stream_all()}
        found = [
            ReservationRecord(
                r.id or 0,
                order.id or 0,
                r.product_id,
                skus[r.product_id],
                r.quantity,
                r.status,
                r.expires_at,
            )
            for order in self._orders.by_id.values()
            for r in order.reservations
            if not active_only or r.status is ReservationStatus.ACTIVE
        ]
        return sorted(found, key=lambda r: -r.id)


class FakePaymentGateway(PaymentGateway):
    """The mock provider's rules (same test cards), with its records in memory.

    ``during_charge`` runs inside ``charge`` (its result is ignored): tests use it to change
    the shop while the gateway call is in flight (a concurrent cancel, the TTL passing).
    ``refund_error``, when set, is raised by ``refund``: the gateway is unreachable.
    """

    def __init__(self) -> None:
        self.charges: dict[str, tuple[tuple[Decimal, str, str], ChargeResult]] = {}
        self.refunds: dict[str, tuple[str, Decimal]] = {}
        self.during_charge: Callable[[], object] | None = None
        self.refund_error: Exception | None = None

    def charge(
        self, amount: Decimal, currency: str, card: str, idempotency_key: str
    ) -> ChargeResult:
        params = (amount, currency, card)
        if idempotency_key in self.charges:  # a replay
            stored_params, result = self.charges[idempotency_key]
            if stored_params != params:
                raise Conflict(f"idempotency key {idempotency_key!r} reused")
        else:
            status, code = decide(card)
            result = ChargeResult(status, f"ch_{len(self.charges) + 1}", code)
            self.charges[idempotency_key] = (params, result)
        if self.during_charge is not None:
            self.during_charge()
        return result

    def refund(self, charge_ref: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        if self.refund_error is not None:
            raise self.refund_error
        if idempotency_key not in self.refunds:
            captured = sum(
                (
                    params[0]
                    for params, result in self.charges.values()
                    if result.reference == charge_ref and result.status is ChargeStatus.SUCCEEDED
                ),
                Decimal(0),
            )
            assert isinstance(captured, Decimal)
            already = sum((a for ref, a in self.refunds.values() if ref == charge_ref), Decimal(0))
            if already + amount > captured:
                raise Conflict("refund exceeds the capture")
            self.refunds[idempotency_key] = (charge_ref, amount)
        return RefundResult(f"re_{idempotency_key}", amount)

    def succeeded_charges(self) -> int:
        return sum(1 for _, r in self.charges.values() if r.status is ChargeStatus.SUCCEEDED)
