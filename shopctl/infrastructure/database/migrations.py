"""Schema migrations (Alembic), as used by ``shopctl db`` and by every command's schema check.

Revision ids are the file names' numeric prefix (``0001``, ``0002``, …) and history is
linear, so the head is found from the file names without importing Alembic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopctl.application.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from alembic.config import Config
    from psycopg import Connection as PsycopgConnection
    from sqlalchemy.engine import Connection, Engine

_PACKAGE_DIR = Path(__file__).resolve().parents[2]


def migrations_dir() -> Path:
    """``shopctl/_migrations`` in an installed wheel, ``migrations/`` in a source checkout."""
    for candidate in (_PACKAGE_DIR / "_migrations", _PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("shopctl's migrations directory is missing from this installation")


def head_revision() -> str:
    versions = sorted(p.name[:4] for p in (migrations_dir() / "versions").glob("[0-9]*_*.py"))
    return versions[-1]


Scalar = Callable[[str], Any]
"""Runs one SQL statement and returns the first column of its first row (or None)."""


def sqlalchemy_scalar(connection: Connection) -> Scalar:
    return lambda sql: connection.exec_driver_sql(sql).scalar()


def psycopg_scalar(connection: PsycopgConnection[Any]) -> Scalar:
    def scalar(sql: str) -> Any:
        row = connection.execute(sql).fetchone()
        return None if row is None else row[0]

    return scalar


def current_revision(scalar: Scalar) -> str | None:
    """The database's revision; None when it has no schema. Works on any driver's
    connection, so that the psycopg-only read path checks the schema as well."""
    if scalar("SELECT to_regclass('alembic_version')") is None:
        return None
    revision = scalar("SELECT version_num FROM alembic_version")
    return None if revision is None else str(revision)


def check_schema(scalar: Scalar) -> None:
    """Refuse to work on a database that is not at the latest migration (exit code 8)."""
    current, head = current_revision(scalar), head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise DatabaseUnavailable(
            f"the database {state}, shopctl needs revision {head}",
            hint="run `shopctl db upgrade`",
        )


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def reset(engine: Engine) -> None:
    """Drop every table of the public schema, then migrate to head."""
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as connection:
        return SchemaStatus(
            current=current_revision(sqlalchemy_scalar(connection)), head=head_revision()
        )


def create_database_if_missing(url: str) -> bool:
    """CREATE DATABASE for ``url`` when the server allows it; True if it was created."""
    import psycopg
    from psycopg import sql

    from shopctl.infrastructure.database.engine import database_name, libpq_url

    name = database_name(url)
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5):
            return False
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    with psycopg.connect(libpq_url(url), dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True
