"""Users, their login sessions (refresh tokens) and the JWT signing key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shopctl.domain.errors import Conflict
from shopctl.domain.repositories import (
    AccountReader,
    Checked,
    RefreshTokenRepository,
    UserRepository,
)
from shopctl.domain.sessions import RefreshToken
from shopctl.domain.users import User
from shopctl.infrastructure.db.connect import Sql

USER_ROWS = "SELECT id, email, password_hash, role, active, created_at FROM users"
USER_BY_ID = USER_ROWS + " WHERE id = %(id)s"
USER_BY_EMAIL = USER_ROWS + " WHERE email = %(email)s"
USER_BY_EMAIL_FOR_UPDATE = USER_BY_EMAIL + " FOR UPDATE"
ALL_USERS = USER_ROWS + " ORDER BY email"
# ON CONFLICT instead of catching the unique violation: the transaction stays usable.
ADD_USER = """
INSERT INTO users (email, password_hash, role, active)
VALUES (%(email)s, %(password_hash)s, %(role)s, %(active)s)
ON CONFLICT (email) DO NOTHING
RETURNING id, created_at
"""
# Many new users in one statement (a bulk path: each was validated as a ``User``).
ADD_USERS = """
INSERT INTO users (email, password_hash, role, active)
SELECT * FROM unnest(%(emails)s::text[], %(hashes)s::text[], %(roles)s::text[],
                     %(active)s::boolean[])
RETURNING id, email, created_at
"""
UPDATE_USER = """
UPDATE users SET role = %(role)s, active = %(active)s, password_hash = %(password_hash)s
WHERE id = %(id)s
"""
# Every active admin row is locked, so that two admins demoting each other at the same time
# cannot both see "another admin is left".
LOCK_ACTIVE_ADMINS = "SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id FOR UPDATE"

ADD_REFRESH_TOKEN = """
INSERT INTO refresh_tokens
    (jti, user_id, family_id, token_hash, expires_at, created_at, used_at, revoked_at)
VALUES (%(jti)s, %(user_id)s, %(family_id)s, %(token_hash)s, %(expires_at)s, %(created_at)s,
        %(used_at)s, %(revoked_at)s)
"""
REFRESH_TOKEN_BY_JTI = """
SELECT jti, user_id, family_id, token_hash, expires_at, created_at, used_at, revoked_at
FROM refresh_tokens WHERE jti = %(jti)s
"""
# Conditional update: a concurrent caller waits for our row lock, then re-checks
# ``used_at IS NULL`` against the committed row and updates nothing.
MARK_USED = """
UPDATE refresh_tokens SET used_at = %(at)s
WHERE jti = %(jti)s AND used_at IS NULL AND revoked_at IS NULL
"""
REVOKE_FAMILY = """
UPDATE refresh_tokens SET revoked_at = %(at)s
WHERE family_id = %(family)s AND revoked_at IS NULL
"""
REVOKE_USER = """
UPDATE refresh_tokens SET revoked_at = %(at)s
WHERE user_id = %(user_id)s AND revoked_at IS NULL
"""
FAMILY_REVOKED = (
    "SELECT EXISTS (SELECT FROM refresh_tokens"
    " WHERE family_id = %(family)s AND revoked_at IS NOT NULL)"
)

JWT_KEY_NAME = "jwt_signing_key"
SIGNING_KEY = "SELECT value FROM app_secrets WHERE name = %(name)s"
# The first writer wins; everyone reads the same key.
ADD_SIGNING_KEY = """
INSERT INTO app_secrets (name, value) VALUES (%(name)s, %(value)s)
ON CONFLICT (name) DO NOTHING
"""


def user_from_row(row: Any) -> User:
    return User.restore(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        role=row.role,
        active=row.active,
        created_at=row.created_at,
    )


def refresh_token_from_row(row: Any) -> RefreshToken:
    return RefreshToken(
        jti=row.jti,
        user_id=row.user_id,
        family_id=row.family_id,
        token_hash=row.token_hash,
        expires_at=row.expires_at,
        created_at=row.created_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
    )


def _values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "password_hash": user.password_hash,
        "role": user.role.value,
        "active": user.active,
    }


def add_users(sql: Sql, users: list[User]) -> None:
    """Store new users in one statement; sets ids. A taken email fails the whole statement."""
    rows = sql.rows(
        ADD_USERS,
        {
            "emails": [u.email for u in users],
            "hashes": [u.password_hash for u in users],
            "roles": [u.role.value for u in users],
            "active": [u.active for u in users],
        },
    )
    by_email = {u.email: u for u in users}
    for row in rows:
        user = by_email[row.email]
        user.id, user.created_at = row.id, row.created_at


class PostgresUserRepository(UserRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def add(self, user: User) -> User:
        row = self.sql.first(ADD_USER, _values(user))
        if row is None:
            raise Conflict(f"a user with email {user.email} already exists")
        user.id, user.created_at = row.id, row.created_at
        return user

    def get(self, user_id: int) -> User | None:
        row = self.sql.first(USER_BY_ID, {"id": user_id})
        return None if row is None else user_from_row(row)

    def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        statement = USER_BY_EMAIL_FOR_UPDATE if for_update else USER_BY_EMAIL
        row = self.sql.first(statement, {"email": email.strip().lower()})
        return None if row is None else user_from_row(row)

    def list(self) -> list[User]:
        return [user_from_row(row) for row in self.sql.rows(ALL_USERS)]

    def update(self, user: User) -> None:
        self.sql.run(UPDATE_USER, _values(user))

    def count_active_admins(self, *, excluding: int | None = None) -> int:
        return sum(1 for row in self.sql.rows(LOCK_ACTIVE_ADMINS) if row.id != excluding)


class PostgresAccounts(AccountReader):
    """The session check's reads, on ``sql``'s connection: inside a unit of work, in its
    transaction."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def get_user(self, user_id: int) -> User | None:
        row = self.sql.first(USER_BY_ID, {"id": user_id})
        return None if row is None else user_from_row(row)

    def family_revoked(self, family_id: str) -> bool:
        return bool(self.sql.scalar(FAMILY_REVOKED, {"family": family_id}))

    def check_ahead(
        self,
        user_id: int,
        family_id: str | None,
        check: Callable[[User | None, bool], Checked],
    ) -> Callable[[], Checked]:
        reads: list[tuple[str, Any]] = [(USER_BY_ID, {"id": user_id})]
        if family_id is not None:
            reads.append((FAMILY_REVOKED, {"family": family_id}))

        def checked(users: list[Any], revoked: list[Any] | None = None) -> Checked:
            user = user_from_row(users[0]) if users else None
            return check(user, bool(revoked and revoked[0][0]))

        return self.sql.ahead(reads, checked).value


class PostgresRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def add(self, token: RefreshToken) -> None:
        self.sql.run(
            ADD_REFRESH_TOKEN,
            {
                "jti": token.jti,
                "user_id": token.user_id,
                "family_id": token.family_id,
                "token_hash": token.token_hash,
                "expires_at": token.expires_at,
                "created_at": token.created_at,
                "used_at": token.used_at,
                "revoked_at": token.revoked_at,
            },
        )

    def get(self, jti: str) -> RefreshToken | None:
        row = self.sql.first(REFRESH_TOKEN_BY_JTI, {"jti": jti})
        return None if row is None else refresh_token_from_row(row)

    def mark_used(self, jti: str, at: datetime) -> bool:
        return self.sql.run(MARK_USED, {"jti": jti, "at": at}) == 1

    def revoke_family(self, family_id: str, at: datetime) -> int:
        return self.sql.run(REVOKE_FAMILY, {"family": family_id, "at": at})

    def revoke_user(self, user_id: int, at: datetime) -> int:
        return self.sql.run(REVOKE_USER, {"user_id": user_id, "at": at})


def signing_key(sql: Sql, *, generate_bytes: int = 64) -> bytes:
    """The database's JWT signing key: generated by the users migration, or here on first
    use if that row was removed."""
    import secrets

    key = sql.scalar(SIGNING_KEY, {"name": JWT_KEY_NAME})
    if key is None:
        value = secrets.token_bytes(generate_bytes)
        sql.run(ADD_SIGNING_KEY, {"name": JWT_KEY_NAME, "value": value})
        key = sql.scalar(SIGNING_KEY, {"name": JWT_KEY_NAME})
    return bytes(key)
