"""Schema migrations (Alembic), as used by ``shopctl db`` and by every command's schema check.

Revision ids are the file names' numeric prefix (``0001``, ``0002``, …) and history is
linear, so the head is found from the file names without importing Alembic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shopctl.application.errors import DatabaseUnavailable
from shopctl.domain.errors import Hint

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from shopctl.infrastructure.db.connect import ConnectionSettings, Sql

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


HAS_SCHEMA = "SELECT to_regclass('alembic_version')"
REVISION = "SELECT version_num FROM alembic_version"


def current_revision(sql: Sql) -> str | None:
    """The database's revision; None when it has no schema."""
    if sql.scalar(HAS_SCHEMA) is None:
        return None
    revision = sql.scalar(REVISION)
    return None if revision is None else str(revision)


def check_schema(sql: Sql) -> None:
    """Refuse to work on a database that is not at the latest migration (exit code 8)."""
    current, head = current_revision(sql), head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise DatabaseUnavailable(
            f"the database {state}, shopctl needs revision {head}", hint=Hint.MIGRATE
        )


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


@contextmanager
def alembic_connection(settings: ConnectionSettings) -> Iterator[Connection]:
    """A SQLAlchemy connection for Alembic, in one transaction, made by ``settings`` like
    every other connection (SQLAlchemy only ever sees it here)."""
    from psycopg.rows import tuple_row
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(
        "postgresql+psycopg://",
        creator=lambda: settings.connect(autocommit=False, row_factory=tuple_row),
        poolclass=NullPool,
    )
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def upgrade(settings: ConnectionSettings, revision: str = "head") -> None:
    from alembic import command

    with alembic_connection(settings) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(settings: ConnectionSettings, revision: str) -> None:
    from alembic import command

    with alembic_connection(settings) as connection:
        command.downgrade(alembic_config(connection), revision)


DROP_SCHEMA = "DROP SCHEMA public CASCADE; CREATE SCHEMA public"


def reset(settings: ConnectionSettings) -> None:
    """Drop every table of the public schema, then migrate to head."""
    from shopctl.infrastructure.db.connect import Database

    database = Database(settings, check_schema=False)
    try:
        with database.transaction() as sql:
            sql.run(DROP_SCHEMA)
    finally:
        database.close()
    upgrade(settings)


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def status(settings: ConnectionSettings) -> SchemaStatus:
    from shopctl.infrastructure.db.connect import Database

    database = Database(settings, check_schema=False)
    try:
        return SchemaStatus(current=current_revision(database.sql()), head=head_revision())
    finally:
        database.close()


def create_database_if_missing(settings: ConnectionSettings) -> bool:
    """CREATE DATABASE for the settings' database when it is missing and the server allows
    it; True if it was created."""
    from psycopg import sql as psql

    from shopctl.infrastructure.db.connect import database_name
    from shopctl.infrastructure.db.errors import DatabaseMissing

    try:
        settings.connect().close()
        return False
    except DatabaseMissing:
        pass
    name = database_name(settings.url)
    with settings.for_database("postgres").connect() as admin:
        admin.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
    return True
