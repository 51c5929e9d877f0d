"""Money: ``Decimal`` with exactly two places. Extra places are refused, never rounded."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from shopctl.domain.errors import InvalidInput

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # NUMERIC(12,2)
# Text that passes every check below (at most 10 digits, at most 2 places, not negative):
# the fast path of a catalog import, which parses one price per line.
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,10}(?:\.[0-9]{0,2})?")


def parse_money(value: str | int | Decimal, *, field: str = "price") -> Decimal:
    """Parse a non-negative amount such as ``"9.9"`` or ``"10.00"`` into a 2-place Decimal."""
    if value.__class__ is str:
        text = value.strip()
        if _PLAIN_AMOUNT.fullmatch(text):
            return Decimal(text).quantize(CENT)
    if isinstance(value, float):  # binary floats cannot say 0.10 exactly
        raise InvalidInput(f"{field} must be given as text or Decimal, not float")
    text = str(value).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{field} {text!r} is not a number") from None
    if not amount.is_finite():
        raise InvalidInput(f"{field} {text!r} is not a number")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(CENT):
        raise InvalidInput(f"{field} {text!r} has more than 2 decimal places")
    if amount < 0:
        raise InvalidInput(f"{field} must be 0.00 or more, got {text}")
    if amount > MAX_AMOUNT:
        raise InvalidInput(f"{field} must be at most {MAX_AMOUNT}, got {text}")
    return amount.quantize(CENT)
