"""Run the real ``shopctl`` in a subprocess against a test database and a temp config dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    args: Sequence[str]
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (
            f"shopctl {' '.join(self.args)} -> {self.exit_code}\n"
            f"stdout: {self.stdout}\nstderr: {self.stderr}"
        )


Shopctl = Callable[..., Result]


def clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPCTL_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def make_runner(env: dict[str, str]) -> Shopctl:
    def run(
        *args: str, input: str | None = None, profile: str | None = None, **extra: str
    ) -> Result:
        argv = [*(["--profile", profile] if profile else []), *args]
        completed = subprocess.run(
            [sys.executable, "-m", "shopctl", *argv],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=120,
        )
        return Result(argv, completed.returncode, completed.stdout, completed.stderr)

    return run


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def shopctl(db_url: str, config_dir: Path) -> Shopctl:
    """``shopctl(*args, input=..., profile=...)`` on a fresh, migrated database."""
    return make_runner(
        clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    )
