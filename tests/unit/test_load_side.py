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


LAST_TALLY_RACE = """
import shopctl.load  # gevent patches first
import gevent
from shopctl.load.shoppers import Side

side = Side(shop_factory=lambda name: None)
side.begin(
    {"options": {}, "products": [], "shoppers": [], "share": [0, 1]},
    lambda want: None,  # the master's answer comes later
)
sent = []

def send(kind, tally):  # sending yields: the master's last answer arrives meanwhile
    sent.append(tally["finished"])
    if len(sent) == 1:
        side.source.given([])  # no flow is left: the process is finished from now on

side._send = send
with gevent.Timeout(30):
    side._report()
print(" ".join(str(finished) for finished in sent))
"""


def test_the_last_tally_a_worker_sends_says_it_finished() -> None:
    """A process that became finished while it sent a tally saying otherwise sends one more:
    the master waits for a tally that says finished (else it waited for ever, about one run
    in ten on two worker processes under load)."""
    done = subprocess.run(
        [sys.executable, "-c", LAST_TALLY_RACE],
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


RUN_SENT_AGAIN = """
import shopctl.load  # gevent patches first
from shopctl.infrastructure.db.simulation import SimulatedProduct, SimulatedShopper
from shopctl.load.coordinator import Coordinator
from shopctl.load.shoppers import JOIN, RUN, Side
from shopctl.simulation.plan import SimulationOptions
from shopctl.simulation.runner import Run

class Message:
    def __init__(self, node_id):
        self.node_id, self.data = node_id, None

class Master:  # what the coordinator uses of Locust's MasterRunner
    def __init__(self):
        self.listeners, self.sent = {}, []
    def register_message(self, kind, listener):
        self.listeners[kind] = listener
    def send_message(self, kind, data, client_id):
        self.sent.append((kind, client_id, data["share"]))

shoppers = [SimulatedShopper(i, f"s{i}@r.simulate.invalid") for i in range(1, 5)]
run = Run("r", SimulationOptions(shoppers=4, concurrency=2), [SimulatedProduct(1, "A")], shoppers)
master = Master()
coordinator = Coordinator(master, run)
master.listeners[JOIN](Message("a"))  # before the run began: nothing to send yet
coordinator.begin(["a", "b"])
master.listeners[JOIN](Message("b"))  # b listens only now: its run again, its own share
master.listeners[JOIN](Message("c"))  # not a worker of this run
print(master.sent)

side = Side(shop_factory=lambda name: None)
first = {"options": {}, "products": [], "shoppers": [[1, "s1@x.invalid"]], "share": [1, 2]}
side.begin(first, lambda want: None)
side.begin({**first, "share": [0, 2], "shoppers": []}, lambda want: None)  # sent again
print(side.shoppers.qsize(), side.begun)
"""


def test_a_worker_that_listens_late_is_sent_its_run_again_and_begins_once() -> None:
    """Locust's worker connects before it can register a listener: a run the master sent in
    between was dropped, and that worker never began (the master then waited for ever, about
    one run in twenty on two worker processes under load). A worker says when it listens
    (``JOIN``); the master sends its run again, and a run that came twice begins once."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_SENT_AGAIN],
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    sent, rest = done.stdout.strip().splitlines()
    run = "shopctl_run"  # shoppers.RUN (importing it here would let Locust patch this process)
    assert sent == str([(run, "a", [0, 2]), (run, "b", [1, 2]), (run, "b", [1, 2])])
    assert rest == "1 True"
