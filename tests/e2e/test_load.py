"""e2e: simulate on Locust worker processes: --processes, a master with workers, a worker
killed mid-run, and Locust's own front end with the packaged locustfile."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import Result, Shopctl, Spawned


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nothing_left(shopctl: Shopctl, admin: str) -> None:
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []
    users = shopctl("users", "list", "--json", profile=admin).json()
    assert [u["email"] for u in users] == ["admin@example.com"]
    assert shopctl("audit", profile=admin).exit_code == 0


def test_simulate_on_two_processes(shopctl: Shopctl, admin: str) -> None:
    result = shopctl(
        "simulate", "--processes", "2", "--concurrency", "4", "--orders", "60",
        "--hot-skus", "1", "--stock", "20", "--decline-rate", "0.1", "--cancel-rate", "0.1",
        "--seed", "3", "--json", profile=admin,
    )  # fmt: skip
    assert result.exit_code == 0, result
    report = result.json()
    assert report["processes"] == 2 and len(report["workers"]) == 2, report["workers"]
    assert all(w["state"] == "finished" for w in report["workers"])
    assert report["flows"] == 60 == sum(w["flows"] for w in report["workers"])
    assert report["outcomes"]["errors"] == 0 and report["unfinished_flows"] == 0
    assert report["invariants"]["ok"] is True and report["invariants"]["units_reserved"] == 0
    assert report["cleaned_up"] is True
    nothing_left(shopctl, admin)


def test_flow_i_is_the_same_flow_on_processes_as_in_one_process(
    shopctl: Shopctl, admin: str
) -> None:
    """With stock for every flow, each flow ends as its plan says: the same seed gives the
    same outcomes whichever engine runs it, since flow i is drawn from (seed, i)."""
    mix = ["--orders", "60", "--stock", "1000", "--decline-rate", "0.2", "--cancel-rate", "0.2"]
    mix += ["--seed", "3", "--concurrency", "4", "--json"]
    on_processes = shopctl("simulate", "--processes", "2", *mix, profile=admin)
    in_one_process = shopctl("simulate", *mix, profile=admin)
    assert on_processes.exit_code == 0 and in_one_process.exit_code == 0, (
        on_processes,
        in_one_process,
    )
    outcomes = on_processes.json()["outcomes"]
    assert outcomes == in_one_process.json()["outcomes"]
    assert outcomes["declined"] > 0 and outcomes["cancelled"] > 0 and outcomes["paid"] > 0


def _worker(shopctl: Shopctl, port: int) -> Spawned:
    return shopctl.spawn("simulate", "--worker", "--master-port", str(port))


def _master(shopctl: Shopctl, admin: str, port: int, *options: str) -> Spawned:
    return shopctl.spawn(
        "simulate", "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--expect-workers-max-wait", "60s", *options,
        "--json", profile=admin,
    )  # fmt: skip


@pytest.mark.direct_only
def test_a_master_with_two_workers(shopctl: Shopctl, admin: str) -> None:
    port = free_port()
    master = _master(shopctl, admin, port, "--concurrency", "4", "--orders", "80")
    workers = [_worker(shopctl, port) for _ in range(2)]
    result = master.finish()
    assert result.exit_code == 0, result
    assert "waiting for 2 worker(s)" in result.stderr
    for worker in workers:
        done = worker.finish(timeout=30)
        assert done.exit_code == 0, done
    report = result.json()
    assert [w["state"] for w in report["workers"]] == ["finished", "finished"]
    assert report["flows"] == 80 and report["outcomes"]["errors"] == 0
    assert report["invariants"]["ok"] is True and report["cleaned_up"] is True
    nothing_left(shopctl, admin)


def _sessions_of(db_url: str, pid: int | str) -> int:
    with psycopg.connect(db_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE %s",
            (f"shopctl simulate {pid} user %",),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.direct_only
def test_a_worker_killed_mid_run_is_reported_and_the_run_still_audits_and_cleans_up(
    shopctl: Shopctl, admin: str, db_url: str
) -> None:
    port = free_port()
    orders = 1500
    master = _master(shopctl, admin, port, "--concurrency", "4", "--orders", str(orders))
    doomed, survivor = _worker(shopctl, port), _worker(shopctl, port)
    deadline = time.monotonic() + 60
    while _sessions_of(db_url, doomed.process.pid) == 0:  # its shoppers are at work
        assert time.monotonic() < deadline and master.process.poll() is None, "no flows ran"
        time.sleep(0.02)
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    result = master.finish()
    survivor.finish(timeout=30)
    assert result.exit_code == 9, result
    assert "1 worker(s) lost" in result.stderr and "Traceback" not in result.stderr
    report = result.json()
    states = sorted(w["state"] for w in report["workers"])
    assert states == ["finished", "lost"], report["workers"]
    lost = next(w for w in report["workers"] if w["state"] == "lost")
    assert lost["unfinished"] >= 1 and report["unfinished_flows"] == lost["unfinished"]
    assert report["flows"] + report["unfinished_flows"] == orders
    assert report["invariants"]["ok"] is True, report["invariants"]
    assert report["cleaned_up"] is True
    nothing_left(shopctl, admin)


def _at_work_on_two_processes(shopctl: Shopctl, admin: str, db_url: str) -> Spawned:
    """A long run on two local worker processes, once their shoppers are at work."""
    running = shopctl.spawn("simulate", "--processes", "2", "--duration", "5m", profile=admin)
    deadline = time.monotonic() + 60
    while _sessions_of(db_url, "%") == 0:
        assert time.monotonic() < deadline and running.process.poll() is None, "no flows ran"
        time.sleep(0.02)
    return running


def _until_the_workers_sessions_end(db_url: str) -> None:
    deadline = time.monotonic() + 30
    while _sessions_of(db_url, "%") > 0:
        assert time.monotonic() < deadline, "the workers' sessions outlived their master"
        time.sleep(0.02)


@pytest.mark.direct_only
def test_sigterm_to_a_run_on_processes_stops_its_workers_and_removes_its_data(
    shopctl: Shopctl, admin: str, db_url: str
) -> None:
    running = _at_work_on_two_processes(shopctl, admin, db_url)
    running.process.send_signal(signal.SIGTERM)
    result = running.finish()
    assert result.exit_code == 143, result
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: terminated: the run stopped after "), result
    assert line.endswith("flows; its data was removed") and "Traceback" not in result.stderr
    _until_the_workers_sessions_end(db_url)  # the worker processes end with their master
    nothing_left(shopctl, admin)


def _locust(shopctl: Shopctl, admin: str, cwd: Path, *args: str, timeout: float = 120) -> Result:
    path = shopctl("simulate", "--locustfile")
    assert path.exit_code == 0 and path.stdout.strip().endswith("locustfile.py"), path
    locust = Path(sys.executable).parent / "locust"
    command = [str(locust), "-f", path.stdout.strip(), *args]
    env: dict[str, Any] = {**shopctl.env, "SHOPCTL_PROFILE": admin}
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return Result(command, done.returncode, done.stdout, done.stderr)


@pytest.mark.direct_only
def test_locust_with_a_bad_option_of_the_run_exits_2_at_once(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    # The users it spawned waited for a run that never comes: the test stops without waiting
    # for its ten minutes (the subprocess's timeout fails it) nor for --stop-timeout.
    result = _locust(
        shopctl, admin, tmp_path, "--headless", "-u", "4", "-r", "4", "-t", "10m",
        "--products", "-5", timeout=60,
    )  # fmt: skip
    assert result.exit_code == 2, result
    assert "error: --products must be 1 or more, got -5" in result.stderr
    assert "Traceback" not in result.stderr
    nothing_left(shopctl, admin)


@pytest.mark.direct_only
def test_locust_runs_the_packaged_locustfile_headless(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    result = _locust(
        shopctl, admin, tmp_path, "--headless", "-u", "10", "-r", "5", "-t", "10s",
        "--csv", "stats", "--products", "30", "--decline-rate", "0.2",
    )  # fmt: skip
    assert result.exit_code == 0, result
    with (tmp_path / "stats_stats.csv").open() as table:
        rows = {row["Name"]: row for row in csv.DictReader(table)}
    for step in ("browse", "cart", "place", "pay", "cancel"):
        assert int(rows[step]["Request Count"]) > 0, (step, rows.get(step))
    # a declined card is an outcome the flow expects, not a failure
    assert all(int(rows[step]["Failure Count"]) == 0 for step in ("place", "pay"))
    assert "invariants\tok:" in result.stdout and "data\tremoved" in result.stdout
    nothing_left(shopctl, admin)


def test_locustfile_path_needs_no_login_and_no_database(shopctl: Shopctl) -> None:
    result = shopctl(
        "simulate", "--locustfile", SHOPCTL_DATABASE_URL="postgresql://x@127.0.0.1:9/x"
    )
    assert result.exit_code == 0, result
    assert Path(result.stdout.strip()).is_file()
    assert os.path.basename(result.stdout.strip()) == "locustfile.py"


def test_bad_load_options_exit_2_before_anything_runs(shopctl: Shopctl, admin: str) -> None:
    for args, said in (
        (("--processes", "0"), "--processes must be 1 or more"),
        (("--processes", "2", "--master"), "give one of --processes, --master and --worker"),
        (("--worker", "--master"), "give one of --processes, --master and --worker"),
        (("--processes", "3", "--concurrency", "2"), "--concurrency (2) must be at least"),
        (("--master", "--expect-workers", "0"), "--expect-workers must be 1 or more"),
        (("--master", "--expect-workers-max-wait", "0s"), "give a time longer than 0"),
        (("--master", "--master-port", "6000"), "--master-port is an option of --worker"),
        (("--processes", "2", "--expect-workers", "2"), "--expect-workers is an option of"),
        (("--master-bind-host", "127.0.0.1"), "--master-bind-host is an option of --master"),
        (("--worker", "--orders", "5"), "--orders is the master's"),
        (("--worker", "--json"), "--json is the master's"),
        (("--worker", "--master-max-wait", "soon"), "--master-max-wait 'soon': use seconds"),
        (("--worker", "--master-host", "two words"), "is not a host name or an IP address"),
        (("--worker", "--master-host", ""), "is not a host name or an IP address"),
        (("--worker", "--master-host", "a\x1b[31m"), "'a\\x1b[31m' is not a host name"),
        (("--master", "--master-bind-host", "tcp://x"), "is not a host name or an IP address"),
    ):
        result = shopctl("simulate", *args, profile=admin)
        assert result.exit_code == 2, (args, result)
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result
    for args in (("--master", "--master-bind-port", "70000"), ("--worker", "--master-port", "0")):
        result = shopctl("simulate", *args, profile=admin)
        assert result.exit_code == 2, (args, result)
        assert "is not in the range 1<=x<=65535" in result.stderr, result
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []


def test_a_worker_whose_master_never_answers_gives_up_with_exit_8(shopctl: Shopctl) -> None:
    port = str(free_port())
    result = shopctl("simulate", "--worker", "--master-port", port, "--master-max-wait", "1s")
    assert result.exit_code == 8, result
    assert f"no master answered at 127.0.0.1:{port} within 1 s" in result.stderr, result
    assert "Traceback" not in result.stderr


@pytest.mark.direct_only
def test_a_master_whose_workers_never_come_gives_up_with_exit_8(
    shopctl: Shopctl, admin: str
) -> None:
    result = shopctl(
        "simulate", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
        str(free_port()), "--expect-workers-max-wait", "1s", "--orders", "5", profile=admin,
    )  # fmt: skip
    assert result.exit_code == 8, result
    assert "0 of 1 worker(s) connected within 1 s" in result.stderr
    assert "Traceback" not in result.stderr
    nothing_left(shopctl, admin)


@pytest.mark.direct_only
def test_locusts_web_ui_starts_and_stops_runs_of_the_packaged_locustfile(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    """Through the web UI's own HTTP endpoints, on loopback: a test started there runs the
    flows, and once stopped it is audited and its data removed."""
    import json
    import urllib.request

    port = free_port()
    path = shopctl("simulate", "--locustfile").stdout.strip()
    locust = subprocess.Popen(
        [str(Path(sys.executable).parent / "locust"), "-f", path, "--web-host", "127.0.0.1",
         "--web-port", str(port)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**shopctl.env, "SHOPCTL_PROFILE": admin},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def call(route: str, data: bytes | None = None) -> Any:
        with urllib.request.urlopen(base + route, data=data, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    try:
        deadline = time.monotonic() + 60
        while True:  # until the UI answers
            try:
                call("/stats/requests")
                break
            except OSError:
                assert time.monotonic() < deadline and locust.poll() is None, "no web UI"
                time.sleep(0.05)
        assert call("/swarm", b"user_count=4&spawn_rate=100&host=")["success"] is True
        while True:  # until orders were placed and paid
            counts = {s["name"]: s["num_requests"] for s in call("/stats/requests")["stats"]}
            if counts.get("place", 0) > 0 and counts.get("pay", 0) > 0:
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.05)
        assert call("/stop", b"")["success"] is True
    finally:
        locust.send_signal(signal.SIGTERM)
        stdout, stderr = locust.communicate(timeout=60)
    out = stdout.decode()
    assert locust.returncode == 0, (out, stderr.decode()[-2000:])
    assert "invariants\tok:" in out and "data\tremoved" in out, out
    nothing_left(shopctl, admin)


@pytest.mark.direct_only
def test_locust_on_its_own_worker_processes_reports_every_worker_to_the_end(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    """Locust's own --processes: the master hands out the flows to the forked workers, and
    when its run time is over it waits for each worker's last tally: none is lost."""
    result = _locust(
        shopctl, admin, tmp_path, "--processes", "2", "--headless", "-u", "4", "-r", "4",
        "-t", "4s", "--only-summary",
    )  # fmt: skip
    assert result.exit_code == 0, result
    workers = [line for line in result.stdout.splitlines() if line.startswith("processes\t")]
    assert len(workers) == 1 and workers[0].count(" flows") == 2, result.stdout
    assert "LOST" not in result.stdout and "invariants\tok:" in result.stdout
    nothing_left(shopctl, admin)


@pytest.mark.direct_only
def test_a_run_on_processes_whose_master_is_killed_outright_leaves_no_worker_running(
    shopctl: Shopctl, admin: str, db_url: str
) -> None:
    """SIGKILL gives the master no chance to stop its local workers: they end with it (on
    Linux), instead of loading the database until Locust's heartbeat finds the master gone."""
    running = _at_work_on_two_processes(shopctl, admin, db_url)
    running.process.send_signal(signal.SIGKILL)
    running.process.wait()
    _until_the_workers_sessions_end(db_url)  # Locust's heartbeat would take 60 s
