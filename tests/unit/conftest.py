"""Unit tests reach no database: a connection attempt fails the test that makes it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a unit test tried to connect to PostgreSQL: use the fakes")

    monkeypatch.setattr(psycopg.Connection, "connect", refuse)
