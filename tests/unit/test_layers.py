"""The domain layer imports nothing from frameworks or drivers (STYLE rule 1)."""

import pkgutil
import subprocess
import sys

import shopctl.domain

FORBIDDEN = [
    "sqlalchemy",
    "psycopg",
    "typer",
    "rich",
    "jwt",
    "passlib",
    "alembic",
    "pydantic",
    "click",
]


def test_domain_modules_load_no_framework() -> None:
    modules = [m.name for m in pkgutil.walk_packages(shopctl.domain.__path__, "shopctl.domain.")]
    assert modules, "the domain package has modules"
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_cli_help_loads_no_database_driver() -> None:
    code = (
        "import sys\n"
        "from shopctl.cli.app import run\n"
        "run(['--help'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'psycopg', 'alembic'}),"
        " file=sys.stderr)\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stderr.strip() == "[]"
