"""bench/checkout measures simulate's and the server's CPU per paid order while the flows ran,
from samples of the CPU and of the paid orders taken as simulate runs."""

from __future__ import annotations

from types import ModuleType


def samples(paid: list[int]) -> list[tuple[float, float, float, int]]:
    """A sample every 0.25 s: simulate spends 2 ms and the server 3 ms of CPU per paid order,
    and 50 ms each on every sample without a new paid order (start-up, set-up, clean-up)."""
    taken, client, server, before = [], 0.0, 0.0, paid[0]
    for index, count in enumerate(paid):
        new = max(0, count - before)
        client += 0.002 * new if new else 0.05
        server += 0.003 * new if new else 0.05
        taken.append((index * 0.25, client, server, count))
        before = count
    return taken


def test_the_window_is_the_flows_only_even_when_the_run_removes_its_orders_at_the_end(
    bench_checkout: ModuleType,
) -> None:
    rising = [600 + 100 * step for step in range(21)]  # 600 kept from the warm-up
    paid = [600, 600, 600, *rising, 2600, 600, 600]  # then simulate removes its run's orders
    flowing = bench_checkout.cpu_while_flowing(samples(paid))
    assert flowing is not None
    client, server = flowing
    assert round(client, 6) == 2.0
    assert round(server, 6) == 3.0


def test_too_short_a_run_has_no_window(bench_checkout: ModuleType) -> None:
    assert bench_checkout.cpu_while_flowing(samples([600, 700, 600])) is None
    assert bench_checkout.cpu_while_flowing([]) is None
