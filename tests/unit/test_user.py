"""The User entity's rules: email, password length, roles, the last admin."""

import dataclasses
from datetime import UTC, datetime

import pytest

from shopctl.domain.errors import Conflict, Hint, InvalidInput, NotAuthenticated
from shopctl.domain.users import Role, User, normalise_email, parse_role, validate_password


def make(**changes: object) -> User:
    fields: dict[str, object] = {"email": "alice@example.com", "password_hash": "h"}
    fields.update(changes)
    return User(**fields)  # type: ignore[arg-type]


def test_email_is_trimmed_and_lower_cased() -> None:
    assert make(email="  Alice@Example.COM ").email == "alice@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "a b@example.com",
        "a@b@example.com",
        "a@localhost",
        "a@example.",
        "x" * 250 + "@example.com",
    ],
)
def test_malformed_emails_are_refused(email: str) -> None:
    with pytest.raises(InvalidInput, match="invalid email"):
        normalise_email(email)


@pytest.mark.parametrize("length", [8, 12, 256])
def test_passwords_of_8_to_256_characters_are_accepted(length: int) -> None:
    assert validate_password("p" * length) == "p" * length


@pytest.mark.parametrize("length", [0, 7, 257])
def test_passwords_outside_8_to_256_characters_are_refused(length: int) -> None:
    with pytest.raises(InvalidInput, match="8-256"):
        validate_password("p" * length)


def test_new_users_are_active_customers() -> None:
    user = make()
    assert user.role is Role.CUSTOMER and user.active and not user.is_admin


def test_parse_role() -> None:
    assert parse_role(" Admin ") is Role.ADMIN
    with pytest.raises(InvalidInput, match="admin or customer"):
        parse_role("root")


def test_role_changes() -> None:
    user = make()
    user.change_role(Role.ADMIN, other_active_admins=0)
    assert user.is_admin
    user.change_role(Role.CUSTOMER, other_active_admins=1)
    assert user.role is Role.CUSTOMER


def test_the_last_active_admin_cannot_be_demoted_or_deactivated() -> None:
    admin = make(role=Role.ADMIN)
    with pytest.raises(Conflict, match="last active admin"):
        admin.change_role(Role.CUSTOMER, other_active_admins=0)
    with pytest.raises(Conflict, match="last active admin"):
        admin.deactivate(other_active_admins=0)
    assert admin.is_admin and admin.active


def test_deactivated_users_cannot_log_in() -> None:
    user = make()
    user.ensure_can_log_in()
    user.deactivate(other_active_admins=0)
    with pytest.raises(NotAuthenticated, match="deactivated"):
        user.ensure_can_log_in()


def test_promote_to_admin_reactivates_and_may_set_a_password() -> None:
    user = make(active=False)
    user.promote_to_admin()
    assert user.is_admin and user.active and user.password_hash == "h"
    user.promote_to_admin("new")
    assert user.password_hash == "new"


def test_a_refresh_token_is_usable_until_revoked_or_expired() -> None:
    from datetime import UTC, datetime, timedelta

    from shopctl.domain.sessions import RefreshToken

    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = RefreshToken(
        jti="j",
        user_id=1,
        family_id="f",
        token_hash="0" * 64,
        expires_at=now + timedelta(days=1),
        created_at=now,
    )
    token.ensure_usable(now)
    with pytest.raises(NotAuthenticated, match="expired"):
        token.ensure_usable(now + timedelta(days=1))
    token.revoked_at = now
    with pytest.raises(NotAuthenticated, match="revoked") as raised:
        token.ensure_usable(now)
    assert raised.value.hint is Hint.LOG_IN


def test_a_restored_user_is_the_user_that_was_stored() -> None:
    """A repository reads users back with ``restore`` (the rules ran when it was written):
    the same fields, and the same behaviour from then on."""
    at = datetime(2026, 12, 7, tzinfo=UTC)
    stored = User(email=" Ann@Example.com ", password_hash="h", role=Role.ADMIN)
    stored.id, stored.created_at = 3, at
    restored = User.restore(
        id=3, email="ann@example.com", password_hash="h", role="admin", active=True, created_at=at
    )
    assert dataclasses.asdict(restored) == dataclasses.asdict(stored)
    assert restored.role is Role.ADMIN and restored.is_admin
    with pytest.raises(Conflict):
        restored.deactivate(other_active_admins=0)
