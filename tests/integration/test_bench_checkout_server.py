"""bench/checkout reads the CPU of, and pins, the processes of the server it measures: its
postmaster and what that started, not another program's or another cluster's that runs on the
same machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import psycopg
import pytest


def test_the_server_is_its_postmaster_and_what_it_started_and_nothing_else(
    bench_checkout: ModuleType, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bench_checkout.on_this_machine(db_url), "the test server runs on this machine"
    postmaster = bench_checkout.find_postmaster(db_url)
    assert postmaster is not None
    # A process named postgres that the server did not start, as another cluster's would be.
    stranger = tmp_path / "postgres"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", stranger)
    other = subprocess.Popen([str(stranger), "60"])
    try:
        assert bench_checkout.stat_fields(Path(f"/proc/{other.pid}/stat"))[0] == "postgres"
        with psycopg.connect(db_url) as connection:
            monkeypatch.setattr(bench_checkout, "POSTMASTER", postmaster)
            found = dict(bench_checkout.postgres_stats())
            assert postmaster in found
            assert connection.info.backend_pid in found
            assert other.pid not in found
            assert all(postmaster in (pid, int(fields[1])) for pid, fields in found.items())
            cpu = bench_checkout.server_cpu()
            assert cpu is not None and cpu > 0
    finally:
        other.kill()
        other.wait()
