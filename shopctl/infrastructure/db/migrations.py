"""Schema migrations (Alembic), as used by ``shopctl db``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopctl.infrastructure.db.connect import Database
from shopctl.infrastructure.db.errors import DatabaseMissing
from shopctl.infrastructure.db.schema import (
    current_revision,
    head_revision,
    migrations_dir,
    revisions,
)
from shopctl.infrastructure.db.urls import database_name

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from shopctl.infrastructure.db.connect import ConnectionSettings


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

    with alembic_connection(settings) as connection, _revision_given(revision):
        command.upgrade(alembic_config(connection), revision)


def downgrade(settings: ConnectionSettings, revision: str) -> None:
    from alembic import command

    with alembic_connection(settings) as connection, _revision_given(revision):
        command.downgrade(alembic_config(connection), revision)


@contextmanager
def _revision_given(revision: str) -> Iterator[None]:
    """Alembic's refusal of the revision asked for (unknown, or not that way from here) is
    the caller's input: InvalidInput (exit 2) with the revisions there are, nothing run."""
    from alembic.util.exc import CommandError

    from shopctl.domain.errors import InvalidInput

    try:
        yield
    except CommandError as refused:
        said = " ".join(str(refused).split())  # one line, whatever the revision held
        known = ", ".join(revisions())
        raise InvalidInput(
            f"revision {revision!r}: {said}; the revisions are base, {known} and head"
        ) from refused


DROP_SCHEMA = "DROP SCHEMA public CASCADE"
CREATE_SCHEMA = "CREATE SCHEMA public"


def reset(settings: ConnectionSettings) -> None:
    """Drop every table of the public schema, then migrate to head."""
    database = Database(settings, check_schema=False)
    try:
        with database.transaction() as sql:
            sql.run(DROP_SCHEMA)
            sql.run(CREATE_SCHEMA)
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
    database = Database(settings, check_schema=False)
    try:
        return SchemaStatus(current=current_revision(database.sql()), head=head_revision())
    finally:
        database.close()


def create_database_if_missing(settings: ConnectionSettings) -> bool:
    """CREATE DATABASE for the settings' database when it is missing and the server allows
    it; True if it was created."""
    from psycopg import sql as psql

    try:
        settings.connect().close()
        return False
    except DatabaseMissing:
        pass
    name = database_name(settings.url)
    with settings.for_database("postgres").connect() as admin:
        admin.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
    return True
