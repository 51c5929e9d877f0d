"""shopctl's purchase flows as Locust users: ``simulate --processes/--master/--worker`` and
the packaged locustfile (the optional extra ``shopctl[load]``).

Locust runs its users as gevent greenlets, and psycopg cooperates with gevent only when
gevent's monkey-patching came first: psycopg picks its wait function when it is imported.
Importing this package imports Locust, which patches; it refuses to run in a process that
imported psycopg before it (its waits would block every other user of the process).
"""

from __future__ import annotations

import sys

from shopctl.domain.errors import InvalidInput

if "psycopg" in sys.modules and "gevent.monkey" not in sys.modules:
    raise RuntimeError(
        "shopctl.load must be imported before psycopg: gevent patches first, or psycopg's"
        " waits block every greenlet"
    )

try:
    import locust  # noqa: F401  (patches the standard library for gevent)
except ModuleNotFoundError as missing:  # pragma: no cover - the dev extra brings it in
    raise InvalidInput(
        "running on Locust workers needs the load extra",
        hint="pip install 'shopctl[load]'",
    ) from missing
