"""JWT access and refresh tokens (PyJWT, HS256), timed by the injected clock."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shopctl.application.ports import IssuedToken, TokenClaims, TokenService, TokenType
from shopctl.domain.errors import Hint, InvalidInput, NotAuthenticated

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "typ"]
# Tolerated clock difference between machines sharing one database, for iat / nbf.
LEEWAY = timedelta(seconds=30)


def check_key(key: bytes, *, source: str = "the JWT signing key") -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInput(
            f"{source} is {len(key)} bytes long; HS256 needs at least {MIN_KEY_BYTES} bytes"
        )
    return key


def _invalid(reason: str) -> NotAuthenticated:
    return NotAuthenticated(reason, hint=Hint.LOG_IN)


class JwtTokenService(TokenService):
    """``key`` may be a callable, so that the key is only looked up when a token is used."""

    def __init__(
        self,
        key: bytes | Callable[[], bytes],
        *,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        self._key_source = key
        self._key: bytes | None = None
        self._ttl = {TokenType.ACCESS: access_ttl, TokenType.REFRESH: refresh_ttl}

    @property
    def key(self) -> bytes:
        if self._key is None:
            source = self._key_source
            self._key = check_key(source() if callable(source) else source)
        return self._key

    def issue(self, type: TokenType, *, user_id: int, family_id: str, now: datetime) -> IssuedToken:
        import jwt

        issued_at = math.floor(now.timestamp())
        expires_at = math.ceil((now + self._ttl[type]).timestamp())
        jti = uuid.uuid4().hex
        payload = {
            "sub": str(user_id),
            "iat": issued_at,
            "exp": expires_at,
            "jti": jti,
            "typ": type.value,
            "fam": family_id,
        }
        token = jwt.encode(payload, self.key, algorithm=ALGORITHM)
        return IssuedToken(token, jti, datetime.fromtimestamp(expires_at, UTC))

    def decode(
        self, token: str, expected: TokenType, *, now: datetime, allow_expired: bool = False
    ) -> TokenClaims:
        import jwt

        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],  # pinned: never trust the token's own "alg"
                options={
                    "require": REQUIRED_CLAIMS,
                    # Times are checked below against the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError:
            raise _invalid("the session token is invalid") from None
        claims = self._claims(payload)
        if claims.type is not expected:
            raise _invalid(f"the token is of type {claims.type.value!r}, not {expected.value!r}")
        if (
            claims.issued_at > now + LEEWAY
            or _number(payload.get("nbf", 0)) > (now + LEEWAY).timestamp()
        ):
            raise _invalid("the session token is not valid yet")
        if claims.expires_at <= now and not allow_expired:
            raise _invalid("the session has expired")
        return claims

    @staticmethod
    def _claims(payload: dict[str, Any]) -> TokenClaims:
        sub, jti, typ, family = (payload.get(k) for k in ("sub", "jti", "typ", "fam"))
        if not (isinstance(sub, str) and sub.isdigit()):
            raise _invalid("the session token names no user")
        if not (isinstance(jti, str) and jti and isinstance(family, str) and family):
            raise _invalid("the session token is incomplete")
        try:
            token_type = TokenType(str(typ))
        except ValueError:
            raise _invalid("the session token has an unknown type") from None
        return TokenClaims(
            user_id=int(sub),
            jti=jti,
            family_id=family,
            type=token_type,
            issued_at=datetime.fromtimestamp(_number(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(_number(payload["exp"]), UTC),
        )


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid("the session token has a malformed time")
    return float(value)
