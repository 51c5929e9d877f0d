"""shopctl's purchase flows for Locust's own front end:

    locust -f "$(shopctl simulate --locustfile)" --headless -u 10 -r 5 -t 30s
    locust -f "$(shopctl simulate --locustfile)"            # the web UI, on port 8089

Each step is a request of its own kind (browse, cart, place, pay, cancel). When a test
starts, shopctl creates the run's catalog and shoppers; when it stops, it audits, removes
the run's data unless --keep, prints its report and sets the exit code (0, or 9 when an
invariant broke). The database and the admin session are those of shopctl's configuration
(SHOPCTL_DATABASE_URL, SHOPCTL_PROFILE or --shopctl-profile; log in first).
"""

from __future__ import annotations

from typing import Any

from locust import events

import shopctl.load  # noqa: F401  (first: gevent patches before psycopg is imported)
from shopctl.load.hosted import add_arguments, install
from shopctl.load.shoppers import Shopper

__all__ = ["Shopper"]


def _arguments(parser: Any, **_: Any) -> None:
    add_arguments(parser)


def _init(environment: Any, **_: Any) -> None:
    install(environment)


events.init_command_line_parser.add_listener(_arguments)
events.init.add_listener(_init)
