"""The one place that maps an error kind to an exit code (README: Exit codes)."""

from __future__ import annotations

from shopctl.domain.errors import ErrorKind

EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.INTERNAL: 1,
    ErrorKind.INVALID_INPUT: 2,
    ErrorKind.NOT_AUTHENTICATED: 3,
    ErrorKind.FORBIDDEN: 4,
    ErrorKind.NOT_FOUND: 5,
    ErrorKind.CONFLICT: 6,
    ErrorKind.PAYMENT_FAILED: 7,
    ErrorKind.UNAVAILABLE: 8,
    ErrorKind.CHECK_FAILED: 9,
}

EXIT_CODES_HELP = """\
Exit codes: 0 success · 1 internal error · 2 invalid input · 3 not logged in /
session invalid · 4 forbidden · 5 not found · 6 conflict (business rule) ·
7 payment declined or failed · 8 database unreachable or schema outdated ·
9 check failed (audit, replay, simulate)."""
