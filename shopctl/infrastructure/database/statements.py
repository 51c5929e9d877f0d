"""Fixed SQL sent straight through the psycopg connection under a SQLAlchemy connection.

The hot paths (checkout, browsing) use it instead of building SQLAlchemy statements: the
text is a constant, so psycopg prepares it once per connection, and nothing is compiled
per call. It runs inside SQLAlchemy's transaction, and driver errors are wrapped as
SQLAlchemy's, so the Unit of Work still turns serialization failures and deadlocks into
``TransientConflict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# At module level: an import statement costs a little on every call, and this runs for every
# statement of the checkout path. The module itself is only loaded by code that needs a database.
from psycopg import Error
from psycopg.pq import ExecStatus
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class Statements:
    """Runs SQL on the psycopg connection of a SQLAlchemy connection, rows as named tuples."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        driver = self.connection.connection.driver_connection
        try:
            with driver.cursor(row_factory=namedtuple_row) as cursor:  # type: ignore[union-attr]
                cursor.execute(sql, params)
                result = cursor.pgresult  # not .description: that builds column objects
                returns_rows = result is not None and result.status == ExecStatus.TUPLES_OK
                return cursor.fetchall() if returns_rows else []
        except Error as error:
            raise DBAPIError.instance(sql, params, error, Error) from error

    def first(self, sql: str, params: dict[str, Any]) -> Any:
        found = self.rows(sql, params)
        return found[0] if found else None
