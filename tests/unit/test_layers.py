"""The shape of the package: layers, arrows and cycles.

Every import counts, at module level or inside a function (only ``if TYPE_CHECKING:``
blocks are left out: they never run). Arrows point inwards: domain ← application ←
infrastructure; the composition root and the drivers (the CLI, replay, simulate) sit outside
and may use every layer, but no layer uses them. No two files import each other, directly or
round a longer loop.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import shopctl
import shopctl.domain

PACKAGE = Path(shopctl.__file__).parent

# What each layer may import from shopctl (by first name below ``shopctl``).
ALLOWED = {
    "domain": {"domain"},
    "application": {"domain", "application"},
    "infrastructure": {"domain", "application", "infrastructure"},
}
DRIVERS = {"cli", "replay", "simulation", "load", "bootstrap", "__main__"}

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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(name: str) -> set[str]:
    """The shopctl modules that ``name`` imports when it runs."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("shopctl") and target != name:
                found.add(target)
    # a package's __init__ is imported on the way to its modules: that is no arrow
    return {t for t in found if not name.startswith(t + ".")}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_arrow_points_inwards() -> None:
    outward = [
        f"{name} ({layer(name)}) imports {target} ({layer(target)})"
        for name, targets in GRAPH.items()
        if layer(name) in ALLOWED
        for target in targets
        if layer(target) not in ALLOWED[layer(name)] and layer(target) != ""
    ]
    assert outward == []


def test_no_layer_uses_a_driver() -> None:
    used = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if layer(name) in ALLOWED
        for target in targets
        if layer(target) in DRIVERS
    ]
    assert used == []


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components: any with more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_checks_see_the_imports() -> None:
    """The graph is built right: it finds imports at module level, in functions and from
    packages, and leaves out those made for type checking only."""
    assert "shopctl.domain.errors" in GRAPH["shopctl.application.errors"]
    assert "shopctl.infrastructure.db.embedded" in GRAPH["shopctl.bootstrap"]  # in a method
    assert "shopctl.infrastructure.db.migrations" in GRAPH["shopctl.cli.db"]  # from a package
    assert "shopctl.domain.carts" not in GRAPH["shopctl.domain.repositories"]  # TYPE_CHECKING


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def test_command_lines_are_written_by_the_cli_only() -> None:
    """A text naming a shopctl command is the CLI's to write: inner layers raise a ``Hint``.
    (Docstrings may name commands: they explain, the user never reads them.)"""
    groups = ("db", "products", "users", "cart", "order", "pay", "inventory", "audit")
    written = []
    for name, path in MODULES.items():
        if layer(name) not in ALLOWED:
            continue
        tree = ast.parse(path.read_text())
        skip = _docstrings(tree)
        written += [
            f"{name}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and any(f"shopctl {group}" in node.value for group in groups)
        ]
    assert written == []


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
