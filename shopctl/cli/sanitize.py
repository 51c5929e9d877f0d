"""Text from the database or a file, made safe to show on a terminal.

A product name may carry ESC (a catalog file can), and written raw into a table it would
move the cursor, rewrite what the admin sees or set the terminal's title. Tables and every
message on stderr go through ``for_terminal``, which shows control characters instead of
sending them, as gh does with what its API returns: C0 controls (except newline and tab) and
DEL in caret notation (``^[``, ``^?``), C1 controls and the bidirectional overrides and
isolates as escapes (``\\x9b``, ``\\u202e``), and lone surrogates (from a broken file, which
could not even be written) as ``\\udcXX``. JSON and CSV stay byte-faithful.
"""

from __future__ import annotations

_C0 = {code: f"^{chr(code + 0x40)}" for code in range(0x20) if chr(code) not in "\n\t"}
_DEL = {0x7F: "^?"}
_C1 = {code: f"\\x{code:02x}" for code in range(0x80, 0xA0)}
# Trojan Source: text that displays in another order than it reads.
_BIDI = {
    code: f"\\u{code:04x}"
    for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
_VISIBLE = str.maketrans({**_C0, **_DEL, **_C1, **_BIDI})


def for_terminal(text: str) -> str:
    """``text`` with every character a terminal would act on shown instead."""
    shown = text.translate(_VISIBLE)
    if not shown.isascii():
        shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown
