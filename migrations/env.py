"""Alembic environment: migrates the connection shopctl hands over, or SHOPCTL_DATABASE_URL."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

from shopctl.infrastructure.db.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    # Plain `alembic upgrade head` from the command line.
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "SHOPCTL_DATABASE_URL"
    )
    if not url:
        raise SystemExit("set SHOPCTL_DATABASE_URL (or pass -x url=postgresql://...)")
    from shopctl.infrastructure.db.connect import ConnectionSettings
    from shopctl.infrastructure.db.migrations import alembic_connection

    with alembic_connection(ConnectionSettings(url)) as conn:
        run_migrations(conn)
