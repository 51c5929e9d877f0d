"""Every test runs in an environment of its own: the caller's ``SHOPCTL_*``, ``XDG_*``,
libpq's ``PG*`` and ``HOME`` never reach shopctl (a developer's profile, config or data must not change a
result). Database fixtures live in ``tests/database.py``, loaded by the integration and e2e
suites only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
