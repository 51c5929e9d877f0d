"""bench/checkout gives the clients cores of their own where it can, and says where the server
and the clients ran: in its heading and beside its verdict."""

from __future__ import annotations

from types import ModuleType

import pytest

HERE = "postgresql://postgres@127.0.0.1:5432/postgres"
ELSEWHERE = "postgresql://postgres@192.0.2.1:5432/postgres"  # TEST-NET-1: never this machine


@pytest.mark.parametrize(
    "url",
    [
        HERE,
        "postgresql://postgres@localhost/postgres",
        "postgresql:///postgres?host=/var/run/postgresql",
        "postgresql:///postgres",
        "host=192.0.2.1,127.0.0.1 dbname=postgres",
    ],
)
def test_a_server_on_loopback_or_a_socket_is_on_this_machine(
    bench_checkout: ModuleType, url: str
) -> None:
    assert bench_checkout.on_this_machine(url)


def test_a_server_at_an_address_of_no_interface_here_is_on_another_machine(
    bench_checkout: ModuleType,
) -> None:
    assert not bench_checkout.on_this_machine(ELSEWHERE)  # a numeric address: no name is looked up


def test_asked_to_share_it_shares(bench_checkout: ModuleType) -> None:
    split, where = bench_checkout.placement(True, "shared")
    assert split is None
    assert where == "cores shared by the server and the clients (--shared-cores)"


def test_a_server_elsewhere_has_a_machine_of_its_own_and_nothing_is_pinned(
    bench_checkout: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_checkout, "SplitCores", _never)
    assert bench_checkout.placement(False, None) == (None, "the server on another machine")
    with pytest.raises(SystemExit, match="--split-cores needs the server on this machine"):
        bench_checkout.placement(False, "split")


def test_on_one_core_the_default_shares_and_says_why_while_split_cores_stops(
    bench_checkout: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_checkout, "postgres_stats", lambda: [(1, [])])
    monkeypatch.setattr(bench_checkout.os, "sched_getaffinity", lambda _pid: {0})
    assert bench_checkout.placement(True, None) == (
        None,
        "cores shared by the server and the clients: this machine has one core",
    )
    with pytest.raises(SystemExit, match="--split-cores: this machine has one core"):
        bench_checkout.placement(True, "split")


def test_a_server_whose_processes_are_not_visible_shares_by_default(
    bench_checkout: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_checkout.os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(bench_checkout.os, "sched_setaffinity", _never_pinned)
    assert bench_checkout.POSTMASTER is None  # what main sets when none is visible
    split, where = bench_checkout.placement(True, None)
    assert split is None
    assert where.startswith("cores shared by the server and the clients: the server's processes")
    with pytest.raises(SystemExit, match="--split-cores: the server's processes are not visible"):
        bench_checkout.placement(True, "split")


def test_a_server_that_cannot_be_pinned_shares_by_default_and_keeps_its_cores(
    bench_checkout: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned: list[set[int]] = []

    def refuse(pid: int, cpus: set[int]) -> None:
        if pid != 0:  # 0: the bench itself, which may always set its own
            pinned.append(cpus)
            raise PermissionError

    monkeypatch.setattr(bench_checkout, "postgres_stats", lambda: [(1, [])])
    monkeypatch.setattr(bench_checkout, "Path", _OneTask)
    monkeypatch.setattr(bench_checkout.os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(bench_checkout.os, "sched_setaffinity", refuse)
    split, where = bench_checkout.placement(True, None)
    assert split is None
    assert where == (
        "cores shared by the server and the clients: the server's processes cannot be pinned:"
        " run the bench as root or as the server's user"
    )
    assert pinned == [{0}, {0, 1}]  # it tried to pin the server to the first half, then undid it


def test_with_no_postmaster_found_no_process_is_the_servers(bench_checkout: ModuleType) -> None:
    assert bench_checkout.POSTMASTER is None
    assert bench_checkout.postgres_stats() == []
    assert bench_checkout.server_cpu() is None


class _OneTask:
    """``Path`` for ``SplitCores._pin``: the server's process has one task."""

    def __init__(self, path: str) -> None:
        self.name = path.rsplit("/", 1)[-1]

    def glob(self, _pattern: str) -> list[_OneTask]:
        return [_OneTask("/proc/1/task/1")]


def _never() -> None:
    raise AssertionError("nothing is pinned")


def _never_pinned(_pid: int, _cpus: set[int]) -> None:
    raise AssertionError("nothing is pinned")
