"""Latency statistics of a simulation run: samples per step, percentiles."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


def percentile(sorted_samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0…1) percentile of ascending samples, linearly interpolated
    between the two nearest ranks (as numpy's default does)."""
    if not sorted_samples:
        raise ValueError("no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    position = (len(sorted_samples) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    weight = position - low
    return sorted_samples[low] * (1 - weight) + sorted_samples[high] * weight


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> LatencySummary:
        samples = sorted(s * 1000 for s in seconds)
        if not samples:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        return cls(
            count=len(samples),
            p50=round(percentile(samples, 0.50), 2),
            p95=round(percentile(samples, 0.95), 2),
            p99=round(percentile(samples, 0.99), 2),
            max=round(samples[-1], 2),
        )


class LatencyRecorder:
    """Samples of one worker (no lock: each worker thread has its own recorder), each with
    the instant it ended (``time.perf_counter``), for the run's timeline."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.samples: dict[str, list[float]] = {}
        self.ended: dict[str, list[float]] = {}
        self._clock = clock

    def add(self, step: str, seconds: float) -> None:
        self.samples.setdefault(step, []).append(seconds)
        self.ended.setdefault(step, []).append(self._clock())

    @staticmethod
    def summarise(
        recorders: Iterable[LatencyRecorder], order: Sequence[str]
    ) -> dict[str, LatencySummary]:
        """Merge the workers' samples; steps in ``order`` first, then any other."""
        merged: dict[str, list[float]] = {}
        for recorder in recorders:
            for step, samples in recorder.samples.items():
                merged.setdefault(step, []).extend(samples)
        steps = [s for s in order if s in merged] + sorted(set(merged) - set(order))
        return {step: LatencySummary.of(merged[step]) for step in steps}


def timeline(
    recorders: Iterable[LatencyRecorder],
    paid_at: Iterable[float],
    *,
    start: float,
    seconds: float,
    order: Sequence[str],
) -> list[dict[str, object]]:
    """One point per second of the run: flows ended and orders paid in that second, and the
    p50/p95/p99 (ms) of each step's samples that ended in it (steps without one left out).
    A last part of a second shorter than half of one counts into the second before it: a
    point for the last few milliseconds would show a rate that never was."""
    count = max(1, round(seconds))
    buckets: list[dict[str, list[float]]] = [{} for _ in range(count)]
    for recorder in recorders:
        for step, samples in recorder.samples.items():
            for sample, ended in zip(samples, recorder.ended[step], strict=True):
                second = min(count - 1, max(0, int(ended - start)))
                buckets[second].setdefault(step, []).append(sample * 1000)
    paid = [0] * count
    for instant in paid_at:
        paid[min(count - 1, max(0, int(instant - start)))] += 1
    points: list[dict[str, object]] = []
    for second, bucket in enumerate(buckets):
        latency = {}
        for step in (s for s in order if s in bucket):
            ordered = sorted(bucket[step])
            latency[step] = {
                name: round(percentile(ordered, fraction), 2)
                for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
            }
        points.append(
            {
                "second": second,
                "flows": len(bucket.get("flow", [])),
                "paid_orders": paid[second],
                "latency_ms": latency,
            }
        )
    return points
