"""In-memory fakes of our own ports, for unit tests of use cases (no mocks of our classes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from shopctl.application.ports import Clock, PasswordHasher, SessionStore, StoredSession
from shopctl.domain.catalog import CatalogRow
from shopctl.domain.products import Product, StockMovement
from shopctl.domain.repositories import (
    ProductQuery,
    ProductRepository,
    RefreshTokenRepository,
    UnitOfWork,
    UserRepository,
)
from shopctl.domain.sessions import RefreshToken
from shopctl.domain.users import Role, User


class FakeProductRepository(ProductRepository):
    """Products in a dict, the ledger in a list; the bulk import path done row by row."""

    def __init__(self, products: list[Product] | None = None) -> None:
        self._by_sku: dict[str, Product] = {}
        self.movements: list[tuple[str, StockMovement]] = []
        self.referenced: set[int] = set()
        self._seen: dict[str, int] = {}
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

    def is_referenced(self, product_id: int) -> bool:
        return product_id in self.referenced

    def get_by_sku(self, sku: str, *, for_update: bool = False) -> Product | None:
        return self._by_sku.get(sku)

    def get_many_for_update(self, ids: Iterable[int]) -> list[Product]:
        wanted = set(ids)
        return sorted(
            (p for p in self._by_sku.values() if p.id in wanted), key=lambda p: p.id or 0
        )

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

    def earlier_lines(self, rows: Sequence[CatalogRow]) -> dict[str, int]:
        earlier = {r.sku: self._seen[r.sku] for r in rows if r.sku in self._seen}
        for row in rows:
            self._seen.setdefault(row.sku, row.line)
        return earlier

    def reserved_for_import(self, skus: Sequence[str]) -> dict[str, int]:
        return {s: self._by_sku[s].reserved for s in skus if s in self._by_sku}

    def upsert_batch(self, rows: Sequence[CatalogRow], *, actor: str | None) -> tuple[int, int]:
        from shopctl.domain.products import StockReason

        created = updated = 0
        for row in rows:
            product = self._by_sku.get(row.sku)
            if product is None:
                assert row.name is not None and row.price is not None
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
        user.id = len(self._by_id) + 1
        user.created_at = user.created_at or datetime.now(UTC)
        self._by_id[user.id] = user
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


class FakeUnitOfWork(UnitOfWork):
    def __init__(
        self, products: list[Product] | None = None, *, users: list[User] | None = None
    ) -> None:
        self.products = FakeProductRepository(products)
        self.users = FakeUserRepository(users)
        self.refresh_tokens = FakeRefreshTokenRepository()
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
