"""Ports: what the application needs from the outside world, as abstract classes."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class PasswordHasher(abc.ABC):
    """Slow, salted password hashing. Only register, login and create-admin call it."""

    @abc.abstractmethod
    def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """(matches, new hash) — a new hash when ``password_hash`` uses outdated parameters."""

    @abc.abstractmethod
    def waste_time(self, password: str) -> None:
        """Cost as much as a failed ``verify``, so unknown emails cannot be told apart."""


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    jti: str
    family_id: str
    type: TokenType
    issued_at: datetime
    expires_at: datetime


class TokenService(abc.ABC):
    """Signed, expiring tokens. Decoding refuses anything not valid at ``now``."""

    @abc.abstractmethod
    def issue(
        self, type: TokenType, *, user_id: int, family_id: str, now: datetime
    ) -> IssuedToken: ...

    @abc.abstractmethod
    def decode(
        self, token: str, expected: TokenType, *, now: datetime, allow_expired: bool = False
    ) -> TokenClaims:
        """The claims of a valid token of type ``expected``; else ``NotAuthenticated``.

        ``allow_expired`` still checks signature, type and claims (to find an expired access
        token's family when refreshing or logging out).
        """


@dataclass(frozen=True)
class StoredSession:
    """What ``users login`` keeps for a profile. Holds tokens: never print it."""

    user_id: int
    email: str
    role: str
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime

    def __repr__(self) -> str:  # keep tokens out of tracebacks and logs
        return f"StoredSession(user_id={self.user_id}, email={self.email!r})"


class SessionStore(abc.ABC):
    """The local session of one profile."""

    @property
    @abc.abstractmethod
    def profile(self) -> str: ...

    @abc.abstractmethod
    def load(self) -> StoredSession | None:
        """The saved session, or None when there is none."""

    @abc.abstractmethod
    def save(self, session: StoredSession) -> None: ...

    @abc.abstractmethod
    def clear(self) -> bool:
        """Remove the saved session; False when there was none."""

    @abc.abstractmethod
    def exclusive(self) -> AbstractContextManager[None]:
        """Hold off other processes of the same profile (e.g. while refreshing)."""


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    FAILED = "failed"  # transient (e.g. processing_error): a new attempt may succeed


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    reference: str
    decline_code: str | None = None


@dataclass(frozen=True)
class RefundResult:
    reference: str
    amount: Decimal


class PaymentGateway(abc.ABC):
    """A payment provider. Both calls are idempotent: the same key replays the stored result,
    and a key reused with different parameters raises ``Conflict``."""

    @abc.abstractmethod
    def charge(
        self, amount: Decimal, currency: str, card: str, idempotency_key: str
    ) -> ChargeResult: ...

    @abc.abstractmethod
    def refund(self, charge_ref: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """Give back ``amount`` of a succeeded charge (never more than was captured)."""


ReadAhead = Callable[[Iterator[object]], AbstractContextManager[Iterator[object]]]
"""Iterates a producer, possibly ahead of its consumer; leaving the block stops it. The
composition root picks one (reading a file while the database works, say)."""


def in_step(items: Iterator[object]) -> AbstractContextManager[Iterator[object]]:
    """The ``ReadAhead`` that reads nothing ahead."""
    return nullcontext(items)
