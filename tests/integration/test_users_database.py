"""Users and refresh tokens on a real PostgreSQL: repositories, constraints, and the
refresh-rotation race between separate connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from shopctl.application.auth import Principal
from shopctl.application.ports import StoredSession
from shopctl.application.sessions import Authenticate, LogIn, RefreshSession
from shopctl.application.users import RegisterUser
from shopctl.domain.errors import Conflict, NotAuthenticated, ShopError
from shopctl.domain.sessions import RefreshToken
from shopctl.domain.users import Role, User
from shopctl.infrastructure.db.tables import app_secrets, refresh_tokens, users
from shopctl.infrastructure.db.uow import PostgresUnitOfWork
from shopctl.infrastructure.db.users import signing_key
from shopctl.infrastructure.security.passwords import Argon2PasswordHasher
from shopctl.infrastructure.security.tokens import JwtTokenService
from shopctl.infrastructure.sessions import FileSessionStore
from tests.database import database_of
from tests.fakes import FakeClock, FakePasswordHasher, FakeSessionStore

PASSWORD = "correct-horse-9"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def uow_factory(engine: Any) -> Any:
    return lambda: PostgresUnitOfWork(database_of(engine))


def add_user(engine: Any, email: str = "alice@example.com", **values: Any) -> User:
    with PostgresUnitOfWork(database_of(engine)) as uow:
        user = uow.users.add(User(email=email, password_hash="h", **values))
        uow.commit()
    return user


T = TypeVar("T")


def race(work: Callable[[], T], racers: int) -> list[T | ShopError]:
    """Run ``work`` in ``racers`` threads released together; their results or ShopErrors."""
    barrier = threading.Barrier(racers)
    outcomes: list[T | ShopError] = []

    def racer() -> None:
        barrier.wait()
        try:
            outcomes.append(work())
        except ShopError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=racer) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == racers
    return outcomes


def token(user_id: int, jti: str = "j1", family: str = "f1", **values: Any) -> RefreshToken:
    fields: dict[str, Any] = {
        "jti": jti,
        "user_id": user_id,
        "family_id": family,
        "token_hash": "a" * 64,
        "expires_at": NOW + timedelta(days=30),
        "created_at": NOW,
    }
    fields.update(values)
    return RefreshToken(**fields)


# -- repositories -----------------------------------------------------------------------


def test_user_repository_round_trip(engine: Any) -> None:
    alice = add_user(engine)
    assert alice.id is not None and alice.created_at is not None
    add_user(engine, "bob@example.com", role=Role.ADMIN)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        found = uow.users.get_by_email("ALICE@example.com")
        assert found is not None and found.id == alice.id and found.role is Role.CUSTOMER
        assert [u.email for u in uow.users.list()] == ["alice@example.com", "bob@example.com"]
        assert uow.users.count_active_admins() == 1
        assert uow.users.count_active_admins(excluding=found.id) == 1
        found.role, found.active, found.password_hash = Role.ADMIN, False, "h2"
        uow.users.update(found)
        uow.commit()
    with PostgresUnitOfWork(database_of(engine)) as uow:
        again = uow.users.get(alice.id)
        assert again is not None
        assert (again.role, again.active, again.password_hash) == (Role.ADMIN, False, "h2")
        assert uow.users.get(10**9) is None
        assert uow.users.get_by_email("nobody@example.com") is None


def test_duplicate_email_is_a_conflict_and_the_unit_stays_usable(engine: Any) -> None:
    add_user(engine)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        with pytest.raises(Conflict, match="already exists"):
            uow.users.add(User(email="alice@example.com", password_hash="h"))
        uow.users.add(User(email="carol@example.com", password_hash="h"))
        uow.commit()
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert len(uow.users.list()) == 2


@pytest.mark.parametrize(
    "values",
    [
        {"email": "Alice@example.com"},
        {"email": "no-at-sign"},
        {"email": "a b@example.com"},
        {"role": "root"},
        {"password_hash": ""},
    ],
)
def test_constraints_reject_invalid_users(engine: Any, values: dict[str, Any]) -> None:
    row = {"email": "ok@example.com", "password_hash": "h", **values}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(users).values(**row))


def test_refresh_token_constraints(engine: Any) -> None:
    alice = add_user(engine)
    row = {
        "jti": "j1",
        "user_id": alice.id,
        "family_id": "f",
        "token_hash": "a" * 64,
        "expires_at": NOW,
    }
    with engine.begin() as connection:
        connection.execute(insert(refresh_tokens).values(**row))
    for bad in ({"jti": "j1"}, {"jti": "j2", "token_hash": "short"}, {"jti": "j3", "user_id": 0}):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(refresh_tokens).values(**{**row, **bad}))


def test_refresh_token_repository(engine: Any) -> None:
    alice = add_user(engine)
    bob = add_user(engine, "bob@example.com")
    assert alice.id is not None and bob.id is not None
    with PostgresUnitOfWork(database_of(engine)) as uow:
        repo = uow.refresh_tokens
        repo.add(token(alice.id, "a1", "fa"))
        repo.add(token(alice.id, "a2", "fa"))
        repo.add(token(alice.id, "a3", "fb"))
        repo.add(token(bob.id, "b1", "fc"))
        stored = repo.get("a1")
        assert stored is not None and stored.family_id == "fa" and stored.used_at is None
        assert repo.mark_used("a1", NOW) is True
        assert repo.mark_used("a1", NOW) is False
        accounts = uow.accounts  # the session check, in this transaction
        assert accounts.family_revoked("fa") is False
        assert repo.revoke_family("fa", NOW) == 2
        assert accounts.family_revoked("fa") is True and accounts.family_revoked("fb") is False
        assert repo.mark_used("a2", NOW) is False  # revoked
        assert repo.revoke_user(alice.id, NOW) == 1  # only fb's token was left
        assert accounts.family_revoked("fc") is False
        uow.commit()
    with PostgresUnitOfWork(database_of(engine)) as uow:
        used = uow.refresh_tokens.get("a1")
        assert used is not None and used.used_at == NOW and used.revoked_at == NOW


def test_deleting_a_user_deletes_its_refresh_tokens(engine: Any) -> None:
    alice = add_user(engine)
    assert alice.id is not None
    with PostgresUnitOfWork(database_of(engine)) as uow:
        uow.refresh_tokens.add(token(alice.id))
        uow.commit()
    with engine.begin() as connection:
        connection.execute(delete(users))
        assert connection.execute(select(refresh_tokens)).all() == []


def test_signing_key_is_generated_by_the_migration_and_regenerated_once(engine: Any) -> None:
    database = database_of(engine)
    key = signing_key(database.sql())
    assert len(key) >= 32
    assert signing_key(database.sql()) == key
    with engine.begin() as connection:
        connection.execute(delete(app_secrets))

    def first_use() -> bytes:
        return signing_key(database.sql())  # each thread on a connection of its own

    keys = race(first_use, 4)
    assert len(set(keys)) == 1 and keys[0] != key
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM app_secrets")).scalar() == 1


# -- sessions through the real adapters -------------------------------------------------


class Shop:
    def __init__(self, engine: Any, clock: FakeClock) -> None:
        self.uow = uow_factory(engine)
        self.clock = clock
        self.tokens = JwtTokenService(
            b"k" * 32, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=30)
        )

    def log_in(self, store: Any, hasher: Any = None) -> None:
        LogIn(self.uow, hasher or FakePasswordHasher(), self.tokens, self.clock, store)(
            "alice@example.com", PASSWORD
        )

    def refresh(self) -> RefreshSession:
        return RefreshSession(self.uow, self.tokens, self.clock)


def test_concurrent_refreshes_with_one_token_have_exactly_one_winner(engine: Any) -> None:
    RegisterUser(uow_factory(engine), FakePasswordHasher())("alice@example.com", PASSWORD)
    shop = Shop(engine, FakeClock())
    for _round in range(5):
        store = FakeSessionStore()
        shop.log_in(store)
        assert store.session is not None
        refresh_token = store.session.refresh_token

        def refresh(token: str = refresh_token) -> StoredSession:
            return shop.refresh()(token)

        outcomes = race(refresh, 2)
        winners = [o for o in outcomes if not isinstance(o, ShopError)]
        losers = [o for o in outcomes if isinstance(o, NotAuthenticated)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        # the loser saw a reused token: the whole family, the winner's new token too, is gone
        with pytest.raises(NotAuthenticated):
            shop.refresh()(winners[0].refresh_token)


def test_commands_of_one_profile_refresh_one_at_a_time(engine: Any, tmp_path: Path) -> None:
    """Two commands of one profile find an expired access token at once: the file lock
    lets one refresh, the other reads its new tokens, and nobody is logged out."""
    RegisterUser(uow_factory(engine), FakePasswordHasher())("alice@example.com", PASSWORD)
    clock = FakeClock()
    shop = Shop(engine, clock)
    shop.log_in(FileSessionStore(tmp_path, "alice"))
    clock.advance(minutes=16)

    def command() -> object:
        store = FileSessionStore(tmp_path, "alice")
        return Authenticate(shop.tokens, clock, store, shop.refresh())()

    outcomes = race(command, 4)
    assert all(not isinstance(o, ShopError) for o in outcomes), outcomes
    with engine.connect() as connection:
        rows = connection.execute(select(refresh_tokens)).all()
    assert len(rows) == 2  # the login's token and exactly one rotation
    assert all(row.revoked_at is None for row in rows)


def test_login_rehashes_with_the_current_argon2_parameters(engine: Any) -> None:
    old = Argon2PasswordHasher(time_cost=3)
    RegisterUser(uow_factory(engine), old)("alice@example.com", PASSWORD)
    Shop(engine, FakeClock()).log_in(FakeSessionStore(), Argon2PasswordHasher())
    with engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash)).scalar_one()
    assert "$m=19456,t=2,p=1$" in stored


def test_concurrent_registrations_of_one_email_have_exactly_one_winner(engine: Any) -> None:
    register = RegisterUser(uow_factory(engine), FakePasswordHasher())
    outcomes = race(lambda: register("twin@example.com", PASSWORD), 4)
    assert sum(not isinstance(o, ShopError) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, Conflict) for o in outcomes) == 3, outcomes


def test_the_session_check_runs_in_the_unit_of_work_that_acts(engine: Any, tmp_path: Path) -> None:
    """A principal read from a session is checked again by every use case, in its own
    transaction: a deactivation committed after the session was read refuses the write."""
    from shopctl.application.carts import AddToCart
    from shopctl.application.users import DeactivateUser
    from shopctl.domain.products import Product

    RegisterUser(uow_factory(engine), FakePasswordHasher())("alice@example.com", PASSWORD)
    with PostgresUnitOfWork(database_of(engine)) as uow:
        uow.products.add(Product(sku="TEA", name="Tea", price=Decimal("1.00"), stock_on_hand=5))
        admin = uow.users.add(User(email="root@example.com", password_hash="h", role=Role.ADMIN))
        uow.commit()
    clock = FakeClock()
    shop = Shop(engine, clock)
    store = FileSessionStore(tmp_path, "alice")
    shop.log_in(store)
    authenticated = Authenticate(shop.tokens, clock, store, shop.refresh())()
    assert authenticated is not None
    alice = authenticated.principal
    add = AddToCart(uow_factory(engine), "USD")
    assert add(alice, "TEA").items[0].quantity == 1
    assert admin.id is not None
    root = Principal(admin.id, admin.email, Role.ADMIN)
    DeactivateUser(uow_factory(engine), clock)(root, "alice@example.com")
    with pytest.raises(NotAuthenticated, match="deactivated"):
        add(alice, "TEA")
    with PostgresUnitOfWork(database_of(engine)) as uow:
        assert uow.carts.get(alice.user_id).lines[0].quantity == 1  # nothing was written
