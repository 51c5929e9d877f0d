"""User and session use cases against in-memory fakes; tokens are real JWTs on a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopctl.application.auth import Principal, authorize
from shopctl.application.ports import TokenType
from shopctl.application.sessions import (
    Authenticate,
    LogIn,
    LogOut,
    RefreshSession,
    fingerprint,
)
from shopctl.application.users import (
    CreateAdmin,
    DeactivateUser,
    ListUsers,
    RegisterUser,
    SetUserRole,
    WhoAmI,
)
from shopctl.domain.errors import (
    Conflict,
    Forbidden,
    Hint,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from shopctl.domain.users import Role
from shopctl.infrastructure.security.tokens import JwtTokenService
from tests.fakes import (
    FakeClock,
    FakePasswordHasher,
    FakeSessionStore,
    FakeUnitOfWork,
)

PASSWORD = "correct-horse-9"


class World:
    """One shop: fakes wired like the composition root wires the real adapters."""

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.hasher = FakePasswordHasher()
        self.clock = FakeClock()
        self.tokens = JwtTokenService(
            b"s" * 32, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=30)
        )
        self.store = FakeSessionStore("alice")

    def register(self, email: str = "alice@example.com") -> None:
        RegisterUser(self.uow, self.hasher)(email, PASSWORD)

    def admin(self, email: str = "admin@example.com") -> Principal:
        view = CreateAdmin(self.uow, self.hasher, self.clock)(email, PASSWORD).user
        return Principal(view.id, view.email, Role.ADMIN)

    def log_in(self, email: str = "alice@example.com", password: str = PASSWORD) -> None:
        LogIn(self.uow, self.hasher, self.tokens, self.clock, self.store)(email, password)

    def refresh(self) -> RefreshSession:
        return RefreshSession(self.uow, self.tokens, self.clock)

    def authenticate(self) -> Authenticate:
        return Authenticate(self.tokens, self.clock, self.store, self.refresh())

    def principal(self) -> Principal:
        authenticated = self.authenticate()()
        assert authenticated is not None
        return authenticated.principal

    def act(self) -> object:
        """What the profile's next command does: act on its session (checked in its unit
        of work)."""
        return WhoAmI(self.uow)(self.principal())


@pytest.fixture
def world() -> World:
    return World()


# -- register and create-admin ----------------------------------------------------------


def test_register_creates_a_customer_with_a_hashed_password(world: World) -> None:
    view = RegisterUser(world.uow, world.hasher)(" Alice@Example.com", PASSWORD)
    assert (view.email, view.role, view.active) == ("alice@example.com", "customer", True)
    stored = world.uow.users.get(view.id)
    assert stored is not None and stored.password_hash == world.hasher.hash(PASSWORD)
    assert world.uow.committed


def test_register_refuses_a_taken_email_in_any_case(world: World) -> None:
    world.register()
    with pytest.raises(Conflict, match="already exists"):
        RegisterUser(world.uow, world.hasher)("ALICE@example.com", PASSWORD)


@pytest.mark.parametrize(("email", "password"), [("nope", PASSWORD), ("a@example.com", "short")])
def test_register_validates_before_anything_else(world: World, email: str, password: str) -> None:
    with pytest.raises(InvalidInput):
        RegisterUser(world.uow, world.hasher)(email, password)
    assert world.uow.users.list() == []


def test_create_admin_creates_an_admin(world: World) -> None:
    result = CreateAdmin(world.uow, world.hasher, world.clock)("root@example.com", PASSWORD)
    assert result.created and result.user.role == "admin"


def test_create_admin_promotes_and_reactivates_an_existing_user(world: World) -> None:
    world.register()
    world.log_in()
    user = world.uow.users.get_by_email("alice@example.com")
    assert user is not None
    user.active = False
    result = CreateAdmin(world.uow, world.hasher, world.clock)("alice@example.com", PASSWORD)
    assert not result.created and result.user.role == "admin" and result.user.active
    # the same password: the sessions stay
    assert not any(t.revoked_at for t in world.uow.refresh_tokens.tokens.values())


def test_create_admin_with_a_new_password_revokes_the_users_sessions(world: World) -> None:
    world.register()
    world.log_in()
    CreateAdmin(world.uow, world.hasher, world.clock)("alice@example.com", "another-pass-1")
    with pytest.raises(NotAuthenticated, match="revoked"):
        world.act()
    world.log_in(password="another-pass-1")
    assert world.principal().role is Role.ADMIN


# -- login ------------------------------------------------------------------------------


def test_login_saves_a_session_with_an_access_and_a_refresh_token(world: World) -> None:
    world.register()
    view = LogIn(world.uow, world.hasher, world.tokens, world.clock, world.store)(
        "ALICE@example.com", PASSWORD
    )
    assert view.profile == "alice" and view.user.email == "alice@example.com"
    assert view.access_expires_at == world.clock.now() + timedelta(minutes=15)
    assert view.refresh_expires_at == world.clock.now() + timedelta(days=30)
    session = world.store.session
    assert session is not None
    access = world.tokens.decode(session.access_token, TokenType.ACCESS, now=world.clock.now())
    refresh = world.tokens.decode(session.refresh_token, TokenType.REFRESH, now=world.clock.now())
    assert access.family_id == refresh.family_id
    stored = world.uow.refresh_tokens.get(refresh.jti)
    assert stored is not None and stored.token_hash == fingerprint(session.refresh_token)
    assert session.refresh_token not in repr(session)


def test_wrong_password_and_unknown_email_fail_alike(world: World) -> None:
    world.register()
    with pytest.raises(NotAuthenticated) as wrong:
        world.log_in(password="wrong-password")
    with pytest.raises(NotAuthenticated) as unknown:
        world.log_in(email="bob@example.com")
    assert wrong.value.message == unknown.value.message == "wrong email or password"
    assert world.hasher.wasted == 1  # the unknown email cost a hash too
    assert world.store.session is None


def test_inactive_users_cannot_log_in(world: World) -> None:
    world.register()
    user = world.uow.users.get_by_email("alice@example.com")
    assert user is not None
    user.active = False
    with pytest.raises(NotAuthenticated, match="deactivated"):
        world.log_in()


def test_login_rehashes_a_hash_with_old_parameters(world: World) -> None:
    world.register()
    world.hasher.version = 2
    world.log_in()
    user = world.uow.users.get_by_email("alice@example.com")
    assert user is not None and user.password_hash == "fake2$" + PASSWORD


def test_logging_in_again_revokes_the_profiles_previous_session(world: World) -> None:
    world.register()
    world.log_in()
    first = world.store.session
    assert first is not None
    world.log_in()
    with pytest.raises(NotAuthenticated, match=r"used twice|revoked"):
        world.refresh()(first.refresh_token)


# -- authenticate and refresh -----------------------------------------------------------


def test_no_session_is_no_principal(world: World) -> None:
    assert world.authenticate()() is None


def test_the_session_is_checked_in_the_unit_of_work_that_acts(world: World) -> None:
    world.register()
    world.log_in()
    principal = world.principal()  # what the session claims, read from no database
    assert principal.email == "alice@example.com" and principal.role is Role.CUSTOMER
    assert principal.family_id is not None
    with pytest.raises(Forbidden):
        ListUsers(world.uow)(principal)
    user = world.uow.users.get_by_email("alice@example.com")
    assert user is not None and user.id is not None
    user.role = Role.ADMIN  # a role change takes effect without logging in again
    assert authorize(world.uow.accounts, principal).role is Role.ADMIN
    assert [u.email for u in ListUsers(world.uow)(principal)] == ["alice@example.com"]
    user.active = False  # so does a deactivation, committed after the session was read
    with pytest.raises(NotAuthenticated, match="deactivated"):
        ListUsers(world.uow)(principal)
    user.active = True
    world.uow.refresh_tokens.revoke_family(principal.family_id, world.clock.now())
    with pytest.raises(NotAuthenticated, match="revoked"):
        WhoAmI(world.uow)(principal)


def test_authorize_refuses_a_user_that_is_gone(world: World) -> None:
    gone = Principal(user_id=99, email="gone@example.com", role=Role.ADMIN)
    with pytest.raises(NotAuthenticated, match="no longer exists"):
        authorize(world.uow.accounts, gone, admin=True)
    with pytest.raises(NotAuthenticated, match="not logged in"):
        authorize(world.uow.accounts, None)


def test_an_expired_access_token_is_refreshed_and_saved(world: World) -> None:
    world.register()
    world.log_in()
    before = world.store.session
    assert before is not None
    world.clock.advance(minutes=16)
    principal = world.principal()
    after = world.store.session
    assert after is not None and principal.email == "alice@example.com"
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert after.access_expires_at == world.clock.now() + timedelta(minutes=15)
    assert world.store.locked == 1
    # not expired: no refresh
    world.principal()
    assert world.store.session is after


def test_refresh_rotates_and_a_replayed_token_revokes_the_family(world: World) -> None:
    world.register()
    world.log_in()
    stolen = world.store.session
    assert stolen is not None
    world.clock.advance(minutes=16)
    world.principal()  # the victim refreshes: the stolen refresh token is now used
    with pytest.raises(NotAuthenticated, match="used twice") as raised:
        world.refresh()(stolen.refresh_token)
    assert raised.value.hint is Hint.LOG_IN
    # the victim's rotated session is logged out too
    with pytest.raises(NotAuthenticated, match="revoked"):
        world.act()
    current = world.store.session
    assert current is not None
    with pytest.raises(NotAuthenticated):
        world.refresh()(current.refresh_token)


def test_refresh_refuses_an_access_token_and_unknown_tokens(world: World) -> None:
    world.register()
    world.log_in()
    session = world.store.session
    assert session is not None
    with pytest.raises(NotAuthenticated, match="type"):
        world.refresh()(session.access_token)
    other = World()
    other.register()
    other.log_in()
    assert other.store.session is not None
    with pytest.raises(NotAuthenticated, match="not known"):
        world.refresh()(other.store.session.refresh_token)


def test_an_expired_refresh_token_needs_a_new_login(world: World) -> None:
    world.register()
    world.log_in()
    world.clock.advance(days=31)
    with pytest.raises(NotAuthenticated, match="expired"):
        world.authenticate()()


def test_inactive_users_cannot_refresh(world: World) -> None:
    world.register()
    world.log_in()
    user = world.uow.users.get_by_email("alice@example.com")
    assert user is not None
    user.active = False
    world.clock.advance(minutes=16)
    with pytest.raises(NotAuthenticated, match="deactivated"):
        world.authenticate()()


def test_a_tampered_session_is_refused(world: World) -> None:
    world.register()
    world.log_in()
    session = world.store.session
    assert session is not None
    from dataclasses import replace

    world.store.session = replace(session, access_token=session.access_token[:-3] + "abc")
    with pytest.raises(NotAuthenticated, match="invalid"):
        world.authenticate()()


# -- logout -----------------------------------------------------------------------------


def test_logout_revokes_the_family_and_forgets_the_session(world: World) -> None:
    world.register()
    world.log_in()
    session = world.store.session
    assert session is not None
    assert LogOut(world.uow, world.tokens, world.clock, world.store)() is True
    assert world.store.session is None
    with pytest.raises(NotAuthenticated, match="revoked"):
        world.refresh()(session.refresh_token)
    assert LogOut(world.uow, world.tokens, world.clock, world.store)() is False


# -- whoami and the admin's commands ----------------------------------------------------


def test_whoami_needs_a_session(world: World) -> None:
    with pytest.raises(NotAuthenticated, match="not logged in"):
        WhoAmI(world.uow)(None)
    world.register()
    world.log_in()
    assert WhoAmI(world.uow)(world.principal()).email == "alice@example.com"


def test_admin_commands_need_an_admin(world: World) -> None:
    world.register()
    world.log_in()
    customer = world.principal()
    for call in (
        lambda p: ListUsers(world.uow)(p),
        lambda p: SetUserRole(world.uow)(p, "alice@example.com", Role.ADMIN),
        lambda p: DeactivateUser(world.uow, world.clock)(p, "alice@example.com"),
    ):
        with pytest.raises(NotAuthenticated):
            call(None)
        with pytest.raises(Forbidden, match="needs an admin"):
            call(customer)


def test_list_users_by_email(world: World) -> None:
    world.register("zoe@example.com")
    admin = world.admin()
    assert [u.email for u in ListUsers(world.uow)(admin)] == [
        "admin@example.com",
        "zoe@example.com",
    ]


def test_set_role(world: World) -> None:
    admin = world.admin()
    world.register()
    assert SetUserRole(world.uow)(admin, "ALICE@example.com", Role.ADMIN).role == "admin"
    assert SetUserRole(world.uow)(admin, "alice@example.com", Role.CUSTOMER).role == "customer"
    with pytest.raises(NotFound, match=r"nobody@example\.com"):
        SetUserRole(world.uow)(admin, "nobody@example.com", Role.ADMIN)
    with pytest.raises(Conflict, match="last active admin"):
        SetUserRole(world.uow)(admin, "admin@example.com", Role.CUSTOMER)


def test_deactivate_revokes_every_session_of_the_user(world: World) -> None:
    admin = world.admin()
    world.register()
    world.log_in()
    view = DeactivateUser(world.uow, world.clock)(admin, "alice@example.com")
    assert view.active is False
    assert all(t.revoked_at is not None for t in world.uow.refresh_tokens.tokens.values())
    with pytest.raises(NotAuthenticated):
        world.act()
    with pytest.raises(NotAuthenticated, match="deactivated"):
        world.log_in()
    with pytest.raises(Conflict, match="last active admin"):
        DeactivateUser(world.uow, world.clock)(admin, "admin@example.com")
