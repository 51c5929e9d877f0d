"""Login sessions as the server sees them: refresh tokens, rotated on every use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopctl.domain.errors import Hint, NotAuthenticated


@dataclass(eq=False)
class RefreshToken:
    """One issued refresh token, stored only as a hash.

    All tokens rotated out of one login share a ``family_id``; presenting a token a
    second time means it was copied, so the whole family is revoked.
    """

    jti: str
    user_id: int
    family_id: str
    token_hash: str
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def ensure_usable(self, now: datetime) -> None:
        """Refuse a revoked or expired token. Reuse is detected by the caller's conditional
        update, so that two concurrent uses cannot both pass."""
        if self.revoked_at is not None:
            raise NotAuthenticated("the session was revoked", hint=Hint.LOG_IN)
        if self.expires_at <= now:
            raise NotAuthenticated("the session has expired", hint=Hint.LOG_IN)
