"""The Unit of Work on PostgreSQL: one transaction on this thread's connection, rolled back
unless committed. Repositories are built when a use case first asks for one."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from shopctl.domain.repositories import UnitOfWork
from shopctl.infrastructure.db.connect import begin_unit, commit_unit, end_unit, gone
from shopctl.infrastructure.db.errors import translate, translated

if TYPE_CHECKING:
    from psycopg import Connection

    from shopctl.infrastructure.db.carts import PostgresCartRepository
    from shopctl.infrastructure.db.connect import Database
    from shopctl.infrastructure.db.orders import (
        PostgresInventoryRepository,
        PostgresOrderRepository,
    )
    from shopctl.infrastructure.db.payments import PostgresPaymentRepository
    from shopctl.infrastructure.db.products import PostgresProductRepository
    from shopctl.infrastructure.db.users import (
        PostgresAccounts,
        PostgresRefreshTokenRepository,
        PostgresUserRepository,
    )


class PostgresUnitOfWork(UnitOfWork):
    """``read_only``: the database refuses any write in it, and it ends with COMMIT (nothing
    can have been written). Statements go through ``Sql``, which keeps what it prepared on the
    connection across units of work, committed or not."""

    connection: Connection[Any]

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only

    def __enter__(self) -> Self:
        with translated(self._database.url):  # a new connection runs its schema check too
            self.connection = self._database.connection()
            begin_unit(
                self.connection,
                read_only=self._read_only,
                setup=self._database.settings.transaction_setup,
            )
        self.sql = self._database.executor(self.connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._read_only and exc is None:
                commit_unit(self.connection)
        except Exception as error:
            exc = error
        finally:
            end_unit(self.connection)  # rolls back what was not committed
        if exc is not None:
            shop_error = translate(
                self._database.url, exc, writing=not self._read_only, gone=gone(self.connection)
            )
            if shop_error is not None and shop_error is not exc:
                raise shop_error from exc
            if exc_type is None:
                raise exc

    def commit(self) -> None:
        commit_unit(self.connection)  # the next statement starts a new transaction

    def rollback(self) -> None:
        self.sql.discard()
        self.connection.rollback()

    # -- repositories, built on first use ----------------------------------------------------

    @cached_property
    def products(self) -> PostgresProductRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.products import PostgresProductRepository

        return PostgresProductRepository(self.sql)

    @cached_property
    def carts(self) -> PostgresCartRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.carts import PostgresCartRepository

        return PostgresCartRepository(self.sql)

    @cached_property
    def orders(self) -> PostgresOrderRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.orders import PostgresOrderRepository

        return PostgresOrderRepository(self.sql)

    @cached_property
    def inventory(self) -> PostgresInventoryRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.orders import PostgresInventoryRepository

        return PostgresInventoryRepository(self.sql)

    @cached_property
    def payments(self) -> PostgresPaymentRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.payments import PostgresPaymentRepository

        return PostgresPaymentRepository(self.sql)

    @cached_property
    def users(self) -> PostgresUserRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.users import PostgresUserRepository

        return PostgresUserRepository(self.sql)

    @cached_property
    def accounts(self) -> PostgresAccounts:  # type: ignore[override]
        from shopctl.infrastructure.db.users import PostgresAccounts

        return PostgresAccounts(self.sql)

    @cached_property
    def refresh_tokens(self) -> PostgresRefreshTokenRepository:  # type: ignore[override]
        from shopctl.infrastructure.db.users import PostgresRefreshTokenRepository

        return PostgresRefreshTokenRepository(self.sql)
