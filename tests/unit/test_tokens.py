"""JWT tokens: HS256 pinned, required claims, typ checked, times from the injected clock."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shopctl.application.ports import TokenType
from shopctl.domain.errors import Hint, InvalidInput, NotAuthenticated
from shopctl.infrastructure.security.tokens import JwtTokenService
from tests.fakes import FakeClock

KEY = b"k" * 32
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def tokens() -> JwtTokenService:
    return JwtTokenService(KEY, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=30))


def raw(**claims: object) -> str:
    payload = {
        "sub": "7",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 60,
        "jti": "j1",
        "typ": "access",
        "fam": "f1",
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, KEY, "HS256")


def test_round_trip(tokens: JwtTokenService) -> None:
    issued = tokens.issue(TokenType.ACCESS, user_id=7, family_id="fam", now=NOW)
    assert issued.expires_at == NOW + timedelta(minutes=15)
    claims = tokens.decode(issued.token, TokenType.ACCESS, now=NOW)
    assert (claims.user_id, claims.family_id, claims.jti) == (7, "fam", issued.jti)
    assert claims.type is TokenType.ACCESS
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "HS256"
    payload = jwt.decode(issued.token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert set(payload) >= {"sub", "exp", "iat", "jti", "typ"}


def test_each_token_has_its_own_jti(tokens: JwtTokenService) -> None:
    a = tokens.issue(TokenType.REFRESH, user_id=1, family_id="f", now=NOW)
    b = tokens.issue(TokenType.REFRESH, user_id=1, family_id="f", now=NOW)
    assert a.jti != b.jti and a.token != b.token


def test_expiry_follows_the_injected_clock(tokens: JwtTokenService) -> None:
    clock = FakeClock(NOW)
    issued = tokens.issue(TokenType.ACCESS, user_id=1, family_id="f", now=clock.now())
    clock.advance(minutes=14, seconds=59)
    tokens.decode(issued.token, TokenType.ACCESS, now=clock.now())
    clock.advance(seconds=1)
    with pytest.raises(NotAuthenticated, match="expired") as raised:
        tokens.decode(issued.token, TokenType.ACCESS, now=clock.now())
    assert raised.value.hint is Hint.LOG_IN
    expired = tokens.decode(issued.token, TokenType.ACCESS, now=clock.now(), allow_expired=True)
    assert expired.expires_at == clock.now()


def test_wrong_type_is_refused(tokens: JwtTokenService) -> None:
    refresh = tokens.issue(TokenType.REFRESH, user_id=1, family_id="f", now=NOW)
    access = tokens.issue(TokenType.ACCESS, user_id=1, family_id="f", now=NOW)
    with pytest.raises(NotAuthenticated, match="type 'refresh', not 'access'"):
        tokens.decode(refresh.token, TokenType.ACCESS, now=NOW)
    with pytest.raises(NotAuthenticated, match="type 'access', not 'refresh'"):
        tokens.decode(access.token, TokenType.REFRESH, now=NOW)
    with pytest.raises(NotAuthenticated, match="unknown type"):
        tokens.decode(raw(typ="id"), TokenType.ACCESS, now=NOW)


def test_tampered_signature_and_payload_are_refused(tokens: JwtTokenService) -> None:
    token = tokens.issue(TokenType.ACCESS, user_id=1, family_id="f", now=NOW).token
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    forged = jwt.encode({"sub": "2"}, KEY, "HS256").split(".")[1]
    for bad in (f"{header}.{payload}.{flipped}", f"{header}.{forged}.{signature}", "garbage"):
        with pytest.raises(NotAuthenticated, match="invalid"):
            tokens.decode(bad, TokenType.ACCESS, now=NOW)


def test_a_token_signed_with_another_key_is_refused(tokens: JwtTokenService) -> None:
    other = JwtTokenService(b"o" * 32, access_ttl=timedelta(minutes=1), refresh_ttl=timedelta(1))
    token = other.issue(TokenType.ACCESS, user_id=1, family_id="f", now=NOW).token
    with pytest.raises(NotAuthenticated, match="invalid"):
        tokens.decode(token, TokenType.ACCESS, now=NOW)


def test_alg_none_is_refused(tokens: JwtTokenService) -> None:
    unsigned = jwt.encode(
        {"sub": "1", "iat": 0, "exp": 2**40, "jti": "j", "typ": "access", "fam": "f"},
        "",  # "none" signs with no key (PyJWT takes "" for it)
        algorithm="none",
    )
    with pytest.raises(NotAuthenticated, match="invalid"):
        tokens.decode(unsigned, TokenType.ACCESS, now=NOW)


def test_hs512_is_refused_even_with_the_right_key(tokens: JwtTokenService) -> None:
    payload = jwt.decode(raw(), KEY, algorithms=["HS256"], options={"verify_exp": False})
    long_key = KEY * 2
    service = JwtTokenService(long_key, access_ttl=timedelta(1), refresh_ttl=timedelta(1))
    service.decode(jwt.encode(payload, long_key, "HS256"), TokenType.ACCESS, now=NOW)
    with pytest.raises(NotAuthenticated, match="invalid"):
        service.decode(jwt.encode(payload, long_key, "HS512"), TokenType.ACCESS, now=NOW)


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "jti", "typ"])
def test_missing_required_claims_are_refused(tokens: JwtTokenService, missing: str) -> None:
    with pytest.raises(NotAuthenticated):
        tokens.decode(raw(**{missing: None}), TokenType.ACCESS, now=NOW)


@pytest.mark.parametrize(
    "claims", [{"sub": "x"}, {"sub": 7}, {"fam": None}, {"exp": "soon"}, {"jti": ""}]
)
def test_malformed_claims_are_refused(tokens: JwtTokenService, claims: dict[str, object]) -> None:
    with pytest.raises(NotAuthenticated):
        tokens.decode(raw(**claims), TokenType.ACCESS, now=NOW)


def test_not_yet_valid_tokens_are_refused(tokens: JwtTokenService) -> None:
    future = int(NOW.timestamp()) + 3600
    with pytest.raises(NotAuthenticated, match="not valid yet"):
        tokens.decode(raw(iat=future, exp=future + 60), TokenType.ACCESS, now=NOW)
    with pytest.raises(NotAuthenticated, match="not valid yet"):
        tokens.decode(raw(nbf=future), TokenType.ACCESS, now=NOW)
    # a little clock skew between machines is tolerated
    tokens.decode(raw(iat=int(NOW.timestamp()) + 5), TokenType.ACCESS, now=NOW)


@pytest.mark.parametrize("key", [b"", b"short", b"k" * 31])
def test_keys_shorter_than_32_bytes_are_refused(key: bytes) -> None:
    service = JwtTokenService(key, access_ttl=timedelta(1), refresh_ttl=timedelta(1))
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        service.issue(TokenType.ACCESS, user_id=1, family_id="f", now=NOW)
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        service.decode(raw(), TokenType.ACCESS, now=NOW)


def test_the_key_is_looked_up_lazily_once() -> None:
    calls = []

    def key() -> bytes:
        calls.append(1)
        return KEY

    service = JwtTokenService(key, access_ttl=timedelta(1), refresh_ttl=timedelta(1))
    assert calls == []
    token = service.issue(TokenType.ACCESS, user_id=1, family_id="f", now=NOW).token
    service.decode(token, TokenType.ACCESS, now=NOW)
    assert calls == [1]
