"""The benchmark chart: one PNG, two panels.

Left: events/s of each contender, bars grouped by back end, log scale, each bar labelled with
its rate and its ratio to the raw loop; the naive projector's bar is hatched (measured on a
sample, extrapolated); the broker's ceiling is a dashed horizontal line. Right: end-to-end
latency p50 (solid) and p99 (dashed) against the input rate asked, one colour per back end,
log scale.

Log scales cannot show zero or missing values: those are left out of the plot (a zero rate
is written as a label at the foot of its group) and a panel with nothing to show says so.
matplotlib is imported inside the functions, with the Agg canvas named explicitly, so
importing `streams.bench` stays cheap and no GUI back end is ever picked.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from streams.bench.model import CONTENDERS, BenchReport
from streams.bench.report import (
    BACKENDS,
    backend_label,
    fmt_count,
    fmt_ratio,
    fmt_sig,
    report_when,
    table_backends,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["build_figure", "render_chart"]

_CONTENDER_NAMES = {"raw": "raw loop", "replay": "onestop replay", "worker": "live worker",
                    "naive": "naive ORM (sample, extrapolated)"}
_CONTENDER_COLOURS = {"raw": "#4c72b0", "replay": "#55a868", "worker": "#dd8452",
                      "naive": "#c44e52"}
_BACKEND_COLOURS = {"sqlite": "#4c72b0", "postgresql": "#dd8452"}
_OTHER_COLOUR = "#8172b3"


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _empty(ax: Axes, title: str, message: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            fontsize=11, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def _throughput(ax: Axes, report: BenchReport) -> None:
    title = "Throughput (events/s, log scale)"
    backends = table_backends(report)
    contenders = [c for c in CONTENDERS if c != "ceiling"
                  and any(report.run(c, b) is not None for b in backends)]
    ceilings = [r.events_per_s for r in report.runs
                if r.backend == "kafka" and _positive(r.events_per_s)]
    values = [run.events_per_s for b in backends for c in contenders
              if (run := report.run(c, b)) is not None and _positive(run.events_per_s)]
    if not values and not ceilings:
        _empty(ax, title, "no throughput measured")
        return
    low, high = min(values + ceilings), max(values + ceilings)
    ax.set_yscale("log")
    ax.set_ylim(low / 4, high * 12)  # room below for zero labels, above for value labels
    width = 0.8 / max(len(contenders), 1)
    for i, contender in enumerate(contenders):
        for j, backend in enumerate(backends):
            run = report.run(contender, backend)
            if run is None:
                continue
            x = j - 0.4 + width * (i + 0.5)
            rate = run.events_per_s
            if not _positive(rate):
                ax.text(x, low / 3, "0", ha="center", va="bottom", fontsize=8)
                continue
            ax.bar(x, rate, width * 0.92, color=_CONTENDER_COLOURS.get(contender, _OTHER_COLOUR),
                   hatch="//" if run.sample_events is not None else None, edgecolor="white",
                   label=_CONTENDER_NAMES.get(contender, contender) if j == 0 else None)
            ratio = report.ratio(contender, backend)
            label = fmt_sig(rate) + ("" if contender == "raw" or ratio is None
                                     else f"\n{fmt_ratio(ratio)}")
            ax.text(x, rate * 1.15, label, ha="center", va="bottom", fontsize=7.5)
    for ceiling in ceilings[:1]:
        ax.axhline(ceiling, color="#333333", linestyle="--", linewidth=1.2,
                   label=f"broker ceiling {fmt_sig(ceiling)}/s")
    ax.set_xticks(range(len(backends)), [backend_label(b) for b in backends])
    ax.set_xlim(-0.6, max(len(backends), 1) - 0.4)
    ax.set_ylabel("events/s")
    ax.set_title(title + "; labels: rate, × raw loop")
    ax.grid(axis="y", which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", ncol=2, frameon=False)


def _latency(ax: Axes, report: BenchReport) -> None:
    title = "End-to-end latency: produce → visible in portal"
    points = [x for x in report.latency if _positive(x.p50_ms) or _positive(x.p99_ms)]
    if not points:
        _empty(ax, title, "latency not measured" if not report.latency
               else "latency all zero (below poll resolution)")
        return
    rates = sorted({x.rate for x in report.latency})
    position = {rate: i for i, rate in enumerate(rates)}
    backends = [b for b in BACKENDS if any(x.backend == b for x in report.latency)]
    backends += sorted({x.backend for x in report.latency} - set(backends))
    for backend in backends:
        rows = sorted((x for x in report.latency if x.backend == backend), key=lambda x: x.rate)
        colour = _BACKEND_COLOURS.get(backend, _OTHER_COLOUR)
        xs = [position[x.rate] for x in rows]
        for field, style, marker in (("p50_ms", "-", "o"), ("p99_ms", "--", "^")):
            ys = [v if _positive(v := float(getattr(x, field))) else math.nan for x in rows]
            ax.plot(xs, ys, linestyle=style, marker=marker, color=colour,
                    label=f"{backend_label(backend)} {field[:3]}")
            for x, y in zip(xs, ys, strict=True):
                if _positive(y):
                    ax.annotate(fmt_sig(y), (x, y), textcoords="offset points", xytext=(0, 6),
                                ha="center", fontsize=7.5, color=colour)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rates)), [fmt_sig(r) for r in rates])
    ax.set_xlim(-0.5, len(rates) - 0.5)
    ax.margins(y=0.25)
    poll = max(x.poll_ms for x in report.latency)
    ax.set_xlabel(f"input rate asked (events/s); visibility polled every ≤ {fmt_sig(poll)} ms")
    ax.set_ylabel("ms (log scale)")
    ax.set_title(title)
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", frameon=False)


def build_figure(report: BenchReport) -> Figure:
    """The two-panel figure on an Agg canvas (not yet saved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=[1.35, 1])
    _throughput(left, report)
    _latency(right, report)
    figure.suptitle(f"onestop-sync benchmark · {report_when(report)} · "
                    f"{fmt_count(report.workload.events)} events", fontsize=12)
    return figure


def render_chart(report: BenchReport, path: Path) -> None:
    """Write the chart as a PNG to `path` (its folder must exist)."""
    build_figure(report).savefig(path, format="png")
