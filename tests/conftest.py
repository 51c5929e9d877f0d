"""Every test runs in an environment of its own: the caller's ``SHOPCTL_*``, ``XDG_*``,
libpq's ``PG*``, Locust's ``LOCUST_*``, matplotlib's ``MPL*`` and ``HOME`` never reach shopctl
(a developer's profile, config or data must not change a result). The database fixtures live
in ``tests/database.py``, loaded for the integration and e2e suites only (the unit tests
never start or reach a database)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

CALLERS = ("SHOPCTL_", "XDG_", "PG", "LOCUST_", "MPL")  # prefixes of the caller's settings
KEPT = {"SHOPCTL_TEST_DATABASE_URL"}  # where the test server is, read by tests/database.py


def callers_settings() -> list[str]:
    return [name for name in os.environ if name.startswith(CALLERS) and name not in KEPT]


def pytest_configure(config: pytest.Config) -> None:
    """Load the database fixtures unless only unit tests were asked for. A plugin, not a
    conftest import: its session fixtures (the migrated template) then exist once.

    The caller's settings leave the whole session first: the session fixtures (the test
    server's template) connect before any test's own environment is made."""
    for name in callers_settings():
        del os.environ[name]
    if any("unit" not in Path(str(arg)).parts for arg in config.args):
        config.pluginmanager.import_plugin("tests.database")


@pytest.fixture(autouse=True)
def hermetic_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in callers_settings():  # set since, by a test that did not restore them
        monkeypatch.delenv(name)
    home: Path = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def bench_checkout() -> ModuleType:
    """The script bench/checkout, loaded as a module (it has no .py suffix), afresh per test."""
    script = Path(__file__).resolve().parents[1] / "bench" / "checkout"
    loader = importlib.machinery.SourceFileLoader("bench_checkout", str(script))
    spec = importlib.util.spec_from_loader("bench_checkout", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
