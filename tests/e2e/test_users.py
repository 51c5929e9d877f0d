"""e2e: users and sessions — every users command and its exit codes (SPEC §6, §7)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.e2e.conftest import PASSWORD, Shopctl, login


def password(text: str = PASSWORD) -> dict[str, str]:
    return {"input": text + "\n"}


def session_file(config_dir: Path, profile: str) -> Path:
    return config_dir / "sessions" / f"{profile}.json"


def test_admin_bootstrap_on_an_empty_database(shopctl: Shopctl) -> None:
    created = shopctl(
        "users",
        "create-admin",
        "--email",
        "Root@Example.com",
        "--password-stdin",
        "--json",
        **password(),
    )
    assert created.exit_code == 0, created
    assert created.json()["email"] == "root@example.com"
    assert created.json()["role"] == "admin"
    assert set(created.json()) == {"id", "email", "role", "active", "created_at"}
    logged_in = shopctl(
        "users", "login", "--email", "root@example.com", "--password-stdin", **password()
    )
    assert logged_in.exit_code == 0, logged_in
    listed = shopctl("users", "list", "--json")
    assert listed.exit_code == 0, listed
    assert [u["email"] for u in listed.json()] == ["root@example.com"]


def test_register_login_whoami_under_two_profiles(shopctl: Shopctl, config_dir: Path) -> None:
    registered = shopctl(
        "users",
        "register",
        "--email",
        "bob@example.com",
        "--password-stdin",
        "--json",
        **password(),
    )
    assert registered.exit_code == 0, registered
    assert registered.json()["role"] == "customer"
    login(shopctl, "alice@example.com")
    login(shopctl, "bob@example.com")
    alice = shopctl("users", "whoami", "--json", profile="alice")
    bob = shopctl("users", "whoami", "--json", profile="bob")
    assert alice.exit_code == 0 and bob.exit_code == 0, (alice, bob)
    assert alice.json()["email"] == "alice@example.com" and alice.json()["profile"] == "alice"
    assert bob.json()["email"] == "bob@example.com" and bob.json()["profile"] == "bob"
    assert set(bob.json()) == {"id", "email", "role", "active", "created_at", "profile"}
    assert "bob@example.com" in shopctl("users", "whoami", profile="bob").stdout


def test_session_file_is_private_and_holds_no_password(shopctl: Shopctl, config_dir: Path) -> None:
    login(shopctl, "alice@example.com")
    path = session_file(config_dir, "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    content = path.read_text()
    assert PASSWORD not in content
    assert set(json.loads(content)) >= {"user_id", "email", "access_token", "refresh_token"}
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_login_output_never_shows_tokens(shopctl: Shopctl, config_dir: Path) -> None:
    shopctl("users", "register", "--email", "a@example.com", "--password-stdin", **password())
    result = shopctl(
        "users", "login", "--email", "a@example.com", "--password-stdin", "--json", **password()
    )
    assert result.exit_code == 0, result
    tokens = json.loads(session_file(config_dir, "default").read_text())
    for output in (result.stdout, result.stderr, shopctl("users", "whoami", "--json").stdout):
        assert tokens["access_token"] not in output
        assert tokens["refresh_token"] not in output
    assert result.json()["profile"] == "default"
    assert result.json()["user"]["email"] == "a@example.com"


def test_no_session_is_exit_3(shopctl: Shopctl) -> None:
    result = shopctl("users", "whoami")
    assert result.exit_code == 3
    assert "shopctl users login" in result.stderr


def test_wrong_password_and_unknown_email_are_the_same_exit_3(shopctl: Shopctl) -> None:
    shopctl("users", "register", "--email", "a@example.com", "--password-stdin", **password())
    wrong = shopctl(
        "users",
        "login",
        "--email",
        "a@example.com",
        "--password-stdin",
        **password("not-the-password"),
    )
    unknown = shopctl(
        "users", "login", "--email", "nobody@example.com", "--password-stdin", **password()
    )
    assert wrong.exit_code == unknown.exit_code == 3
    assert wrong.stderr == unknown.stderr
    assert "Traceback" not in wrong.stderr


def test_duplicate_email_is_exit_6(shopctl: Shopctl) -> None:
    first = shopctl(
        "users", "register", "--email", "a@example.com", "--password-stdin", **password()
    )
    again = shopctl(
        "users", "register", "--email", "A@EXAMPLE.COM", "--password-stdin", **password()
    )
    assert first.exit_code == 0
    assert again.exit_code == 6
    assert "already exists" in again.stderr


def test_bad_email_and_password_lengths_are_exit_2(shopctl: Shopctl) -> None:
    for email, text in (
        ("not-an-email", PASSWORD),
        ("a@example.com", "short"),
        ("a@example.com", "x" * 257),
    ):
        for command in ("register", "login", "create-admin"):
            result = shopctl(
                "users", command, "--email", email, "--password-stdin", **password(text)
            )
            assert result.exit_code == 2, result
            assert len(result.stderr.strip().splitlines()) == 1


def test_password_without_tty_or_stdin_flag_is_exit_2_at_once(shopctl: Shopctl) -> None:
    for command in ("register", "login", "create-admin"):
        result = shopctl("users", command, "--email", "a@example.com")
        assert result.exit_code == 2, result
        assert "--password-stdin" in result.stderr


def test_password_stdin_keeps_everything_but_one_trailing_newline(shopctl: Shopctl) -> None:
    text = " spaced pass "
    assert (
        shopctl(
            "users", "register", "--email", "a@example.com", "--password-stdin", input=text + "\n"
        ).exit_code
        == 0
    )
    stripped = shopctl(
        "users", "login", "--email", "a@example.com", "--password-stdin", input=text.strip()
    )
    assert stripped.exit_code == 3
    exact = shopctl("users", "login", "--email", "a@example.com", "--password-stdin", input=text)
    assert exact.exit_code == 0, exact
