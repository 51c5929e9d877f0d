"""Sessions: log in, refresh with rotation, authenticate each command, log out."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shopctl.application.auth import Principal
from shopctl.application.dto import UserView
from shopctl.application.ports import (
    Clock,
    PasswordHasher,
    SessionStore,
    StoredSession,
    TokenClaims,
    TokenService,
    TokenType,
)
from shopctl.domain.errors import Hint, NotAuthenticated, ShopError
from shopctl.domain.repositories import UnitOfWork
from shopctl.domain.sessions import RefreshToken
from shopctl.domain.users import Role, User, normalise_email, validate_password

UnitOfWorkFactory = Callable[[], UnitOfWork]

WRONG_CREDENTIALS = "wrong email or password"


def fingerprint(token: str) -> str:
    """What the database keeps of a refresh token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    uow: UnitOfWork, tokens: TokenService, user: User, family_id: str, now: datetime
) -> StoredSession:
    """Issue an access + refresh token pair and record the refresh token's hash."""
    assert user.id is not None
    refresh = tokens.issue(TokenType.REFRESH, user_id=user.id, family_id=family_id, now=now)
    access = tokens.issue(TokenType.ACCESS, user_id=user.id, family_id=family_id, now=now)
    uow.refresh_tokens.add(
        RefreshToken(
            jti=refresh.jti,
            user_id=user.id,
            family_id=family_id,
            token_hash=fingerprint(refresh.token),
            expires_at=refresh.expires_at,
            created_at=now,
        )
    )
    return StoredSession(
        user_id=user.id,
        email=user.email,
        role=user.role.value,
        access_token=access.token,
        access_expires_at=access.expires_at,
        refresh_token=refresh.token,
        refresh_expires_at=refresh.expires_at,
    )


@dataclass(frozen=True)
class SessionView:
    """A session as it may be shown: no tokens."""

    profile: str
    user: UserView
    access_expires_at: datetime
    refresh_expires_at: datetime


class LogIn:
    """Check email and password, then start a new session for the profile.

    Unknown email and wrong password are the same error and cost the same time.
    A hash made with outdated parameters is replaced. The profile's previous session,
    if any, is revoked.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        tokens: TokenService,
        clock: Clock,
        sessions: SessionStore,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._sessions = sessions

    def __call__(self, email: str, password: str) -> SessionView:
        email = normalise_email(email)
        validate_password(password)
        previous_family = self._previous_family()
        with self._uow() as uow:
            user = uow.users.get_by_email(email)
            if user is None:
                self._hasher.waste_time(password)
                raise NotAuthenticated(WRONG_CREDENTIALS)
            matches, new_hash = self._hasher.verify(password, user.password_hash)
            if not matches:
                raise NotAuthenticated(WRONG_CREDENTIALS)
            user.ensure_can_log_in()
            if new_hash is not None:
                user.password_hash = new_hash
                uow.users.update(user)
            now = self._clock.now()
            if previous_family is not None:
                uow.refresh_tokens.revoke_family(previous_family, now)
            session = start_session(uow, self._tokens, user, uuid.uuid4().hex, now)
            uow.commit()
            view = UserView.of(user)
        self._sessions.save(session)
        return SessionView(
            self._sessions.profile, view, session.access_expires_at, session.refresh_expires_at
        )

    def _previous_family(self) -> str | None:
        try:
            previous = self._sessions.load()
            if previous is None:
                return None
            claims = self._tokens.decode(
                previous.refresh_token,
                TokenType.REFRESH,
                now=self._clock.now(),
                allow_expired=True,
            )
        except ShopError:  # a damaged or foreign session: nothing of ours to revoke
            return None
        return claims.family_id


class RefreshSession:
    """Trade a refresh token for a new token pair. Every use rotates the refresh token;
    presenting one that was already used revokes its whole family (thief and victim both
    have to log in again). Of two concurrent refreshes with one token, one wins."""

    def __init__(self, uow: UnitOfWorkFactory, tokens: TokenService, clock: Clock) -> None:
        self._uow = uow
        self._tokens = tokens
        self._clock = clock

    def __call__(self, refresh_token: str) -> StoredSession:
        now = self._clock.now()
        claims = self._tokens.decode(refresh_token, TokenType.REFRESH, now=now)
        with self._uow() as uow:
            stored = uow.refresh_tokens.get(claims.jti)
            if (
                stored is None
                or stored.token_hash != fingerprint(refresh_token)
                or stored.user_id != claims.user_id
            ):
                raise NotAuthenticated("the session is not known here", hint=Hint.LOG_IN)
            stored.ensure_usable(now)
            if not uow.refresh_tokens.mark_used(stored.jti, now):
                uow.refresh_tokens.revoke_family(stored.family_id, now)
                uow.commit()
                raise NotAuthenticated(
                    "this session's refresh token was used twice, so the session was revoked",
                    hint=Hint.LOG_IN,
                )
            user = uow.users.get(stored.user_id)
            if user is None:
                raise NotAuthenticated("the user no longer exists", hint=Hint.LOG_IN)
            user.ensure_can_log_in()
            session = start_session(uow, self._tokens, user, stored.family_id, now)
            uow.commit()
            return session


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    session: StoredSession
    profile: str


class Authenticate:
    """Who acts in this profile: the stored session, refreshed when its access token has
    expired (the new tokens are saved). None without a session. The principal is what the
    session claims; every use case checks it against the database inside the unit of work
    that acts (``authorize``), so logout, revocation, deactivation and role changes take
    effect at once."""

    def __init__(
        self,
        tokens: TokenService,
        clock: Clock,
        sessions: SessionStore,
        refresh: RefreshSession,
    ) -> None:
        self._tokens = tokens
        self._clock = clock
        self._sessions = sessions
        self._refresh = refresh

    def __call__(self) -> Authenticated | None:
        session = self._sessions.load()
        if session is None:
            return None
        claims = self._access_claims(session)
        if claims.expires_at <= self._clock.now():
            session, claims = self._refreshed()
        principal = Principal(
            user_id=claims.user_id,
            email=session.email,
            # only a claim: every use case takes the role as stored (``authorize``)
            role=Role.ADMIN if session.role == Role.ADMIN.value else Role.CUSTOMER,
            family_id=claims.family_id,
        )
        return Authenticated(principal, session, self._sessions.profile)

    def _access_claims(self, session: StoredSession) -> TokenClaims:
        return self._tokens.decode(
            session.access_token, TokenType.ACCESS, now=self._clock.now(), allow_expired=True
        )

    def _refreshed(self) -> tuple[StoredSession, TokenClaims]:
        # Commands of one profile running side by side refresh one at a time: the second
        # finds the first one's fresh tokens instead of replaying a rotated refresh token.
        with self._sessions.exclusive():
            session = self._sessions.load()
            if session is None:
                raise NotAuthenticated("not logged in", hint=Hint.LOG_IN)
            claims = self._access_claims(session)
            if claims.expires_at > self._clock.now():
                return session, claims
            session = self._refresh(session.refresh_token)
            self._sessions.save(session)
            return session, self._access_claims(session)


class LogOut:
    """Revoke the profile's session (its whole refresh-token family) and forget it locally."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        tokens: TokenService,
        clock: Clock,
        sessions: SessionStore,
    ) -> None:
        self._uow = uow
        self._tokens = tokens
        self._clock = clock
        self._sessions = sessions

    def __call__(self) -> bool:
        """False when the profile had no session."""
        try:
            session = self._sessions.load()
        except NotAuthenticated:  # damaged file: still remove it
            return self._sessions.clear()
        if session is None:
            return False
        now = self._clock.now()
        try:
            claims = self._tokens.decode(
                session.refresh_token, TokenType.REFRESH, now=now, allow_expired=True
            )
        except NotAuthenticated:
            claims = None
        if claims is not None:
            with self._uow() as uow:
                uow.refresh_tokens.revoke_family(claims.family_id, now)
                uow.commit()
        self._sessions.clear()
        return True
