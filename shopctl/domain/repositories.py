"""Repository and Unit of Work contracts. Adapters live in ``shopctl.infrastructure``."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from shopctl.domain.products import Product


@dataclass(frozen=True)
class ProductQuery:
    search: str | None = None
    in_stock: bool = False
    include_inactive: bool = False
    limit: int = 50
    offset: int = 0


class ProductRepository(abc.ABC):
    @abc.abstractmethod
    def get_by_sku(self, sku: str) -> Product | None: ...

    @abc.abstractmethod
    def list(self, query: ProductQuery) -> list[Product]:
        """Products matching ``query``, ordered by SKU."""


class UnitOfWork(abc.ABC):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    products: ProductRepository

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...
