"""Run the real ``shopctl`` in a subprocess against a test database and a temp config dir."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    args: Sequence[str]
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (
            f"shopctl {' '.join(self.args)} -> {self.exit_code}\n"
            f"stdout: {self.stdout}\nstderr: {self.stderr}"
        )


def clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPCTL_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Shopctl:
    """``shopctl(*args, input=..., profile=..., **env)`` runs the real CLI to its end;
    ``spawn(...)`` starts it and hands back the process (for a signal or a fault mid-way)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(
        self, *args: str, input: str | None = None, profile: str | None = None, **extra: str
    ) -> Result:
        argv = [*(["--profile", profile] if profile else []), *args]
        completed = subprocess.run(
            [sys.executable, "-m", "shopctl", *argv],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **extra},
            timeout=120,
        )
        return Result(argv, completed.returncode, completed.stdout, completed.stderr)

    def spawn(
        self, *args: str, profile: str | None = None, stdin: int | None = subprocess.DEVNULL,
        **extra: str,
    ) -> Spawned:  # fmt: skip
        argv = [*(["--profile", profile] if profile else []), *args]
        process = subprocess.Popen(
            [sys.executable, "-m", "shopctl", *argv],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**self.env, **extra},
        )
        return Spawned(argv, process)


@dataclass
class Spawned:
    args: Sequence[str]
    process: subprocess.Popen[bytes]

    def finish(self, *, timeout: float = 120) -> Result:
        """Wait for its end (closing its stdin first); its result."""
        stdout, stderr = self.process.communicate(timeout=timeout)
        return Result(
            self.args, self.process.returncode, stdout.decode(errors="replace"),
            stderr.decode(errors="replace"),
        )  # fmt: skip


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


ROUTES = ("direct", "pgbouncer")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every e2e test that runs ``shopctl`` runs twice: straight to the server, and through a
    real PgBouncer in transaction pooling mode with ``database_pooler = transaction`` (what
    a managed PostgreSQL puts in front). ``@pytest.mark.direct_only`` keeps a test to the
    first, for what only a direct connection can show; ``pgbouncer_only`` to the second (a
    pooler restart)."""
    if "route" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker
    routes = (
        ROUTES[:1] if marked("direct_only") else ROUTES[1:] if marked("pgbouncer_only") else ROUTES
    )
    metafunc.parametrize("route", routes, indirect=True)


@pytest.fixture
def route(request: pytest.FixtureRequest) -> str:
    """How the test's shopctl reaches its database: "direct" or "pgbouncer"."""
    return str(getattr(request, "param", "direct"))


RunnerFor = Callable[[str], Shopctl]


@pytest.fixture
def runner_for(route: str, config_dir: Path, request: pytest.FixtureRequest) -> RunnerFor:
    """``runner_for(url)``: a shopctl for the database at ``url``, reached by ``route`` (through
    PgBouncer: the same database by name, with ``database_pooler = transaction``)."""

    def runner(url: str) -> Shopctl:
        env = {"SHOPCTL_DATABASE_URL": url, "SHOPCTL_CONFIG_DIR": str(config_dir)}
        if route == "pgbouncer":
            from urllib.parse import urlsplit

            pgbouncer = request.getfixturevalue("pgbouncer")
            env["SHOPCTL_DATABASE_URL"] = pgbouncer.url(urlsplit(url).path.lstrip("/"))
            env["SHOPCTL_DATABASE_POOLER"] = "transaction"
        return Shopctl(clean_environ(**env))

    return runner


@pytest.fixture
def shopctl(runner_for: RunnerFor, db_url: str) -> Shopctl:
    """``shopctl(*args, input=..., profile=...)`` on a fresh, migrated database, by ``route``."""
    return runner_for(db_url)


# -- logging in --------------------------------------------------------------------------

PASSWORD = "correct-horse-9"


def login(
    shopctl: Shopctl,
    email: str,
    *,
    admin: bool = False,
    profile: str | None = None,
    password: str = PASSWORD,
) -> None:
    """Create ``email`` and log it in under ``profile`` (default: the email's local part).

    ``admin=True`` uses the operator bootstrap ``users create-admin`` (which also promotes
    an existing user); otherwise ``users register``, where an already registered email is
    fine (then only the login runs, and must succeed with ``password``). Asserts exit 0.

        login(shopctl, "bob@example.com")                 # profile "bob", customer
        login(shopctl, "root@example.com", admin=True)    # profile "root", admin
        shopctl("cart", "show", profile="bob")
    """
    profile = profile or email.split("@", 1)[0]
    if admin:
        created = shopctl(
            "users", "create-admin", "--email", email, "--password-stdin", input=password + "\n"
        )
        assert created.exit_code == 0, created
    else:
        registered = shopctl(
            "users", "register", "--email", email, "--password-stdin", input=password + "\n"
        )
        assert registered.exit_code in (0, 6), registered
    logged_in = shopctl(
        "users",
        "login",
        "--email",
        email,
        "--password-stdin",
        input=password + "\n",
        profile=profile,
    )
    assert logged_in.exit_code == 0, logged_in


@pytest.fixture
def admin(shopctl: Shopctl) -> str:
    """An admin, admin@example.com, logged in under the profile "admin" (returned)."""
    login(shopctl, "admin@example.com", admin=True, profile="admin")
    return "admin"


@pytest.fixture
def customer(shopctl: Shopctl) -> str:
    """A customer, alice@example.com, logged in under the profile "alice" (returned)."""
    login(shopctl, "alice@example.com", profile="alice")
    return "alice"


def run_in_fresh_process(
    env: dict[str, str], *commands: Sequence[str]
) -> tuple[list[int], list[str], str]:
    """Run shopctl command lines in one new interpreter: their exit codes, which of
    SQLAlchemy and Alembic they loaded, and their stdout."""
    code = (
        "import json, sys\n"
        "from shopctl.cli.app import run\n"
        f"codes = [run(argv) for argv in {[list(c) for c in commands]!r}]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic'})\n"
        "print(json.dumps([codes, heavy]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    codes, heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return codes, heavy, done.stdout


def run_at_a_terminal(env: dict[str, str], args: Sequence[str], typed: bytes) -> tuple[int, bytes]:
    """Run shopctl with stdin and stderr on pseudo-terminals, as a person at a terminal does,
    type ``typed`` (end it with b"\\x04", Ctrl-D): the exit code and what stderr showed."""
    import pty

    keyboard, stdin = pty.openpty()
    screen, stderr = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopctl", *args],
        stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
    )  # fmt: skip
    os.close(stdin)
    os.close(stderr)
    try:
        os.write(keyboard, typed)
        return _read_to_the_end(process, screen, args)
    finally:
        os.close(keyboard)


def _read_to_the_end(
    process: subprocess.Popen[bytes], screen: int, args: Sequence[str]
) -> tuple[int, bytes]:
    """What ``process`` writes to the terminal ``screen`` until it closes it (a hang fails
    after 60 s, it never blocks the suite), and its exit code; ``screen`` is closed."""
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([screen], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"shopctl {' '.join(args)} still runs after 60 s: {shown!r}"
            try:
                chunk = os.read(screen, 4096)
            except OSError:  # EIO: the process exited and closed its terminal
                break
            if not chunk:
                break
            shown += chunk
        return process.wait(timeout=60), shown
    finally:
        if process.poll() is None:
            process.kill()
        os.close(screen)


def stdout_at_a_terminal(env: dict[str, str], args: Sequence[str]) -> tuple[int, bytes]:
    """Run shopctl with stdout on a pseudo-terminal (stdin empty, stderr discarded): its exit
    code and what the terminal was sent."""
    import pty

    screen, stdout = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopctl", *args],
        stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    os.close(stdout)
    return _read_to_the_end(process, screen, args)
