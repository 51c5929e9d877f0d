"""The SQLAlchemy Unit of Work: one connection, one transaction, rollback unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from shopctl.domain.repositories import UnitOfWork
from shopctl.infrastructure.database.engine import unit_of_work_error
from shopctl.infrastructure.database.purchase import (
    SqlCartRepository,
    SqlInventoryRepository,
    SqlOrderRepository,
    SqlPaymentRepository,
)
from shopctl.infrastructure.database.repositories import SqlProductRepository
from shopctl.infrastructure.database.users import SqlRefreshTokenRepository, SqlUserRepository

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, RootTransaction


def sqlstate(error: BaseException) -> str | None:
    return getattr(getattr(error, "orig", None), "sqlstate", None)


class SqlAlchemyUnitOfWork(UnitOfWork):
    connection: Connection

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only

    def __enter__(self) -> Self:
        from sqlalchemy.exc import DBAPIError

        try:
            self.connection = self._engine.connect()
        except DBAPIError as error:
            from shopctl.infrastructure.database.engine import unavailable

            raise unavailable(str(self._engine.url), error) from error
        if self._read_only:  # the database refuses any write in this unit of work
            self.connection.execution_options(postgresql_readonly=True)
        self._transaction: RootTransaction = self.connection.begin()
        self.products = SqlProductRepository(self.connection)
        self.carts = SqlCartRepository(self.connection)
        self.orders = SqlOrderRepository(self.connection)
        self.payments = SqlPaymentRepository(self.connection)
        self.inventory = SqlInventoryRepository(self.connection)
        self.users = SqlUserRepository(self.connection)
        self.refresh_tokens = SqlRefreshTokenRepository(self.connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from sqlalchemy.exc import DBAPIError

        try:
            if self._read_only and exc is None and self._transaction.is_active:
                # Nothing can have been written, so COMMIT undoes as much as a rollback; and
                # psycopg forgets its prepared statements on a rollback, which would have the
                # checkout path parsed and planned again after every browse.
                self._transaction.commit()
            super().__exit__(exc_type, exc, tb)
        finally:
            self.connection.close()
        if isinstance(exc, DBAPIError):
            code = sqlstate(exc)
            lost = exc.connection_invalidated or code is None
            translated = unit_of_work_error(str(self._engine.url), exc, code, lost=lost)
            if translated is not None:
                raise translated from exc

    def commit(self) -> None:
        self._transaction.commit()
        # Work may go on in a new transaction (a batch-by-batch import commits each batch).
        self._transaction = self.connection.begin()

    def rollback(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()
