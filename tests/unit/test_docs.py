"""The documentation stays true: the command reference is what the CLI says of itself, and
the README and docs/ stand on their own."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_reference_matches_the_help() -> None:
    spec = importlib.util.spec_from_file_location("commands_doc", ROOT / "docs" / "commands.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = (ROOT / "docs" / "commands.md").read_text()
    assert written == module.reference(), "docs/commands.md is stale: run python docs/commands.py"


def test_the_docs_link_to_pages_that_exist() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench/README.md"]
    broken = [
        f"{page.name}: {target}"
        for page in pages
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text())
        if not (page.parent / target).exists()
    ]
    assert broken == []


def test_the_readme_is_a_short_tour() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
