"""The embedded PostgreSQL used when no database URL is configured.

It lives in ``<data dir>/pgdata`` and keeps running between commands, so only the
first command pays its start-up. A running server is found from ``postmaster.pid``
without importing the ``pgserver`` package; ``shopctl db stop`` stops it.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from shopctl.application.errors import DatabaseUnavailable
from shopctl.domain.errors import Hint

DATABASE = "shopctl"


@dataclass(frozen=True)
class RunningServer:
    pid: int
    socket_dir: str
    port: int

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@/{database}?host={quote(self.socket_dir)}&port={self.port}"


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running under another user (pgserver's, when we are root)
        return True
    return True


def find_running(data_dir: Path) -> RunningServer | None:
    """The server described by ``postmaster.pid``, if that process is alive and ready."""
    pid_file = pgdata_dir(data_dir) / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shm, status
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4].strip()
    if not socket_dir or not _alive(pid):
        return None
    return RunningServer(pid=pid, socket_dir=socket_dir, port=port)


def ensure_running(data_dir: Path) -> RunningServer:
    """Start the embedded server unless it already runs; return how to reach it."""
    running = find_running(data_dir)
    if running is not None:
        return running
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        raise DatabaseUnavailable(
            "no database URL is configured and the embedded PostgreSQL is not installed",
            hint=Hint.INSTALL_EMBEDDED,
        ) from None
    import fcntl

    from shopctl.infrastructure.config import ensure_private_dir

    ensure_private_dir(data_dir)
    pgdata = pgdata_dir(data_dir)
    try:
        # Processes starting it at the same moment (commands side by side, test workers)
        # start it once: the others wait for the lock, then find it running.
        with open(data_dir / "start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if find_running(data_dir) is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    except Exception as error:
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {error}",
            hint=f"see {pgdata / 'log'}",
        ) from error
    running = find_running(data_dir)
    if running is None:
        raise DatabaseUnavailable(f"the embedded PostgreSQL in {pgdata} did not become ready")
    return running


def stop(data_dir: Path, *, timeout: float = 30.0) -> bool:
    """Fast-shutdown the embedded server. False when it was not running."""
    running = find_running(data_dir)
    if running is None:
        return False
    os.kill(running.pid, signal.SIGINT)  # SIGINT = "fast" shutdown: roll back, then exit
    deadline = time.monotonic() + timeout
    while _alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(running.pid):
        raise DatabaseUnavailable(f"the embedded PostgreSQL (pid {running.pid}) did not stop")
    return True
