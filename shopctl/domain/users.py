"""Users and roles: who may log in, and with which rights."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shopctl.domain.errors import Conflict, InvalidInput, NotAuthenticated
from shopctl.domain.text import storable

EMAIL_MAX = 254  # RFC 5321: the longest address that can be delivered
# Deliberately loose: one @, no spaces, a dot in the domain. Real validation is a mail.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
PASSWORD_MIN = 8
PASSWORD_MAX = 256


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}: use admin or customer") from None


def normalise_email(value: str) -> str:
    """Trim and lower-case an address, then check its shape."""
    email = storable(value, "email").strip().lower()
    if len(email) > EMAIL_MAX or not EMAIL_PATTERN.fullmatch(email):
        raise InvalidInput(f"invalid email address {value!r}")
    return email


def validate_password(value: str) -> str:
    storable(value, "password")
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInput(
            f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters, got {len(value)}"
        )
    return value


@dataclass(eq=False)
class User:
    """A shop user. The password is only ever held as a hash."""

    email: str
    password_hash: str
    role: Role = Role.CUSTOMER
    active: bool = True
    id: int | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        self.email = normalise_email(self.email)
        self.role = Role(self.role)
        if not self.password_hash:
            raise InvalidInput("a user needs a password hash")

    @classmethod
    def restore(
        cls,
        *,
        id: int,
        email: str,
        password_hash: str,
        role: str,
        active: bool,
        created_at: datetime,
    ) -> User:
        """A user as a repository stored it. The rules above ran when it was written, and the
        table's constraints hold them since (lower case, one @ and no spaces, a known role, a
        hash): reading it back does not run them again. Every unit of work of a purchase reads
        its user back (the session check), four per flow."""
        user = cls.__new__(cls)
        user.__dict__.update(
            email=email,
            password_hash=password_hash,
            role=Role(role),
            active=active,
            id=id,
            created_at=created_at,
        )
        return user

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def change_role(self, role: Role, *, other_active_admins: int) -> None:
        """Change the role; the last active admin cannot give theirs up."""
        if self.is_admin and self.active and role is not Role.ADMIN:
            self._ensure_not_last_admin(other_active_admins, "demote")
        self.role = role

    def deactivate(self, *, other_active_admins: int) -> None:
        """Stop this user from logging in; the last active admin cannot be deactivated."""
        if self.is_admin and self.active:
            self._ensure_not_last_admin(other_active_admins, "deactivate")
        self.active = False

    def promote_to_admin(self, password_hash: str | None = None) -> None:
        """Operator bootstrap: make this user an active admin, with a new password if given."""
        self.role = Role.ADMIN
        self.active = True
        if password_hash is not None:
            self.password_hash = password_hash

    def ensure_can_log_in(self) -> None:
        if not self.active:
            raise NotAuthenticated(f"{self.email} is deactivated", hint="ask an admin")

    def _ensure_not_last_admin(self, other_active_admins: int, action: str) -> None:
        if other_active_admins < 1:
            raise Conflict(f"cannot {action} {self.email}: it is the last active admin")
