"""User and refresh-token repositories: explicit row ↔ entity conversion over Core."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from shopctl.domain.errors import Conflict
from shopctl.domain.repositories import RefreshTokenRepository, UserRepository
from shopctl.domain.sessions import RefreshToken
from shopctl.domain.users import Role, User
from shopctl.infrastructure.database.engine import UNIQUE_VIOLATION
from shopctl.infrastructure.database.reads import JWT_KEY_NAME, user_from_row
from shopctl.infrastructure.database.tables import app_secrets, refresh_tokens, users

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row


def refresh_token_from_row(row: Row[Any]) -> RefreshToken:
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


class SqlUserRepository(UserRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, user: User) -> User:
        from sqlalchemy.exc import IntegrityError

        values = {
            "email": user.email,
            "password_hash": user.password_hash,
            "role": user.role.value,
            "active": user.active,
        }
        # A savepoint keeps the transaction usable when the email is taken.
        try:
            with self.connection.begin_nested():
                row = self.connection.execute(
                    insert(users).values(**values).returning(users.c.id, users.c.created_at)
                ).one()
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise Conflict(f"a user with email {user.email} already exists") from None
            raise
        user.id, user.created_at = row.id, row.created_at
        return user

    def get(self, user_id: int) -> User | None:
        row = self.connection.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else user_from_row(row)

    def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        statement = select(users).where(users.c.email == email.strip().lower())
        if for_update:
            statement = statement.with_for_update()
        row = self.connection.execute(statement).first()
        return None if row is None else user_from_row(row)

    def list(self) -> list[User]:
        rows = self.connection.execute(select(users).order_by(users.c.email))
        return [user_from_row(row) for row in rows]

    def update(self, user: User) -> None:
        self.connection.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(role=user.role.value, active=user.active, password_hash=user.password_hash)
        )

    def count_active_admins(self, *, excluding: int | None = None) -> int:
        # Lock every active admin row, so that two admins demoting each other at the same
        # time cannot both see "another admin is left".
        statement = (
            select(users.c.id)
            .where(users.c.role == Role.ADMIN.value, users.c.active)
            .order_by(users.c.id)
            .with_for_update()
        )
        ids = self.connection.execute(statement).scalars().all()
        return sum(1 for user_id in ids if user_id != excluding)


class SqlRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, token: RefreshToken) -> None:
        self.connection.execute(
            insert(refresh_tokens).values(
                jti=token.jti,
                user_id=token.user_id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                expires_at=token.expires_at,
                created_at=token.created_at,
                used_at=token.used_at,
                revoked_at=token.revoked_at,
            )
        )

    def get(self, jti: str) -> RefreshToken | None:
        row = self.connection.execute(
            select(refresh_tokens).where(refresh_tokens.c.jti == jti)
        ).first()
        return None if row is None else refresh_token_from_row(row)

    def mark_used(self, jti: str, at: datetime) -> bool:
        # Conditional update: a concurrent caller waits for our row lock, then re-checks
        # ``used_at IS NULL`` against the committed row and updates nothing.
        result = self.connection.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.jti == jti,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(used_at=at)
        )
        return result.rowcount == 1

    def revoke_family(self, family_id: str, at: datetime) -> int:
        result = self.connection.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount

    def revoke_user(self, user_id: int, at: datetime) -> int:
        result = self.connection.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount

    def family_revoked(self, family_id: str) -> bool:
        found = self.connection.execute(
            select(func.count())
            .select_from(refresh_tokens)
            .where(
                refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_not(None)
            )
        ).scalar_one()
        return found > 0


def signing_key(connection: Connection, *, generate_bytes: int = 64) -> bytes:
    """The database's JWT signing key: generated by migration 0002, or here on first use if
    that row was removed (the first writer wins; everyone reads the same key)."""
    import secrets

    from sqlalchemy.dialects.postgresql import insert as pg_insert

    query = select(app_secrets.c.value).where(app_secrets.c.name == JWT_KEY_NAME)
    key = connection.execute(query).scalar()
    if key is None:
        connection.execute(
            pg_insert(app_secrets)
            .values(name=JWT_KEY_NAME, value=secrets.token_bytes(generate_bytes))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        key = connection.execute(query).scalar_one()
    return bytes(key)
