"""Who is acting: the principal handed to every use case, and the checks on it."""

from __future__ import annotations

from dataclasses import dataclass

from shopctl.domain.errors import Forbidden, Hint, NotAuthenticated
from shopctl.domain.users import Role

__all__ = ["Principal", "require_admin", "require_user"]


@dataclass(frozen=True)
class Principal:
    """The logged-in shop user on whose behalf a use case runs."""

    user_id: int
    email: str
    role: Role

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
