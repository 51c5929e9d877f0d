"""Engine creation, URL handling and the schema check that every command relies on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from shopctl.application.errors import DatabaseUnavailable, TransientConflict
from shopctl.domain.errors import InvalidInput, ShopError

if TYPE_CHECKING:
    from psycopg import Connection as PsycopgConnection
    from sqlalchemy.engine import Engine

# SQLSTATEs after which running the same unit of work again can succeed.
TRANSIENT_SQLSTATES = {"40001", "40P01"}
UNIQUE_VIOLATION = "23505"

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def sqlalchemy_url(url: str) -> str:
    """``postgres://`` / ``postgresql://`` → ``postgresql+psycopg://`` (psycopg 3)."""
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    raise InvalidInput(
        f"database URL must start with postgresql:// or postgres://, got {mask_url(url)!r}"
    )


def libpq_url(url: str) -> str:
    """The same URL in the form libpq, psql and psycopg.connect() accept."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+psycopg://") :]


def mask_url(url: str) -> str:
    """Hide the password: ``postgresql://user:***@host/db``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = re.sub(r":[^:@]*@", ":***@", parts.netloc, count=1)
    return urlunsplit(parts._replace(netloc=netloc))


def database_name(url: str) -> str:
    return urlsplit(libpq_url(url)).path.lstrip("/") or "postgres"


def create_engine(url: str, *, pool_size: int = 5) -> Engine:
    from sqlalchemy import create_engine as sa_create_engine

    return sa_create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"connect_timeout": 5, "application_name": "shopctl"},
    )


def unavailable(url: str, error: BaseException) -> DatabaseUnavailable:
    """Turn a driver error into the one-line message of exit code 8."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = reason[0] if reason else type(error).__name__
    if "does not exist" in first:
        return DatabaseUnavailable(
            f"the database {database_name(url)!r} does not exist yet",
            hint="run `shopctl db upgrade`",
        )
    return DatabaseUnavailable(
        f"cannot reach the database at {mask_url(url)}: {first}",
        hint="check --database-url / SHOPCTL_DATABASE_URL, or unset it to use the embedded server",
    )


def unit_of_work_error(
    url: str, error: BaseException, sqlstate: str | None, *, lost: bool
) -> ShopError | None:
    """What a driver error that ended a unit of work means to the user, whichever driver
    layer raised it: a lost serialization race or deadlock can be retried; a lost
    connection is exit code 8. None: let it through (a bug)."""
    if sqlstate in TRANSIENT_SQLSTATES:
        return TransientConflict("the database refused a concurrent change; retry")
    if lost:
        return unavailable(url, error)
    return None


def connect_checked(
    url: str, *, autocommit: bool, read_only: bool = False
) -> PsycopgConnection[Any]:
    """A plain psycopg connection to a database whose schema is at the latest migration, for
    the paths that skip SQLAlchemy (browsing, the session check, the bulk import): exit code
    8 when the server is unreachable or the schema is behind, as through the engine."""
    import psycopg

    from shopctl.infrastructure.database.migrations import check_schema, psycopg_scalar

    extra: dict[str, Any] = {"options": "-c default_transaction_read_only=on"} if read_only else {}
    try:
        connection = psycopg.connect(
            libpq_url(url),
            autocommit=autocommit,
            connect_timeout=5,
            application_name="shopctl",
            **extra,
        )
    except psycopg.OperationalError as error:
        raise unavailable(url, error) from error
    try:
        check_schema(psycopg_scalar(connection))
        if not autocommit:
            connection.commit()  # the schema check's transaction; work starts afresh
    except BaseException:
        connection.close()
        raise
    return connection
