"""Unit tests reach no database: a connection attempt fails the test that makes it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a unit test tried to connect to PostgreSQL: use the fakes")

    monkeypatch.setattr(psycopg.Connection, "connect", refuse)


@pytest.fixture
def bench_checkout() -> ModuleType:
    """The script bench/checkout, loaded as a module (it has no .py suffix), afresh per test."""
    script = Path(__file__).resolve().parents[2] / "bench" / "checkout"
    loader = importlib.machinery.SourceFileLoader("bench_checkout", str(script))
    spec = importlib.util.spec_from_loader("bench_checkout", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
