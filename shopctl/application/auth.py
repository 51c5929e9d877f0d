"""Who is acting: the principal handed to every use case, and the checks on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopctl.domain.errors import Forbidden, Hint, NotAuthenticated
from shopctl.domain.users import Role

if TYPE_CHECKING:
    from shopctl.domain.repositories import AccountReader
    from shopctl.domain.users import User

__all__ = ["Principal", "authorize", "authorizing", "require_admin", "require_user"]


@dataclass(frozen=True)
class Principal:
    """The logged-in shop user on whose behalf a use case runs."""

    user_id: int
    email: str
    role: Role
    family_id: str | None = None  # its login; None for a user a driver acts for (simulate)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def require_user(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthenticated("not logged in", hint=Hint.LOG_IN)
    return principal


def require_admin(principal: Principal | None) -> Principal:
    user = require_user(principal)
    if not user.is_admin:
        raise Forbidden(f"{user.email} is a {user.role.value}; this needs an admin")
    return user


def authorize(
    accounts: AccountReader, principal: Principal | None, *, admin: bool = False
) -> Principal:
    """Who acts, as stored now, checked in the unit of work that acts: the user exists and is
    active, its login was not revoked, and (``admin``) it is an admin now."""
    return authorizing(accounts, principal, admin=admin)()


def authorizing(
    accounts: AccountReader, principal: Principal | None, *, admin: bool = False
) -> Callable[[], Principal]:
    """``authorize``'s check, with its reads sent along with the unit of work's next statement:
    the check runs as soon as they arrive, before that statement's outcome is used, so a
    refused principal gets the same error and nothing it did commits. Call the result for
    the principal as stored."""
    claimed = require_user(principal)

    def check(user: User | None, revoked: bool) -> Principal:
        if user is None or user.id is None:
            raise NotAuthenticated("the logged-in user no longer exists", hint=Hint.LOG_IN)
        user.ensure_can_log_in()
        if revoked:
            raise NotAuthenticated("the session was revoked", hint=Hint.LOG_IN)
        current = Principal(user.id, user.email, user.role, claimed.family_id)
        return require_admin(current) if admin else current

    return accounts.check_ahead(claimed.user_id, claimed.family_id, check)
