"""The HTML report: self-contained, and what the run wrote in it is text, never markup."""

from __future__ import annotations

import dataclasses

from shopctl.simulation.html import render_html
from shopctl.simulation.report import ThresholdResult, WorkerReport
from tests.unit.test_simulation_parts import report

HOSTILE = '<script>alert("x")</script>'


def test_text_from_the_run_is_escaped_and_the_page_needs_nothing_else() -> None:
    timeline = tuple(
        {"second": s, "flows": 5, "paid_orders": 3,
         "latency_ms": {"pay": {"p50": 1.0, "p95": 2.0, "p99": 3.0}}}
        for s in range(3)
    )  # fmt: skip
    page = render_html(
        dataclasses.replace(
            report(violations=(f"SIM-x: {HOSTILE}",)),
            error_samples=(f"flow 3: {HOSTILE}",),
            timeline=timeline,
            thresholds=(ThresholdResult("pay.p95<1ms", held=False, actual=2.0, unit="ms"),),
            workers=(WorkerReport("host_1", 7, "lost", 2),),
        )
    )
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert page.count("<svg") == 2  # throughput, and latency per step
    for shown in ("FAILED", "pay.p95&lt;1ms", "BROKEN", "2 ms", "host_1", "lost", "ab12cd"):
        assert shown in page, shown
    assert "<link" not in page and "<img" not in page


def test_a_run_without_samples_still_has_a_page() -> None:
    page = render_html(report())
    assert "no latency samples" in page and page.count("<svg") == 1
