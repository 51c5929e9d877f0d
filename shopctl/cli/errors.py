"""The one place that maps an error kind to an exit code, and words each hint as a command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shopctl.domain.errors import ErrorKind, Hint

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
9 check failed (audit, replay, simulate) · 130 interrupted (Ctrl-C) ·
143 terminated (SIGTERM)."""

HINTS: dict[Hint, str] = {
    Hint.LOG_IN: "run `shopctl users login`",
    Hint.ADD_TO_CART: "add products with `shopctl cart add SKU`",
    Hint.TRY_ANOTHER_CARD: "try another card: shopctl pay order ID --card NUMBER",
    Hint.RUN_AGAIN: "this is transient: run the same command again",
    Hint.MIGRATE: "run `shopctl db upgrade`",
    Hint.CHECK_DATABASE_URL: (
        "check --database-url / SHOPCTL_DATABASE_URL, or unset it to use the embedded server"
    ),
    Hint.INSTALL_EMBEDDED: "pip install 'shopctl[embedded]', or set SHOPCTL_DATABASE_URL",
}


def hint_text(hint: Hint | str | None) -> str | None:
    """What the user reads: a ``Hint`` as the command line to run, a sentence as it is."""
    return HINTS[hint] if isinstance(hint, Hint) else hint


@contextmanager
def outcome_unknown(what: str, check: str) -> Iterator[None]:
    """For a command whose effect may have happened when its connection broke or Ctrl-C came
    (the server may have committed the last step before the client heard): say so, how to
    find out (``check``, a command), and that running it again is safe."""
    from shopctl.application.errors import ConnectionLost, Interrupted

    find_out = f"`{check}` tells; running the same command again is safe"
    try:
        yield
    except ConnectionLost as lost:
        raise ConnectionLost(f"{lost.message}; {what} may have happened", hint=find_out) from lost
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(f"{what} may have happened: {find_out}") from None
