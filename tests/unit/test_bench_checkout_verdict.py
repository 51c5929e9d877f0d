"""bench/checkout's verdict weighs all three checkout targets, on the medians of its rounds."""

from __future__ import annotations

from types import ModuleType


def test_every_target_met_is_ok(bench_checkout: ModuleType) -> None:
    assert bench_checkout.verdict([0.9, 0.8, 1.0], [0.5, 0.6, 0.55], [2.0, 2.5, 2.4]) == "OK"


def test_each_target_missed_is_named(bench_checkout: ModuleType) -> None:
    verdict = bench_checkout.verdict
    assert verdict([0.79], [0.6], [1.0]) == "BELOW TARGET (own SQL)"
    assert verdict([0.9], [0.49], [1.0]) == "BELOW TARGET (least SQL)"
    assert verdict([0.9], [0.6], [2.51]) == "BELOW TARGET (client CPU)"
    assert verdict([0.7], [0.4], [3.0]) == "BELOW TARGET (own SQL, least SQL, client CPU)"


def test_the_median_round_decides_not_the_best_or_the_worst(bench_checkout: ModuleType) -> None:
    verdict = bench_checkout.verdict
    assert verdict([0.9, 0.9, 0.9], [0.6, 0.6, 0.6], [1.0, 2.6, 2.7]) == "BELOW TARGET (client CPU)"
    assert verdict([0.9, 0.9, 0.9], [0.6, 0.6, 0.6], [1.0, 2.4, 2.7]) == "OK"
    assert verdict([0.5, 0.85, 0.9], [0.6, 0.6, 0.6], [1.0, 1.0, 1.0]) == "OK"
