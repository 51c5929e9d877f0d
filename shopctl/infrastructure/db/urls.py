"""Database URLs: the forms libpq accepts, and how they are shown (never with a password)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from shopctl.domain.errors import InvalidInput

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def libpq_url(url: str) -> str:
    """The URL in the form libpq, psql and psycopg accept (``postgres://`` too)."""
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme) :]
    raise InvalidInput(
        f"database URL must start with postgresql:// or postgres://, got {mask_url(url)!r}"
    )


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
