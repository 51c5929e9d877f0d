"""A Locust worker process's side of a run (``load.shoppers``), in a process of its own:
Locust patches the standard library for gevent as it is imported."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.conftest import clean_environ

STOPPED_WHILE_WAITING = """
import shopctl.load  # gevent patches first
import gevent
from shopctl.load.shoppers import Shopper, Side

from gevent.queue import Queue

class Shoppers(Queue):  # counts the users waiting for a shopper
    waiting = 0

    def get(self, *args, **kwargs):
        self.waiting += 1
        try:
            return super().get(*args, **kwargs)
        finally:
            self.waiting -= 1

side = Side(shop_factory=lambda name: None)
side.shoppers = Shoppers()
requested = []
side.begin(
    {"options": {}, "products": [], "shoppers": [[1, "s1@r.simulate.invalid"]], "share": [0, 1]},
    lambda want: (requested.append(want), side.source.given([len(requested) - 1])),
)

class User:  # what Shopper.flow uses of a Locust user
    side = None
    worker = None

user = User()
user.side = side
held = side.shoppers.get()  # another user runs a flow with the only shopper
waiting = gevent.spawn(Shopper.flow, user)
for _ in range(100):  # it runs until it waits for a shopper
    if side.shoppers.waiting:
        break
    gevent.sleep(0)
assert not waiting.dead and side.shoppers.waiting == 1, "the user did not wait"
waiting.kill()  # Locust stops it while it waits
side.shoppers.put(held)
side.source.given([])  # no more flows
print(side.in_flight, side.taking, len(requested), side.finished)
"""


def test_a_user_stopped_while_it_waits_for_a_shopper_leaves_no_flow_running() -> None:
    """A process may have more Locust users than shoppers; a user stopped while it waits for
    one (Locust moves users between workers) must not hold a flow, or the process would never
    be finished, and a run on workers would wait for that flow forever."""
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_WHILE_WAITING],
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    in_flight, taking, requested, finished = done.stdout.split()
    assert (in_flight, taking, requested, finished) == ("0", "0", "0", "True")
