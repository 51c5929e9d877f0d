"""Test databases: one migrated template per run (per xdist worker), a fresh copy per test.

The server is ``SHOPCTL_TEST_DATABASE_URL`` when set, else the embedded PostgreSQL
(started on demand in a temporary directory of its own). A pytest plugin, loaded by
``tests/conftest.py`` for the integration and e2e suites only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from pytest_postgresql import factories

from shopctl.infrastructure.db import embedded, migrations
from shopctl.infrastructure.db.connect import ConnectionSettings, Database


def _server() -> dict[str, Any]:
    url = os.environ.get("SHOPCTL_TEST_DATABASE_URL")
    if url:
        parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": unquote(parts.username or "postgres"),
            "password": unquote(parts.password or ""),
        }
    data_dir = Path(tempfile.gettempdir()) / f"shopctl-test-pg-{os.getuid()}"
    server = embedded.ensure_running(data_dir)
    return {"host": server.socket_dir, "port": server.port, "user": "postgres", "password": ""}


SERVER = _server()
# Several test runs (and xdist workers) may share one server: each has its own names.
DBNAME = f"shopctl_test_{os.getpid()}"


def database_url(dbname: str, server: dict[str, Any] = SERVER) -> str:
    credentials = quote(server["user"])
    if server["password"]:
        credentials += ":" + quote(server["password"])
    host = server["host"]
    if host.startswith("/"):
        return f"postgresql://{credentials}@/{dbname}?host={quote(host)}&port={server['port']}"
    return f"postgresql://{credentials}@{host}:{server['port']}/{dbname}"


def migrate_template(host: str, port: int, user: str, dbname: str, **_: Any) -> None:
    migrations.upgrade(ConnectionSettings(database_url(dbname)))


postgresql_noproc = factories.postgresql_noproc(
    host=SERVER["host"],
    port=SERVER["port"],
    user=SERVER["user"],
    password=SERVER["password"] or None,
    dbname=DBNAME,
    load=[migrate_template],
)
postgresql = factories.postgresql("postgresql_noproc")


@pytest.fixture
def db_url(postgresql: Any) -> str:
    """URL of a fresh database, migrated to head, dropped after the test."""
    return database_url(postgresql.info.dbname)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """shopctl's own connections to the test's database (one per thread)."""
    database = Database(ConnectionSettings(db_url))
    yield database
    database.close()


_DATABASES: dict[int, Database] = {}


def database_of(engine: Any) -> Database:
    """shopctl's ``Database`` on the database of a test's inspection engine."""
    key = id(engine)
    if key not in _DATABASES:
        url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "", 1)
        _DATABASES[key] = Database(ConnectionSettings(url))
    return _DATABASES[key]


def inspection_engine(url: str, *, pool_size: int = 5) -> Any:
    """A SQLAlchemy engine with which a test looks at the tables (tests only)."""
    from sqlalchemy import create_engine

    return create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=pool_size,
        max_overflow=pool_size,
    )


def dispose(engine: Any) -> None:
    database = _DATABASES.pop(id(engine), None)
    if database is not None:
        database.close()
    engine.dispose()


def seed_users(engine: Any, *principals: Any) -> None:
    """Store the users that a test's fixed principals stand for (same ids, emails, roles):
    every use case checks its principal against the database."""
    from sqlalchemy import text

    with engine.begin() as connection:
        for principal in principals:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, role)"
                    " VALUES (:id, :email, 'seeded', :role)"
                ),
                {"id": principal.user_id, "email": principal.email, "role": principal.role.value},
            )
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users")
        )


def wait_until_sessions(engine: Any, where: str, *, count: int = 1, timeout: float = 30) -> None:
    """Return once ``count`` sessions of the test's database match ``where`` (a condition on
    ``pg_stat_activity``'s columns); fail after ``timeout`` seconds. The condition itself,
    not a guess at how long it takes."""
    import time

    from sqlalchemy import text

    matching = text(
        "SELECT count(*) FROM pg_stat_activity"
        f" WHERE datname = current_database() AND pid <> pg_backend_pid() AND ({where})"
    )
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            if connection.execute(matching).scalar_one() >= count:
                return
        assert time.monotonic() < deadline, f"no {count} session(s) with {where} in {timeout} s"
        time.sleep(0.01)


def wait_until_a_session_waits_on_a_lock(
    engine: Any, *, count: int = 1, timeout: float = 30
) -> None:
    """Return once ``count`` sessions of the test's database wait on a lock (as
    ``pg_stat_activity`` reports it); fail after ``timeout`` seconds."""
    wait_until_sessions(engine, "wait_event_type = 'Lock'", count=count, timeout=timeout)


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    engine = inspection_engine(db_url)
    yield engine
    dispose(engine)


@pytest.fixture
def empty_db_url() -> Iterator[str]:
    """URL of a database that exists but was never migrated."""
    import psycopg
    from psycopg import sql

    name = f"{DBNAME}_empty"
    admin_url = database_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield database_url(name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# -- PgBouncer in transaction pooling mode ---------------------------------------------------


def pgbouncer_program() -> str | None:
    """Debian's pgbouncer (in /usr/sbin, which a user's PATH may lack), or None."""
    import shutil

    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def _unix_user_of(host: str) -> str:
    """Who owns the server's socket directory (the embedded server's own user), else nobody."""
    import pwd

    if not host.startswith("/"):
        return "nobody"
    return pwd.getpwuid(os.stat(host).st_uid).pw_name


class PgBouncer:
    """A real PgBouncer on loopback in front of the test server, in transaction pooling mode
    (every transaction may run on another server session). ``restart()`` stops it the way an
    operator's restart does (its clients' connections break) and starts it on the same port."""

    def __init__(
        self,
        program: str,
        directory: Path,
        *,
        databases: Sequence[str] = (),
        settings: Sequence[str] = (),
    ) -> None:
        import socket

        self.program = program
        self.directory = directory
        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        host = SERVER["host"]
        server = f"host={host} port={SERVER['port']} user={SERVER['user']}"
        if SERVER["password"]:
            server += f" password={SERVER['password']}"
        lines = [
            "[databases]",
            *(f"{line} {server}" for line in databases),
            f"* = {server}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            *(["auth_type = any"] if not any(s.startswith("auth_type") for s in settings) else []),
            "pool_mode = transaction",
            "max_client_conn = 500",
            "default_pool_size = 20",
            "server_reset_query =",
            "ignore_startup_parameters = extra_float_digits",
            *settings,
        ]
        if os.geteuid() == 0:  # it refuses to run as root: as the server's user, who may
            lines.append(f"user = {_unix_user_of(host)}")  # open its socket directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        self.config = directory / "pgbouncer.ini"
        self.config.write_text("\n".join(lines) + "\n")
        self.config.chmod(0o644)
        self.log = directory / "pgbouncer.log"
        self.process: Any = None
        self.probe_url = self.url("postgres")

    def url(self, dbname: str, **params: str) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"postgresql://{quote(SERVER['user'])}@127.0.0.1:{self.port}/{dbname}{query}"

    def start(self, *, timeout: float = 30) -> None:
        import subprocess
        import time

        import psycopg

        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.program, str(self.config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while True:  # until it answers through to the server, or it has died
            assert self.process.poll() is None, f"pgbouncer exited: {self.log.read_text()[-2000:]}"
            try:
                with psycopg.connect(self.probe_url, connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, f"pgbouncer did not answer within {timeout} s"
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a fast exit, its connections close
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def required_program(program: str | None, message: str) -> str:
    """``program`` (a path); skips the test with ``message`` only where it is not installed
    (``make test`` installs Debian's package with apt-get where it can); under CI it fails."""
    if program is None:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return program


def required_pgbouncer() -> str:
    return required_program(
        pgbouncer_program(),
        "pgbouncer is not installed (apt-get install pgbouncer): no pooler tests",
    )


@pytest.fixture(scope="session")
def pgbouncer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the test server, one per test process."""
    bouncer = PgBouncer(required_pgbouncer(), tmp_path_factory.mktemp("pgbouncer"))
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
def pooled_db_url(pgbouncer: PgBouncer, db_url: str) -> str:
    """The test's database through PgBouncer in transaction mode."""
    return pgbouncer.url(urlsplit(db_url).path.lstrip("/"))


# -- a server with TLS ---------------------------------------------------------------------


# -- a server with TLS -----------------------------------------------------------------------


@dataclass(frozen=True)
class TlsServer:
    """A PostgreSQL endpoint on loopback that speaks TLS only (a PgBouncer that terminates it,
    as managed PostgreSQL's poolers do: the embedded server is built without TLS)."""

    bouncer: PgBouncer
    ca: Path  # signed the server's certificate (for 127.0.0.1)
    other_ca: Path  # signed nothing the server shows
    client_cert: Path  # CN = the test server's user, for the database "certified"
    client_key: Path

    def url(self, dbname: str = "postgres", **params: str) -> str:
        return self.bouncer.url(dbname, **params)


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """TLS is required (a plain connection is refused); the database name "certified" (the
    server's postgres database) takes only a client certificate whose CN is the user."""
    import pwd

    import trustme

    program = required_pgbouncer()
    home = tmp_path_factory.mktemp("tls")
    home.chmod(0o755)
    ca, other = trustme.CA(), trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.cert_chain_pems[0].write_to_path(str(home / "server.crt"))
    server_cert.private_key_pem.write_to_path(str(home / "server.key"))
    ca.cert_pem.write_to_path(str(home / "ca.crt"))
    other.cert_pem.write_to_path(str(home / "other-ca.crt"))
    client = ca.issue_cert("client.invalid", common_name=SERVER["user"])
    client.cert_chain_pems[0].write_to_path(str(home / "client.crt"))
    client.private_key_pem.write_to_path(str(home / "client.key"))
    (home / "client.key").chmod(0o600)  # libpq refuses a key that others may read
    (home / "hba.conf").write_text(
        "hostssl certified all 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 trust\n"
    )
    (home / "users.txt").write_text(f'"{SERVER["user"]}" ""\n')  # hba's trust needs the name
    for name in ("server.crt", "ca.crt", "hba.conf", "users.txt"):
        (home / name).chmod(0o644)
    (home / "server.key").chmod(0o600)
    if os.geteuid() == 0:  # pgbouncer drops to the server's user: it must read its key
        owner = pwd.getpwnam(_unix_user_of(SERVER["host"]))
        os.chown(home / "server.key", owner.pw_uid, owner.pw_gid)
    bouncer = PgBouncer(
        program,
        home / "pgbouncer",
        databases=["certified = dbname=postgres"],
        settings=[
            "client_tls_sslmode = require",
            f"client_tls_cert_file = {home / 'server.crt'}",
            f"client_tls_key_file = {home / 'server.key'}",
            f"client_tls_ca_file = {home / 'ca.crt'}",
            "auth_type = hba",
            f"auth_hba_file = {home / 'hba.conf'}",
            f"auth_file = {home / 'users.txt'}",
        ],
    )
    bouncer.probe_url = bouncer.url("postgres", sslmode="require")
    try:
        bouncer.start()
        yield TlsServer(bouncer, home / "ca.crt", home / "other-ca.crt", home / "client.crt",
                        home / "client.key")  # fmt: skip
    finally:
        bouncer.stop()
