"""User use cases: register, bootstrap an admin, and the admin's user management."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shopctl.application.auth import Principal, authorize, require_user
from shopctl.application.dto import UserView
from shopctl.application.ports import Clock, PasswordHasher
from shopctl.domain.errors import Conflict, NotFound
from shopctl.domain.repositories import UnitOfWork
from shopctl.domain.users import Role, User, normalise_email, validate_password

UnitOfWorkFactory = Callable[[], UnitOfWork]


class RegisterUser:
    """Create a customer account (anyone may register)."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher) -> None:
        self._uow = uow
        self._hasher = hasher

    def __call__(self, email: str, password: str) -> UserView:
        email = normalise_email(email)
        validate_password(password)
        with self._uow() as uow:
            if uow.users.get_by_email(email) is not None:  # before paying for a hash
                raise Conflict(f"a user with email {email} already exists")
            user = uow.users.add(User(email=email, password_hash=self._hasher.hash(password)))
            uow.commit()
            return UserView.of(user)


@dataclass(frozen=True)
class AdminBootstrap:
    user: UserView
    created: bool


class CreateAdmin:
    """The operator's bootstrap (needs the database, not a session): create an admin, or
    promote and reactivate an existing user and set its password. A changed password
    revokes that user's sessions."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    def __call__(self, email: str, password: str) -> AdminBootstrap:
        email = normalise_email(email)
        validate_password(password)
        with self._uow() as uow:
            user = uow.users.get_by_email(email, for_update=True)
            if user is None:
                password_hash = self._hasher.hash(password)
                user = uow.users.add(
                    User(email=email, password_hash=password_hash, role=Role.ADMIN)
                )
                uow.commit()
                return AdminBootstrap(UserView.of(user), created=True)
            same_password, _ = self._hasher.verify(password, user.password_hash)
            user.promote_to_admin(None if same_password else self._hasher.hash(password))
            uow.users.update(user)
            if not same_password:
                assert user.id is not None
                uow.refresh_tokens.revoke_user(user.id, self._clock.now())
            uow.commit()
            return AdminBootstrap(UserView.of(user), created=False)


class WhoAmI:
    """The logged-in user, as stored now."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None) -> UserView:
        require_user(principal)
        with self._uow() as uow:
            actor = authorize(uow.accounts, principal)
            user = uow.users.get(actor.user_id)
            assert user is not None, "authorize() found it"
            return UserView.of(user)


class ListUsers:
    """Every user, ordered by email (admin)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None) -> list[UserView]:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
            return [UserView.of(user) for user in uow.users.list()]


def _find(uow: UnitOfWork, email: str) -> User:
    user = uow.users.get_by_email(normalise_email(email), for_update=True)
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()}")
    return user


class SetUserRole:
    """Make a user an admin or a customer (admin). The last active admin stays one."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, principal: Principal | None, email: str, role: Role) -> UserView:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
            user = _find(uow, email)
            others = uow.users.count_active_admins(excluding=user.id)
            user.change_role(role, other_active_admins=others)
            uow.users.update(user)
            uow.commit()
            return UserView.of(user)


class DeactivateUser:
    """Stop a user from logging in and revoke all of their sessions (admin)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, principal: Principal | None, email: str) -> UserView:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
            user = _find(uow, email)
            others = uow.users.count_active_admins(excluding=user.id)
            user.deactivate(other_active_admins=others)
            uow.users.update(user)
            assert user.id is not None
            uow.refresh_tokens.revoke_user(user.id, self._clock.now())
            uow.commit()
            return UserView.of(user)
