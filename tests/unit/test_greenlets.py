"""The hub that runs simulate's workers as greenlets on one thread: a worker that waits for
its socket lets the others run, sleeps end in order, a Ctrl-C lets the running work end."""

from __future__ import annotations

import socket
from collections.abc import Generator
from functools import partial

import pytest
from psycopg.waiting import Ready, Wait

from shopctl.application.errors import TransientConflict
from shopctl.application.retry import run_with_retries
from shopctl.simulation.greenlets import Hub


def read_when_ready(
    sock: socket.socket, log: list[str], name: str
) -> Generator[Wait, Ready | int, str]:
    """A generator in psycopg's manner: it yields what it waits for, and returns the data."""
    log.append(f"{name} waits")
    ready = yield Wait.R
    assert ready & Ready.R, "sent what is ready: readable"
    return sock.recv(100).decode()


def test_a_worker_waiting_for_its_socket_lets_the_others_run() -> None:
    hub = Hub()
    log: list[str] = []
    a_here, a_there = socket.socketpair()
    b_here, b_there = socket.socketpair()

    def a() -> None:
        log.append("a got " + hub.wait(read_when_ready(a_here, log, "a"), a_here.fileno()))

    def b() -> None:
        log.append("b runs while a waits")
        a_there.send(b"a's answer")  # what a waits for comes only from b
        log.append("b got " + hub.wait(read_when_ready(b_here, log, "b"), b_here.fileno()))

    def c() -> None:
        hub.sleep(0.01)
        b_there.send(b"b's answer")

    for work in (a, b, c):
        hub.spawn(work)
    ticks: list[int] = []
    hub.run(60, lambda: ticks.append(1), lambda: None)
    assert log == [
        "a waits",
        "b runs while a waits",
        "b waits",
        "a got a's answer",
        "b got b's answer",
    ]
    assert ticks == [1]  # once at the end (the interval never passed)
    for each in (a_here, a_there, b_here, b_there):
        each.close()


def test_sleepers_wake_in_the_order_of_their_time() -> None:
    hub = Hub()
    woke: list[float] = []

    def sleeper(seconds: float) -> None:
        hub.sleep(seconds)
        woke.append(seconds)

    for seconds in (0.03, 0.01, 0.02, 0):
        hub.spawn(partial(sleeper, seconds))
    hub.run(60, lambda: None, lambda: None)
    assert woke == [0, 0.01, 0.02, 0.03]


def test_a_ctrl_c_in_the_hub_stops_the_work_and_is_raised_once_it_ended() -> None:
    hub = Hub()
    stopped: list[bool] = []
    rounds: list[int] = []

    def work() -> None:
        while not stopped:
            rounds.append(1)
            hub.sleep(0.001)

    def tick() -> None:
        if not stopped and len(rounds) >= 3:
            raise KeyboardInterrupt

    hub.spawn(work)
    with pytest.raises(KeyboardInterrupt):
        hub.run(0.001, tick, lambda: stopped.append(True))
    assert stopped == [True]  # and the worker ended by itself: run() returned
    assert len(rounds) >= 3


def test_waiting_outside_the_hub_is_a_bug() -> None:
    hub = Hub()
    with pytest.raises(AssertionError, match="hub's greenlets"):
        hub.sleep(1)


def test_a_retry_pauses_in_the_hub_and_lets_the_others_run() -> None:
    hub = Hub()
    log: list[str] = []

    def lost_a_race_once() -> str:
        log.append("attempt")
        if log.count("attempt") == 1:
            raise TransientConflict("a concurrent change")
        return "done"

    hub.spawn(lambda: log.append(run_with_retries(lost_a_race_once)))
    hub.spawn(lambda: log.append("the other ran"))
    hub.run(60, lambda: None, lambda: None)
    assert log == ["attempt", "the other ran", "attempt", "done"]
