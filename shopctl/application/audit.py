"""``shopctl audit``: check the whole database against the shop's invariants."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

from shopctl.application.auth import Principal, authorize, require_user
from shopctl.domain.repositories import UnitOfWork


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    detail: str


class InvariantAuditor(abc.ABC):
    """Port: runs every named invariant check over one consistent snapshot."""

    @abc.abstractmethod
    def check_names(self) -> list[str]: ...

    @abc.abstractmethod
    def violations(self) -> list[Violation]:
        """Every violation of every check, in check order."""


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    checks: list[str]
    violations: list[Violation]


class RunAudit:
    """Check the database (admins). ``ok`` is False when any invariant is broken."""

    def __init__(self, auditor: InvariantAuditor, uow: Callable[[], UnitOfWork]) -> None:
        self._auditor = auditor
        self._uow = uow

    def __call__(self, principal: Principal | None) -> AuditReport:
        require_user(principal)
        with self._uow() as uow:
            authorize(uow.accounts, principal, admin=True)
        violations = self._auditor.violations()
        return AuditReport(
            ok=not violations, checks=self._auditor.check_names(), violations=violations
        )


@dataclass(frozen=True)
class Audit:
    """The invariant check of the run's own products after the run."""

    products: int
    stock: int  # units on hand before the run, all products
    units_sold: int
    units_reserved: int
    violations: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations
