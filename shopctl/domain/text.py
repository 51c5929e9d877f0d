"""Text the shop can store: PostgreSQL's text holds no NUL, and UTF-8 holds no lone
surrogate (what a broken file or a JSON ``\\ud800`` escape decodes to)."""

from __future__ import annotations

from shopctl.domain.errors import InvalidInput


def storable(value: str, field: str) -> str:
    """``value``, or ``InvalidInput`` naming ``field`` when it cannot be stored."""
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL character (\\x00), which cannot be stored")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                f"{field} is not valid text (a lone surrogate: is the file's encoding broken?)"
            ) from None
    return value
