"""Each SQL statement is written once in shopctl/: no statement text is repeated, whole or
inside another. (A statement built from another one refers to it by name instead.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import shopctl

PACKAGE = Path(shopctl.__file__).parent
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY|CREATE|TRUNCATE|DROP)\b", re.I)
SHORTEST = 40  # characters: shorter fragments (a WHERE clause) may well recur


def normalised(text: str) -> str:
    return " ".join(text.split())


def statement_texts() -> list[tuple[str, str]]:
    """(where, text) of every SQL text written as a string literal in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        inside_fstrings = {
            id(value)
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr)
            for value in node.values
        }
        for node in ast.walk(tree):
            parts: list[str] = []
            if id(node) in inside_fstrings:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts = [node.value]
            elif isinstance(node, ast.JoinedStr):  # the literal pieces of an f-string
                parts = [str(v.value) for v in node.values if isinstance(v, ast.Constant)]
            for part in parts:
                text = normalised(str(part))
                if len(text) >= SHORTEST and (SQL.match(text) or " FROM " in text):
                    line = getattr(node, "lineno", 0)
                    found.append((f"{path.relative_to(PACKAGE.parent)}:{line}", text))
    return found


def test_no_statement_is_written_twice() -> None:
    texts = statement_texts()
    assert len(texts) > 50, "the scan finds the statements"
    repeated = [
        f"{here} repeats {there}"
        for i, (here, text) in enumerate(texts)
        for there, other in texts[:i]
        if text == other or text in other or other in text
    ]
    assert repeated == []
