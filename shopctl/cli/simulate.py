"""``shopctl simulate``: concurrent virtual shoppers on a catalog of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopctl.cli.output import Output, OutputFormat

if TYPE_CHECKING:
    from shopctl.simulation.report import SimulationReport

LATENCY_COLUMNS = ("step", "count", "p50", "p95", "p99", "max")


def render(output: Output, report: SimulationReport, fmt: OutputFormat) -> None:
    data = report.as_json()
    if fmt is OutputFormat.json:
        output.json(data)
        return
    outcomes = data["outcomes"]
    invariants = data["invariants"]
    summary = {
        "run": f"{report.run_id} (seed {report.seed})",
        "flows": f"{report.flows} in {data['duration_seconds']} s",
        "flows/s": report.flows_per_second,
        "paid orders/s": report.orders_per_second,
        "outcomes": " · ".join(f"{name} {count}" for name, count in outcomes.items()),
        "invariants": (
            f"ok: {invariants['units_sold']} sold of {invariants['stock']} in stock, "
            f"{invariants['units_reserved']} reserved"
            if invariants["ok"]
            else f"BROKEN ({len(invariants['violations'])})"
        ),
        "data": "removed" if report.cleaned_up else f"kept (SKU prefix SIM-{report.run_id}-)",
    }
    output.record(summary, OutputFormat.table, title="simulation")
    rows = [{"step": step, **values} for step, values in data["latency_ms"].items()]
    output.rows(rows, LATENCY_COLUMNS, OutputFormat.table, empty="no latency samples")
    for violation in invariants["violations"]:
        output.record({"violation": violation}, OutputFormat.table)
    for error in report.error_samples:
        output.record({"error": error}, OutputFormat.table)
