"""The Unit of Work on PostgreSQL: one transaction on this thread's connection, rolled back
unless committed. Repositories are built when a use case first asks for one."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from shopctl.domain.repositories import UnitOfWork
from shopctl.infrastructure.db.connect import begin_unit, commit_unit, end_unit, gone
from shopctl.infrastructure.db.errors import translate, translated

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg import Connection

    from shopctl.infrastructure.db.carts import PostgresCartRepository
    from shopctl.infrastructure.db.connect import Database, Sql
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

R = TypeVar("R")


class _Built(Generic[R]):
    """A repository of the unit of work, built on its first use (``functools.cached_property``
    without the lock that Python 3.11 takes on every first access). Its class is imported on
    the process's first use of it, not on each unit of work's."""

    def __init__(self, load: Callable[[], Callable[[Sql], R]]) -> None:
        self._load = load
        self._build: Callable[[Sql], R] | None = None

    def __set_name__(self, owner: type, attribute: str) -> None:
        self._attribute = attribute

    @overload
    def __get__(self, uow: None, owner: type) -> Self: ...
    @overload
    def __get__(self, uow: PostgresUnitOfWork, owner: type) -> R: ...
    def __get__(self, uow: PostgresUnitOfWork | None, owner: type) -> Self | R:
        if uow is None:
            return self
        build = self._build
        if build is None:
            build = self._build = self._load()
        repository = uow.__dict__[self._attribute] = build(uow.sql)  # read from there next
        return repository


# Each repository's class, imported when a unit of work first needs it.
def _products() -> type[PostgresProductRepository]:
    from shopctl.infrastructure.db.products import PostgresProductRepository

    return PostgresProductRepository


def _carts() -> type[PostgresCartRepository]:
    from shopctl.infrastructure.db.carts import PostgresCartRepository

    return PostgresCartRepository


def _orders() -> type[PostgresOrderRepository]:
    from shopctl.infrastructure.db.orders import PostgresOrderRepository

    return PostgresOrderRepository


def _inventory() -> type[PostgresInventoryRepository]:
    from shopctl.infrastructure.db.orders import PostgresInventoryRepository

    return PostgresInventoryRepository


def _payments() -> type[PostgresPaymentRepository]:
    from shopctl.infrastructure.db.payments import PostgresPaymentRepository

    return PostgresPaymentRepository


def _users() -> type[PostgresUserRepository]:
    from shopctl.infrastructure.db.users import PostgresUserRepository

    return PostgresUserRepository


def _accounts() -> type[PostgresAccounts]:
    from shopctl.infrastructure.db.users import PostgresAccounts

    return PostgresAccounts


def _refresh_tokens() -> type[PostgresRefreshTokenRepository]:
    from shopctl.infrastructure.db.users import PostgresRefreshTokenRepository

    return PostgresRefreshTokenRepository


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

    products = _Built(_products)
    carts = _Built(_carts)
    orders = _Built(_orders)
    inventory = _Built(_inventory)
    payments = _Built(_payments)
    users = _Built(_users)
    accounts = _Built(_accounts)
    refresh_tokens = _Built(_refresh_tokens)
