"""Every test runs in an environment of its own: the caller's ``SHOPCTL_*``, ``XDG_*``,
libpq's ``PG*`` and ``HOME`` never reach shopctl (a developer's profile, config or data must not change a
result). The database fixtures live in ``tests/database.py``, loaded for the integration and e2e
suites only (the unit tests never start or reach a database)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Load the database fixtures unless only unit tests were asked for. A plugin, not a
    conftest import: its session fixtures (the migrated template) then exist once."""
    if any("unit" not in Path(str(arg)).parts for arg in config.args):
        config.pluginmanager.import_plugin("tests.database")


KEPT = {"SHOPCTL_TEST_DATABASE_URL"}  # where the test server is, read by tests/database.py


@pytest.fixture(autouse=True)
def hermetic_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in list(os.environ):
        if name.startswith(("SHOPCTL_", "XDG_", "PG")) and name not in KEPT:
            monkeypatch.delenv(name)
    home: Path = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
