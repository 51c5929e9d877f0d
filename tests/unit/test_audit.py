import pytest

from shopctl.application.audit import InvariantAuditor, RunAudit, Violation
from shopctl.application.auth import Principal
from shopctl.domain.errors import Forbidden, NotAuthenticated
from shopctl.domain.users import Role
from tests.fakes import FakeUnitOfWork

ADMIN = Principal(user_id=1, email="admin@shop.test", role=Role.ADMIN)


class FakeAuditor(InvariantAuditor):
    def __init__(self, found: list[Violation]) -> None:
        self.found = found
        self.ran = False

    def check_names(self) -> list[str]:
        return ["stock_matches_ledger", "reserved_within_stock"]

    def violations(self) -> list[Violation]:
        self.ran = True
        return self.found


def test_clean_database_is_ok() -> None:
    report = RunAudit(FakeAuditor([]), FakeUnitOfWork(principals=[ADMIN]))(ADMIN)
    assert report.ok and report.violations == []
    assert report.checks == ["stock_matches_ledger", "reserved_within_stock"]


def test_violations_make_the_report_fail() -> None:
    broken = Violation("stock_matches_ledger", "MUG-1", "stock_on_hand is 5, the ledger sums to 3")
    report = RunAudit(FakeAuditor([broken]), FakeUnitOfWork(principals=[ADMIN]))(ADMIN)
    assert not report.ok and report.violations == [broken]


def test_audit_needs_an_admin() -> None:
    auditor = FakeAuditor([])
    customer = Principal(user_id=2, email="c@shop.test", role=Role.CUSTOMER)
    audit = RunAudit(auditor, FakeUnitOfWork(principals=[ADMIN, customer]))
    with pytest.raises(NotAuthenticated):
        audit(None)
    with pytest.raises(Forbidden):
        audit(customer)
    assert not auditor.ran
