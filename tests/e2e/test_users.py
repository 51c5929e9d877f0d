"""e2e: users and sessions — every users command and its exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.e2e.conftest import PASSWORD, Shopctl, clean_environ, login


def password(text: str = PASSWORD) -> dict[str, str]:
    return {"input": text + "\n"}


def session_file(config_dir: Path, profile: str) -> Path:
    return config_dir / "sessions" / f"{profile}.json"


def test_admin_bootstrap_on_an_empty_database(empty_db_url: str, config_dir: Path) -> None:
    shopctl = Shopctl(
        clean_environ(SHOPCTL_DATABASE_URL=empty_db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    )
    unmigrated = shopctl(
        "users", "create-admin", "--email", "root@example.com", "--password-stdin", **password()
    )
    assert unmigrated.exit_code == 8 and "shopctl db upgrade" in unmigrated.stderr
    assert shopctl("db", "upgrade").exit_code == 0
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


# -- step 2: logout, token, admin commands, refresh and revocation ----------------------


def tokens_of(config_dir: Path, profile: str) -> dict[str, str]:
    tokens: dict[str, str] = json.loads(session_file(config_dir, profile).read_text())
    return tokens


def test_logout_revokes_and_removes_the_session(shopctl: Shopctl, config_dir: Path) -> None:
    login(shopctl, "alice@example.com")
    saved = session_file(config_dir, "alice").read_text()
    result = shopctl("users", "logout", profile="alice")
    assert result.exit_code == 0, result
    assert not session_file(config_dir, "alice").exists()
    assert shopctl("users", "whoami", profile="alice").exit_code == 3
    # a copy of the old session file is worthless: the server revoked it
    session_file(config_dir, "alice").write_text(saved)
    session_file(config_dir, "alice").chmod(0o600)
    copied = shopctl("users", "whoami", profile="alice")
    assert copied.exit_code == 3 and "revoked" in copied.stderr
    again = shopctl("users", "logout", profile="nobody")
    assert again.exit_code == 0 and "not logged in" in again.stderr


def test_token_prints_only_the_access_token(shopctl: Shopctl, config_dir: Path) -> None:
    assert shopctl("users", "token").exit_code == 3
    login(shopctl, "alice@example.com")
    result = shopctl("users", "token", profile="alice")
    assert result.exit_code == 0, result
    assert result.stdout == tokens_of(config_dir, "alice")["access_token"] + "\n"
    assert result.stdout.count(".") == 2  # a JWT


def test_admin_lists_users_and_a_customer_is_forbidden(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    listed = shopctl("users", "list", "--json", profile=admin)
    assert listed.exit_code == 0, listed
    assert [(u["email"], u["role"]) for u in listed.json()] == [
        ("admin@example.com", "admin"),
        ("alice@example.com", "customer"),
    ]
    assert set(listed.json()[0]) == {"id", "email", "role", "active", "created_at"}
    csv = shopctl("users", "list", "--format", "csv", profile=admin).stdout.splitlines()
    assert csv[0] == "id,email,role,active,created_at" and len(csv) == 3
    assert "alice@example.com" in shopctl("users", "list", profile=admin).stdout
    forbidden = shopctl("users", "list", profile=customer)
    assert forbidden.exit_code == 4
    assert "needs an admin" in forbidden.stderr
    assert shopctl("users", "list").exit_code == 3  # no session in the default profile


def test_set_role(shopctl: Shopctl, admin: str, customer: str) -> None:
    promoted = shopctl("users", "set-role", "alice@example.com", "admin", "--json", profile=admin)
    assert promoted.exit_code == 0, promoted
    assert promoted.json()["role"] == "admin"
    # takes effect for alice's current session at once
    assert shopctl("users", "list", profile=customer).exit_code == 0
    demoted = shopctl("users", "set-role", "ALICE@example.com", "customer", profile=admin)
    assert demoted.exit_code == 0, demoted
    assert shopctl("users", "list", profile=customer).exit_code == 4
    assert shopctl("users", "set-role", "alice@example.com", "root", profile=admin).exit_code == 2
    missing = shopctl("users", "set-role", "nobody@example.com", "admin", profile=admin)
    assert missing.exit_code == 5
    last = shopctl("users", "set-role", "admin@example.com", "customer", profile=admin)
    assert last.exit_code == 6 and "last active admin" in last.stderr
    refused = shopctl("users", "set-role", "admin@example.com", "customer", profile=customer)
    assert refused.exit_code == 4


def test_deactivate_revokes_sessions_and_blocks_login(
    shopctl: Shopctl, admin: str, customer: str
) -> None:
    assert shopctl("users", "deactivate", "admin@example.com", profile=customer).exit_code == 4
    result = shopctl("users", "deactivate", "alice@example.com", "--json", profile=admin)
    assert result.exit_code == 0, result
    assert result.json()["active"] is False
    revoked = shopctl("users", "whoami", profile=customer)
    assert revoked.exit_code == 3 and "deactivated" in revoked.stderr
    relogin = shopctl(
        "users", "login", "--email", "alice@example.com", "--password-stdin", **password()
    )
    assert relogin.exit_code == 3 and "deactivated" in relogin.stderr
    assert shopctl("users", "deactivate", "nobody@example.com", profile=admin).exit_code == 5
    last = shopctl("users", "deactivate", "admin@example.com", profile=admin)
    assert last.exit_code == 6


# How long to wait for a token issued with a TTL of 1 s to expire: its exp is rounded up to
# a whole second, so it may live up to 2 s.
ONE_SECOND_TOKEN_LIFETIME = 2.1


def short_lived_login(shopctl: Shopctl, email: str, profile: str) -> None:
    shopctl("users", "register", "--email", email, "--password-stdin", **password())
    result = shopctl(
        "users",
        "login",
        "--email",
        email,
        "--password-stdin",
        profile=profile,
        SHOPCTL_ACCESS_TOKEN_TTL="1",
        **password(),
    )
    assert result.exit_code == 0, result


def test_an_expired_access_token_is_refreshed_and_a_replayed_refresh_token_ends_both(
    shopctl: Shopctl, config_dir: Path
) -> None:
    """The one test that waits for a real token to expire (the rules around it are proven
    with a fake clock in tests/unit/test_users_use_cases.py)."""
    import time

    short_lived_login(shopctl, "alice@example.com", "alice")
    before = tokens_of(config_dir, "alice")
    stolen = session_file(config_dir, "alice").read_text()
    time.sleep(ONE_SECOND_TOKEN_LIFETIME)
    # alice's next command refreshes transparently: both tokens rotate
    result = shopctl("users", "whoami", "--json", profile="alice")
    assert result.exit_code == 0, result
    assert result.json()["email"] == "alice@example.com"
    after = tokens_of(config_dir, "alice")
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert stat.S_IMODE(session_file(config_dir, "alice").stat().st_mode) == 0o600
    # a thief replays the old (already used) refresh token from a copied file
    thief = session_file(config_dir, "thief")
    thief.write_text(stolen)
    thief.chmod(0o600)
    replay = shopctl("users", "whoami", profile="thief")
    assert replay.exit_code == 3, replay
    assert "shopctl users login" in replay.stderr
    # ... and alice's rotated session is revoked too
    victim = shopctl("users", "whoami", profile="alice")
    assert victim.exit_code == 3 and "revoked" in victim.stderr
    for output in (replay.stderr, victim.stderr):
        assert json.loads(stolen)["refresh_token"] not in output


def test_tampered_and_wrong_typed_tokens_are_exit_3(shopctl: Shopctl, config_dir: Path) -> None:
    login(shopctl, "alice@example.com")
    path = session_file(config_dir, "alice")
    original = tokens_of(config_dir, "alice")
    header, payload, signature = original["access_token"].split(".")
    cases = {
        "tampered": {**original, "access_token": f"{header}.{payload}x.{signature}"},
        "wrong type": {**original, "access_token": original["refresh_token"]},
        "garbage": {**original, "access_token": "not-a-token"},
    }
    for name, content in cases.items():
        path.write_text(json.dumps(content))
        result = shopctl("users", "whoami", profile="alice")
        assert result.exit_code == 3, (name, result)
        assert "run `shopctl users login`" in result.stderr
        assert "Traceback" not in result.stderr
    path.write_text("{not json")
    assert shopctl("users", "whoami", profile="alice").exit_code == 3


def test_a_token_signed_with_another_key_is_exit_3(shopctl: Shopctl) -> None:
    login(shopctl, "alice@example.com")
    result = shopctl("users", "whoami", profile="alice", SHOPCTL_JWT_SECRET="x" * 40)
    assert result.exit_code == 3 and "invalid" in result.stderr


def test_a_short_jwt_secret_is_exit_2(shopctl: Shopctl) -> None:
    shopctl("users", "register", "--email", "a@example.com", "--password-stdin", **password())
    result = shopctl(
        "users",
        "login",
        "--email",
        "a@example.com",
        "--password-stdin",
        SHOPCTL_JWT_SECRET="too-short",
        **password(),
    )
    assert result.exit_code == 2
    assert "SHOPCTL_JWT_SECRET" in result.stderr and "32 bytes" in result.stderr
    assert "too-short" not in result.stderr


def test_a_session_file_readable_by_others_is_repaired_with_a_warning(
    shopctl: Shopctl, config_dir: Path
) -> None:
    login(shopctl, "alice@example.com")
    path = session_file(config_dir, "alice")
    path.chmod(0o644)
    result = shopctl("users", "whoami", profile="alice")
    assert result.exit_code == 0, result
    assert "warning:" in result.stderr and "0600" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def run_in_terminal(
    shopctl_env: dict[str, str], args: list[str], answers: list[str]
) -> tuple[int, str]:
    """Run shopctl with a pseudo-terminal as its controlling terminal and stdin, typing
    ``answers`` after each prompt. Returns the exit code and everything the terminal showed."""
    import os
    import pty
    import select
    import signal
    import sys
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "shopctl", *args], shopctl_env)  # noqa: S606
    shown, pending, deadline = b"", list(answers), time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            # click shows "Password:", then getpass turns echo off and writes " ": type
            # only after that space, or the answer would be echoed and flushed away.
            if pending and shown.endswith(b": "):
                os.write(fd, pending.pop(0).encode() + b"\n")
    else:
        os.kill(pid, signal.SIGKILL)  # hung: fail below instead of waiting forever
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_passwords_are_asked_hidden_in_a_terminal(
    db_url: str, config_dir: Path, shopctl: Shopctl
) -> None:
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    code, shown = run_in_terminal(
        env, ["users", "register", "--email", "tty@example.com"], [PASSWORD, PASSWORD]
    )
    assert code == 0, shown
    assert shown.count("Password") == 1 and "Repeat for confirmation" in shown
    assert PASSWORD not in shown  # not echoed
    code, shown = run_in_terminal(
        env, ["-p", "tty", "users", "login", "--email", "tty@example.com"], [PASSWORD]
    )
    assert code == 0, shown
    assert shown.count("Password") == 1 and "Repeat" not in shown
    assert shopctl("users", "whoami", profile="tty").exit_code == 0
