"""Reading ahead in a thread keeps the order, hands errors over and stops with its consumer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from shopctl.application.ports import in_step
from shopctl.infrastructure.read_ahead import in_background


def test_items_arrive_in_order() -> None:
    with in_background(iter(range(100))) as items:
        assert list(items) == list(range(100))
    with in_step(iter(range(3))) as items:
        assert list(items) == [0, 1, 2]


def test_an_error_of_the_producer_is_raised_in_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("line 3: not CSV")

    with in_background(broken()) as items, pytest.raises(ValueError, match="line 3"):
        list(items)


def test_leaving_early_stops_the_producer() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    with in_background(endless(), ahead=1) as items:
        assert next(iter(items)) == 0
    assert not any(t.name == "shopctl-producer" for t in threading.enumerate())
    assert len(produced) <= 3  # the one taken, the one waiting, the one being put


def test_the_switch_interval_is_short_while_reading_ahead_and_restored_after() -> None:
    import sys

    from shopctl.infrastructure.read_ahead import SWITCH_INTERVAL

    before = sys.getswitchinterval()
    with in_background(iter([1])) as items:
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        list(items)
    assert sys.getswitchinterval() == before
