"""The composition root: the one place that wires use cases to their adapters.

Nothing here connects or imports a driver until a use case is asked for.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from shopctl.domain.errors import ShopError
from shopctl.infrastructure.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from shopctl.application.products import GetProduct, ListProducts
    from shopctl.infrastructure.database.uow import SqlAlchemyUnitOfWork


class Shop:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- database -------------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        return not self.settings.database_url

    @cached_property
    def database_url(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        from shopctl.infrastructure.database import embedded

        return embedded.ensure_running(self.settings.data_dir).url()

    @cached_property
    def unchecked_engine(self) -> Engine:
        """An engine for ``shopctl db``: no schema check, the schema may not exist yet."""
        from shopctl.infrastructure.database.engine import create_engine

        return create_engine(self.database_url)

    @cached_property
    def engine(self) -> Engine:
        """An engine on a reachable database whose schema is at the latest migration."""
        from sqlalchemy.exc import DBAPIError

        from shopctl.infrastructure.database.engine import unavailable
        from shopctl.infrastructure.database.migrations import check_schema

        engine = self.unchecked_engine
        try:
            with engine.connect() as connection:
                check_schema(connection)
        except DBAPIError as error:
            raise unavailable(self.database_url, error) from error
        return engine

    def uow(self) -> SqlAlchemyUnitOfWork:
        from shopctl.infrastructure.database.uow import SqlAlchemyUnitOfWork

        return SqlAlchemyUnitOfWork(self.engine)

    def translate(self, error: BaseException) -> ShopError | None:
        """Driver errors that escaped a use case, as the user should see them."""
        from sqlalchemy.exc import InterfaceError, OperationalError

        if isinstance(error, OperationalError | InterfaceError) and "database_url" in self.__dict__:
            from shopctl.infrastructure.database.engine import unavailable

            return unavailable(self.database_url, error)
        return None

    def close(self) -> None:
        if "unchecked_engine" in self.__dict__:
            self.unchecked_engine.dispose()

    # -- use cases ------------------------------------------------------------------------

    def list_products(self) -> ListProducts:
        from shopctl.application.products import ListProducts

        return ListProducts(self.uow, self.settings.currency)

    def get_product(self) -> GetProduct:
        from shopctl.application.products import GetProduct

        return GetProduct(self.uow, self.settings.currency)
