"""Which revision a database's schema is at, and the check every command relies on.

Revision ids are the file names' numeric prefix (``0001``, ``0002``, …) and history is
linear, so the head is found from the file names without importing Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shopctl.application.errors import DatabaseUnavailable
from shopctl.domain.errors import Hint

if TYPE_CHECKING:
    from shopctl.infrastructure.db.connect import Sql

_PACKAGE_DIR = Path(__file__).resolve().parents[2]


def migrations_dir() -> Path:
    """``shopctl/_migrations`` in an installed wheel, ``migrations/`` in a source checkout."""
    for candidate in (_PACKAGE_DIR / "_migrations", _PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("shopctl's migrations directory is missing from this installation")


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return sorted(p.name[:4] for p in (migrations_dir() / "versions").glob("[0-9]*_*.py"))


def head_revision() -> str:
    return revisions()[-1]


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
