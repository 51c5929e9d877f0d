"""What reaches a terminal: no control character raw, whatever the stored text holds."""

from __future__ import annotations

import io
import json
import re

import pytest

from shopctl.cli.output import Columns, Output, OutputFormat
from shopctl.cli.sanitize import for_terminal

C0 = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
C1 = [chr(c) for c in range(0x80, 0xA0)]
BIDI = [
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
DANGEROUS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


@pytest.mark.parametrize("char", [*C0, "\x7f", *C1, *BIDI, *SURROGATES])
def test_every_dangerous_character_is_shown_not_sent(char: str) -> None:
    shown = for_terminal(f"name{char}end")
    assert not DANGEROUS.search(shown)
    assert shown.startswith("name") and shown.endswith("end") and len(shown) > len("nameend")
    shown.encode("utf-8")  # can be written to any UTF-8 terminal


def test_caret_and_escape_notation() -> None:
    assert for_terminal("\x1b[2J\x07") == "^[[2J^G"
    assert for_terminal("\x00\x7f") == "^@^?"
    assert for_terminal("\x9b31m") == "\\x9b31m"
    assert for_terminal("abc\u202edef") == "abc\\u202edef"
    assert for_terminal("\udc80") == "\\udc80"


def test_text_a_person_writes_is_left_alone() -> None:
    text = "Crème brûlée, 日本語, emoji 🍵, tab\tand\nnewline, [bold]not markup[/bold]"
    assert for_terminal(text) == text


SKU_AND_NAME = Columns(("sku", "name"))


def every_character() -> str:
    return "".join([*C0, "\x7f", *C1, *BIDI])


@pytest.mark.parametrize("terminal", [True, False])
def test_tables_and_messages_show_no_raw_control_character(terminal: bool) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    output = Output(stdout, stderr, terminal=terminal)
    name = f"Mug {every_character()} [red]x[/red]"
    output.rows([{"sku": "M-1", "name": name}], SKU_AND_NAME, OutputFormat.table)
    output.record({"sku": "M-1", "name": name}, OutputFormat.table, title=name)
    output.error(f"no product named {name}", "a hint")
    output.message(name)
    output.warning(name)
    for text in (stdout.getvalue(), stderr.getvalue()):
        assert not DANGEROUS.search(text), repr(text)
    assert "[red]x[/red]" in stdout.getvalue()  # shown as written, not taken as markup


def test_json_and_csv_stay_byte_faithful() -> None:
    name = f"Mug {every_character()}"
    for fmt in (OutputFormat.json, OutputFormat.csv):
        stdout = io.StringIO()
        Output(stdout, io.StringIO()).rows([{"sku": "M-1", "name": name}], SKU_AND_NAME, fmt)
        if fmt is OutputFormat.json:
            assert json.loads(stdout.getvalue()) == [{"sku": "M-1", "name": name}]
        else:
            assert name in stdout.getvalue()


def test_json_writes_a_lone_surrogate_as_its_escape() -> None:
    stdout = io.StringIO()
    Output(stdout, io.StringIO()).json({"sku": "bad\udc80"})
    assert "\\udc80" in stdout.getvalue()
    stdout.getvalue().encode("utf-8")
    assert json.loads(stdout.getvalue()) == {"sku": "bad\udc80"}
