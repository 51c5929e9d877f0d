"""Thresholds: pass/fail conditions on a simulation's report, for CI gates (as k6 has).

``pay.p95<300ms`` (a step's latency percentile or maximum, with a duration), ``errors==0``
(a count of outcomes), ``orders_per_second>50`` or ``flows_per_second>50`` (a rate). Each
is parsed before anything runs (a malformed one is exit 2) and judged on the report: held or
broken, with the value it was judged on.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from shopctl.domain.errors import InvalidInput
from shopctl.simulation.plan import DURATION_PATTERN, DURATION_UNITS
from shopctl.simulation.report import OUTCOMES, STEPS, SimulationReport, ThresholdResult

STATISTICS = ("p50", "p95", "p99", "max")
RATES = ("orders_per_second", "flows_per_second")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_FORM = re.compile(r"\s*([a-z_]+(?:\.[a-z0-9]+)?)\s*(<=|>=|==|<|>)\s*(\S+)\s*")
FORMS = "STEP.p50|p95|p99|max<DURATION, errors==N (or another outcome), orders_per_second>N"


@dataclass(frozen=True)
class Threshold:
    expr: str
    metric: str  # "pay.p95", "errors", "orders_per_second"
    compare: str  # one of OPERATORS
    limit: float  # milliseconds for a latency, else the number itself

    @property
    def is_latency(self) -> bool:
        return "." in self.metric


def parse_threshold(text: str) -> Threshold:
    """One ``--threshold`` expression; ``InvalidInput`` (exit 2) says what is wrong."""
    match = _FORM.fullmatch(text)
    if not match:
        raise InvalidInput(f"--threshold {text!r}: write it as {FORMS}")
    metric, compare, value = match.groups()
    if "." in metric:
        step, statistic = metric.split(".")
        if step not in STEPS:
            raise InvalidInput(
                f"--threshold {text!r}: no step {step!r} (steps: {', '.join(STEPS)})"
            )
        if statistic not in STATISTICS:
            raise InvalidInput(
                f"--threshold {text!r}: {statistic!r} is not one of {', '.join(STATISTICS)}"
            )
        duration = DURATION_PATTERN.fullmatch(value.lower())
        if not duration or duration.group(2) is None:
            raise InvalidInput(f"--threshold {text!r}: {value!r} is not a duration such as 300ms")
        limit = float(duration.group(1)) * DURATION_UNITS[duration.group(2)] * 1000
    elif metric in RATES or metric in OUTCOMES:
        try:
            limit = float(value)
        except ValueError:
            raise InvalidInput(f"--threshold {text!r}: {value!r} is not a number") from None
        if not math.isfinite(limit):
            raise InvalidInput(f"--threshold {text!r}: {value!r} is not a number")
    else:
        known = ", ".join((*RATES, *OUTCOMES))
        raise InvalidInput(
            f"--threshold {text!r}: {metric!r} is neither a STEP.statistic nor one of {known}"
        )
    return Threshold(text.strip(), metric, compare, limit)


def parse_thresholds(texts: Sequence[str]) -> tuple[Threshold, ...]:
    return tuple(parse_threshold(text) for text in texts)


def judged(report: SimulationReport, thresholds: Sequence[Threshold]) -> SimulationReport:
    """The report with each threshold judged on it."""
    return replace(report, thresholds=tuple(judge(t, report) for t in thresholds))


def judge(threshold: Threshold, report: SimulationReport) -> ThresholdResult:
    actual = _actual(threshold, report)
    held = actual is not None and OPERATORS[threshold.compare](actual, threshold.limit)
    return ThresholdResult(threshold.expr, held, actual, "ms" if threshold.is_latency else "")


def _actual(threshold: Threshold, report: SimulationReport) -> float | None:
    if threshold.is_latency:
        step, statistic = threshold.metric.split(".")
        summary = report.latency.get(step)
        if summary is None or summary.count == 0:
            return None
        return float(getattr(summary, statistic))
    if threshold.metric == "orders_per_second":
        return report.orders_per_second
    if threshold.metric == "flows_per_second":
        return report.flows_per_second
    return float(report.outcomes.get(threshold.metric, 0))
