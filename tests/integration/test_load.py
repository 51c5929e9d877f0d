"""Locust users share one process: the database driver must yield to gevent's loop."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from sqlalchemy import text

from tests.e2e.conftest import clean_environ

TWO_SLEEPERS = """
import shopctl.load  # gevent patches first
import sys, time
import gevent
from shopctl.bootstrap import Shop
from shopctl.infrastructure.config import load_settings

settings = load_settings(database_url=sys.argv[1], config_dir=sys.argv[2], environ={})

def sleeper(n):
    shop = Shop(settings, application_name=f"pg-sleeper {n}")
    with shop.database.transaction() as sql:
        sql.run("SELECT pg_sleep(1)")
    shop.close()

started = time.perf_counter()
gevent.joinall([gevent.spawn(sleeper, n) for n in (1, 2)], raise_error=True)
print(time.perf_counter() - started)
"""

BOTH_ASLEEP = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pg-sleeper %'"
    " AND state = 'active' AND query LIKE '%pg_sleep%'"
)


def test_two_users_sleeping_in_the_database_sleep_at_the_same_time(
    db_url: str, engine: Any, tmp_path: Any
) -> None:
    """Two greenlets of one process, each in ``pg_sleep(1)``: the server sees both sleeping at
    once (a blocking driver would run them one after the other), and both are done in about
    one second, not two."""
    process = subprocess.Popen(
        [sys.executable, "-c", TWO_SLEEPERS, db_url, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_environ(),
    )
    seen = 0
    deadline = time.monotonic() + 30
    while process.poll() is None and seen < 2 and time.monotonic() < deadline:
        with engine.connect() as connection:
            seen = max(seen, connection.execute(text(BOTH_ASLEEP)).scalar_one())
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert seen == 2, "the two sleeps never ran at the same time"
    assert float(stdout) < 2.0, stdout  # one after the other takes 2 s or more
