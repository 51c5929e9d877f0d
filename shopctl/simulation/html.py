"""``simulate --html FILE``: the run's report as one self-contained HTML page.

The charts are drawn by matplotlib as SVG and put inline (text as paths: no fonts to fetch),
the style sheet is inline too, and the page has no script: it opens offline, in any browser,
years later. Every text from the run (SKUs, error messages, options) is escaped.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopctl.simulation.report import SimulationReport

# Fixed colours, so that a reader (and a test looking at the rendered page) can tell them apart
FLOWS_COLOUR, PAID_COLOUR = "#2ca02c", "#9467bd"
PERCENTILE_COLOURS = {"p50": "#1f77b4", "p95": "#ff7f0e", "p99": "#d62728"}
CHART_STEPS = ("browse", "cart", "place", "pay", "cancel", "flow")

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { text-align: left; padding: .25rem .8rem; border-bottom: 1px solid #ddd; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; font-weight: 600; } .broken { color: #cf222e; font-weight: 600; }
figure { margin: 1rem 0; } svg { max-width: 100%; height: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="number">{_e(cell)}</td>'
            if isinstance(cell, int | float)
            else f"<td>{_e(cell)}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # the XML prologue and DOCTYPE are not HTML
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)


def charts(timeline: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """Throughput and latency over time, one point per second, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plt.rcParams["svg.fonttype"] = "path"
    plt.rcParams["svg.hashsalt"] = "shopctl"
    seconds = [point["second"] for point in timeline]
    figure, axes = plt.subplots(figsize=(10, 3.2))
    axes.plot(seconds, [p["flows"] for p in timeline], color=FLOWS_COLOUR, label="flows/s")
    axes.plot(
        seconds, [p["paid_orders"] for p in timeline], color=PAID_COLOUR, label="paid orders/s"
    )
    axes.set_xlabel("second of the run")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("per second")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    throughput = _svg(figure)
    plt.close(figure)

    steps = [s for s in CHART_STEPS if any(s in p["latency_ms"] for p in timeline)]
    latency = ""
    if steps:
        figure, grid = plt.subplots(
            len(steps), 1, figsize=(10, 2.3 * len(steps)), sharex=True, squeeze=False
        )
        for axes, step in zip(grid[:, 0], steps, strict=True):
            points = [p for p in timeline if step in p["latency_ms"]]
            for name, colour in PERCENTILE_COLOURS.items():
                axes.plot(
                    [p["second"] for p in points],
                    [p["latency_ms"][step][name] for p in points],
                    color=colour,
                    label=name,
                    marker="o" if len(points) < 3 else None,
                )
            axes.set_title(step, loc="left", fontsize=11)
            axes.set_ylabel("ms")
            axes.set_ylim(bottom=0)
            axes.grid(alpha=0.3)
        grid[0, 0].legend(loc="upper right", ncols=3)
        grid[-1, 0].set_xlabel("second of the run")
        grid[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        latency = _svg(figure)
        plt.close(figure)
    return throughput, latency


def render_html(report: SimulationReport) -> str:
    data = report.as_json()
    throughput, latency = charts(data["timeline"])
    verdict = (
        '<span class="ok">passed</span>' if report.ok else '<span class="broken">FAILED</span>'
    )
    summary = [
        ("run", f"{report.run_id} (seed {report.seed})"),
        ("model", "closed loop" if data["rate"] is None else f"open, {data['rate']}"),
        ("flows", f"{report.flows} in {data['duration_seconds']} s"),
        ("flows/s", report.flows_per_second),
        ("paid orders/s", report.orders_per_second),
        ("processes", report.processes),
        ("data", "removed" if report.cleaned_up else "kept"),
    ]
    invariants = data["invariants"]
    audit = [
        ("invariants", "hold" if invariants["ok"] else "BROKEN"),
        ("products", invariants["products"]),
        ("stock", invariants["stock"]),
        ("units sold", invariants["units_sold"]),
        ("units reserved", invariants["units_reserved"]),
        *(("violation", v) for v in invariants["violations"]),
    ]
    sections = [
        f"<h1>shopctl simulate: {verdict}</h1>",
        _table(("", ""), summary),
        "<h2>Throughput</h2>",
        f"<figure>{throughput}</figure>",
        "<h2>Latency per step (ms)</h2>",
        _table(
            ("step", "count", "p50", "p95", "p99", "max"),
            [
                (step, v["count"], v["p50"], v["p95"], v["p99"], v["max"])
                for step, v in data["latency_ms"].items()
            ],
        ),
        f"<figure>{latency}</figure>" if latency else "<p>no latency samples</p>",
        "<h2>Outcomes</h2>",
        _table(("outcome", "flows"), list(data["outcomes"].items())),
    ]
    if data["thresholds"]:
        rows = [(t.expr, "held" if t.held else "BROKEN", t.shown) for t in report.thresholds]
        sections += ["<h2>Thresholds</h2>", _table(("threshold", "result", "actual"), rows)]
    sections += ["<h2>Audit</h2>", _table(("", ""), audit)]
    if data["workers"]:
        workers = [(w["id"], w["flows"], w["state"], w["unfinished"]) for w in data["workers"]]
        sections += [
            "<h2>Workers</h2>",
            _table(("worker", "flows", "state", "unfinished"), workers),
        ]
    if data["errors"]:
        sections += ["<h2>Errors</h2>", _table(("error",), [(e,) for e in data["errors"]])]
    sections += ["<h2>Options</h2>", _table(("option", "value"), list(data["options"].items()))]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>shopctl simulate {_e(report.run_id)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
