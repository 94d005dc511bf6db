"""The benchmark report: the full Markdown, the short committed `BENCHMARKS.md`, and the
results folder (`write_results`: Markdown + JSON + PNG, stamped and as `latest.*`).

Everything here is a pure function of a `BenchReport` except `write_results`, which writes.

Checksum column — the rule. A contender's checksums are its `Run.digests` (projection ->
digest), compared on the same back end with the raw loop's, which is the reference:

- the raw loop itself reads `reference`; the broker ceiling (no database) reads `—`;
- a full run whose digests equal the raw loop's for every projection (same projection names,
  same values) reads `✓`; otherwise `✗` and the projections that differ or are missing;
- a run without digests reads `not checked`; a run on a back end where the raw loop has none
  reads `no reference`;
- a sampled run (`sample_events` set: the naive projector) cannot be compared with a full
  fold; the runner checks it against a reference fold of its own sample and folds the
  verdict into `BenchReport.checksums_equal[backend]`. So it reads `sample ✓` when that flag
  is true; `sample ✗` when the flag is false and every full run on that back end is `✓` (the
  sample is then the one that differed); `sample ?` otherwise. Its `note` (how it was
  checked) is printed under the table.

Numbers are for humans: thousands separators, three significant digits for rates, times and
sizes, two decimals for ratios below 10.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from streams.bench.model import CONTENDERS, BenchReport, Latency, Run, dumps

__all__ = [
    "BACKENDS",
    "backend_label",
    "benchmarks_md",
    "checksum_verdict",
    "contender_label",
    "fmt_count",
    "fmt_duration",
    "fmt_ratio",
    "fmt_sig",
    "machine_line",
    "render_markdown",
    "report_when",
    "result_stamp",
    "table_backends",
    "write_results",
]

BACKENDS = ("sqlite", "postgresql")
"""Database back ends in report order (the ceiling's back end is "kafka": no database)."""

_BACKEND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "kafka": "Kafka"}
_CONTENDER_LABELS = {
    "ceiling": "broker ceiling (ConsumerPerformance)",
    "raw": "raw loop",
    "replay": "`onestop replay`",
    "worker": "live worker (faust)",
    "naive": "naive ORM projector",
}
_MACHINE_ORDER = ("cpu_model", "cpus", "cpu_count", "memory_gb", "memory_mb", "os",
                  "platform", "python", "kafka", "apicurio", "postgres", "postgresql", "sqlite")
_DASH = "—"

# --- numbers ------------------------------------------------------------------------------


def fmt_count(value: int | None) -> str:
    """`1,000,000`; `—` for None."""
    return _DASH if value is None else f"{value:,}"


def fmt_sig(value: float | None, digits: int = 3) -> str:
    """`value` to `digits` significant digits with thousands separators: 41234 -> `41,200`,
    45.67 -> `45.7`, 0.01234 -> `0.0123`; `—` for None or NaN, `∞` for infinity."""
    if value is None or math.isnan(value):
        return _DASH
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = digits - 1 - magnitude
    return f"{_half_up(value, decimals):,.{max(decimals, 0)}f}"


def _half_up(value: float, decimals: int) -> Decimal:
    """`value` rounded half away from zero as written (0.625 -> 0.63, not float's 0.62)."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def fmt_ratio(value: float | None) -> str:
    """`0.88×`, `25.3×`, `0.0041×`; `—` when there is no ratio."""
    if value is None or math.isnan(value):
        return _DASH
    if math.isinf(value) or abs(value) >= 10:
        return f"{fmt_sig(value, 3)}×"
    if abs(value) >= 0.1:
        return f"{_half_up(value, 2):.2f}×"
    return f"{fmt_sig(value, 2)}×"


def fmt_duration(seconds: float | None) -> str:
    """`28.6 s`, `8.33 min`, `2.10 h`; `—` when unknown, `∞` when never."""
    if seconds is None or math.isnan(seconds):
        return _DASH
    if math.isinf(seconds):
        return "∞"
    if seconds < 120:
        return f"{fmt_sig(seconds)} s"
    if seconds < 7200:
        return f"{fmt_sig(seconds / 60)} min"
    return f"{fmt_sig(seconds / 3600)} h"


# --- labels and small views ---------------------------------------------------------------


def backend_label(backend: str) -> str:
    return _BACKEND_LABELS.get(backend, backend)


def contender_label(contender: str) -> str:
    return _CONTENDER_LABELS.get(contender, contender)


def table_backends(report: BenchReport) -> list[str]:
    """Database back ends that have runs: `BACKENDS` order first, then any other, sorted."""
    present = {r.backend for r in report.runs if r.backend != "kafka"}
    return [b for b in BACKENDS if b in present] + sorted(present - set(BACKENDS))


def _ordered_runs(runs: Iterable[Run]) -> list[Run]:
    rank = {c: i for i, c in enumerate(CONTENDERS)}
    return sorted(runs, key=lambda r: (rank.get(r.contender, len(rank)), r.contender))


def result_stamp(report: BenchReport) -> str:
    """`20250601T100000Z` from `started_at` (UTC); the raw text made file-safe otherwise."""
    parsed = _parse_time(report.started_at)
    if parsed is not None:
        return parsed.strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^0-9A-Za-z]+", "-", report.started_at).strip("-")
    return safe or "undated"


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def report_when(report: BenchReport) -> str:
    """`2025-06-01 10:00 UTC` from `started_at`; the raw text if it does not parse."""
    parsed = _parse_time(report.started_at)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else report.started_at


def _machine_items(machine: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) per machine fact; a nested mapping (`versions`) is spread into its keys."""
    flat: dict[str, Any] = {}
    for key, value in machine.items():
        if isinstance(value, dict):
            flat.update({str(k): v for k, v in value.items()})
        else:
            flat[key] = value
    keys = [k for k in _MACHINE_ORDER if k in flat]
    keys += sorted(k for k in flat if k not in _MACHINE_ORDER)
    return [(k.replace("_", " "), _scalar(flat[k])) for k in keys]


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_scalar(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_scalar(v) for v in value)
    return str(value)


def machine_line(report: BenchReport) -> str:
    """The machine on one line: `cpus 2 · platform … · python 3.11.2 · kafka 3.9.1 · …`."""
    return " · ".join(f"{k} {v}" for k, v in _machine_items(report.machine)) or "unknown"


def checksum_verdict(report: BenchReport, run: Run) -> str:
    """The checksum cell of `run` (the rule is in the module docstring)."""
    if run.backend == "kafka" or run.contender == "ceiling":
        return _DASH
    if run.sample_events is not None:
        flag = report.checksums_equal.get(run.backend)
        if flag is True:
            return "sample ✓"
        full = [r for r in report.runs if r.backend == run.backend and r.sample_events is None
                and r.contender != "raw"]
        if flag is False and all(checksum_verdict(report, r) == "✓" for r in full):
            return "sample ✗"
        return "sample ?"
    if not run.digests:
        return "not checked"
    if run.contender == "raw":
        return "reference"
    raw = report.run("raw", run.backend)
    if raw is None or not raw.digests:
        return "no reference"
    differing = sorted(k for k in raw.digests.keys() | run.digests.keys()
                       if raw.digests.get(k) != run.digests.get(k))
    return "✓" if not differing else "✗ " + ", ".join(differing)


def _extrapolation(report: BenchReport, run: Run) -> str:
    total = report.workload.events
    return (f"measured on {fmt_count(run.sample_events)} events, extrapolated: "
            f"{fmt_count(total)} events would take {fmt_duration(_seconds_for(run, total))}")


def _seconds_for(run: Run, events: int) -> float:
    return events / run.events_per_s if run.events_per_s else math.inf


# --- Markdown pieces ----------------------------------------------------------------------


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]],
           right: Sequence[int] = ()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _workload_lines(report: BenchReport) -> list[str]:
    w = report.workload

    def share(n: int) -> str:
        return f" ({n / w.events:.1%})" if w.events else ""

    load_rate = f" ({fmt_sig(w.events / w.load_seconds)} events/s)" if w.load_seconds > 0 else ""
    return [
        f"- events loaded: {fmt_count(w.events)} — catalogue {fmt_count(w.catalogue_events)}"
        f"{share(w.catalogue_events)}, dossier {fmt_count(w.dossier_events)}"
        f"{share(w.dossier_events)}",
        f"- dossiers: {fmt_count(w.dossiers)}",
        f"- seed: {w.seed}",
        f"- held back for the latency phase: {fmt_count(w.latency_events)} events",
        f"- load time: {fmt_duration(w.load_seconds)}{load_rate}",
    ]


def _ceiling_lines(report: BenchReport) -> list[str]:
    runs = _ordered_runs(r for r in report.runs if r.backend == "kafka")
    if not runs:
        return ["Not measured."]
    header = ["tool", "events", "events/s", "s per M events", "client CPU µs/event",
              "peak RSS MB"]
    backends = table_backends(report)
    header += [f"raw loop {backend_label(b)} / ceiling" for b in backends]
    rows = []
    for run in runs:
        row: list[object] = [contender_label(run.contender), fmt_count(run.events),
                             fmt_sig(run.events_per_s), fmt_duration(run.seconds_per_million),
                             fmt_sig(run.cpu_us_per_event), fmt_sig(run.peak_rss_mb)]
        for backend in backends:
            raw = report.run("raw", backend)
            row.append(fmt_ratio(raw.events_per_s / run.events_per_s)
                       if raw is not None and run.events_per_s else _DASH)
        rows.append(row)
    notes = [f"- {contender_label(r.contender)}: {r.note}" for r in runs if r.note]
    return [*_table(header, rows, right=range(1, len(header))), *(["", *notes] if notes else [])]


def _backend_lines(report: BenchReport, backend: str) -> list[str]:
    runs = _ordered_runs(r for r in report.runs if r.backend == backend)
    with_server = any(r.server_cpu_s is not None for r in runs)
    header = ["contender", "events", "events/s", "× raw loop", "client CPU µs/event"]
    header += ["server CPU µs/event"] if with_server else []
    header += ["peak RSS MB", "s per M events", "checksums"]
    rows = []
    for run in runs:
        events = fmt_count(run.events) + (" (sample)" if run.sample_events is not None else "")
        row: list[object] = [contender_label(run.contender), events, fmt_sig(run.events_per_s),
                             fmt_ratio(report.ratio(run.contender, backend)),
                             fmt_sig(run.cpu_us_per_event)]
        row += [fmt_sig(run.server_cpu_us_per_event)] if with_server else []
        row += [fmt_sig(run.peak_rss_mb), fmt_duration(run.seconds_per_million),
                checksum_verdict(report, run)]
        rows.append(row)
    lines = _table(header, rows, right=range(1, len(header) - 1))
    flag = report.checksums_equal.get(backend)
    verdict = {True: "all equal ✓", False: "NOT all equal ✗", None: "not compared"}[flag]
    lines += ["", f"Projection checksums on {backend_label(backend)}: {verdict}."]
    notes = [f"- {contender_label(r.contender)}: {_extrapolation(report, r)}"
             for r in runs if r.sample_events is not None]
    notes += [f"- {contender_label(r.contender)}: {r.note}" for r in runs if r.note]
    return lines + (["", *notes] if notes else [])


def _latency_rows(report: BenchReport) -> list[Latency]:
    rank = {b: i for i, b in enumerate(BACKENDS)}
    return sorted(report.latency, key=lambda x: (rank.get(x.backend, len(rank)), x.backend,
                                                 x.rate))


def _latency_lines(report: BenchReport) -> list[str]:
    if not report.latency:
        return ["Not measured."]
    header = ["back end", "rate asked (events/s)", "achieved (events/s)", "events", "p50 ms",
              "p99 ms", "max ms", "poll ms"]
    rows = [[backend_label(x.backend), fmt_sig(x.rate), fmt_sig(x.achieved_rate),
             fmt_count(x.events), fmt_sig(x.p50_ms), fmt_sig(x.p99_ms), fmt_sig(x.max_ms),
             fmt_sig(x.poll_ms)] for x in _latency_rows(report)]
    return [*_table(header, rows, right=range(1, len(header))), "",
            "Latency figures are no finer than the poll interval."]


def _target_lines(report: BenchReport) -> list[str]:
    if not report.targets:
        return ["None recorded."]
    rows = [[t.name, t.wanted, t.measured, "✓" if t.met else "✗", t.note]
            for t in report.targets]
    return _table(["target", "wanted", "measured", "met", "note"], rows)


def render_markdown(report: BenchReport, *, chart: str | None = None) -> str:
    """The full report. `chart`: a relative path to the PNG, shown under the title."""
    w = report.workload
    lines = [f"# onestop-sync benchmark — {report_when(report)}", "",
             f"All contenders read the same {fmt_count(w.events)} events from the same topics "
             "into the same tables, one after another on one machine. Ratios are events/s "
             "over the raw loop's on the same back end; CPU is per event processed.", ""]
    if chart:
        lines += [f"![throughput and latency]({chart})", ""]
    lines += ["## Machine", "", *[f"- {k}: {v}" for k, v in _machine_items(report.machine)],
              "", "## Workload", "", *_workload_lines(report), "",
              "## Broker ceiling", "", *_ceiling_lines(report), ""]
    backends = table_backends(report)
    for backend in backends:
        lines += [f"## {backend_label(backend)}", "", *_backend_lines(report, backend), ""]
    if not backends:
        lines += ["## Contenders", "", "No database runs recorded.", ""]
    lines += ["## Latency (produce → visible in the portal read model)", "",
              *_latency_lines(report), "", "## Targets", "", *_target_lines(report), ""]
    if report.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in report.notes], ""]
    if report.profile.strip():
        lines += ["## Profile of the replay (where the time goes)", "", "```",
                  report.profile.strip("\n"), "```", ""]
    return "\n".join(lines)


# --- BENCHMARKS.md ------------------------------------------------------------------------


def benchmarks_md(report: BenchReport, command: str) -> str:
    """The short committed `BENCHMARKS.md`: the headline figures and how to reproduce them."""
    w = report.workload
    lines = ["# Benchmarks", "",
             f"Latest run: {report_when(report)} on {machine_line(report)}.",
             f"Workload: {fmt_count(w.events)} generated events (seed {w.seed}, "
             f"{fmt_count(w.dossiers)} dossiers), loaded once into the broker.", "",
             "## Throughput", ""]
    rows: list[list[object]] = []
    for run in _ordered_runs(r for r in report.runs if r.backend == "kafka"):
        rows.append([backend_label(run.backend), contender_label(run.contender),
                     fmt_sig(run.events_per_s), _DASH, fmt_duration(run.seconds_per_million),
                     fmt_sig(run.peak_rss_mb)])
    for backend in table_backends(report):
        for run in _ordered_runs(r for r in report.runs if r.backend == backend):
            name = contender_label(run.contender)
            if run.sample_events is not None:
                name += f" (sample of {fmt_count(run.sample_events)}, extrapolated)"
            rows.append([backend_label(backend), name, fmt_sig(run.events_per_s),
                         fmt_ratio(report.ratio(run.contender, backend)),
                         fmt_duration(run.seconds_per_million), fmt_sig(run.peak_rss_mb)])
    if rows:
        lines += _table(["back end", "contender", "events/s", "× raw loop", "per M events",
                         "peak RSS MB"], rows, right=(2, 3, 4, 5))
    else:
        lines.append("No runs recorded.")
    lines += ["", "## Latency (produce → visible in the portal)", ""]
    if report.latency:
        lines += _table(["back end", "rate (events/s)", "p50 ms", "p99 ms"],
                        [[backend_label(x.backend), fmt_sig(x.rate), fmt_sig(x.p50_ms),
                          fmt_sig(x.p99_ms)] for x in _latency_rows(report)], right=(1, 2, 3))
    else:
        lines.append("Not measured.")
    lines += ["", "## Targets", ""]
    lines += [f"- {'✓' if t.met else '✗'} {t.name}: measured {t.measured} (wanted {t.wanted})"
              for t in report.targets] or ["None recorded."]
    lines += ["", "## Reproduce", "", "```", command, "```", "",
              "The full report (Markdown, JSON and a PNG chart) goes to the git-ignored "
              "`results/` folder as `bench-<stamp>.*` and `latest.*`.", ""]
    return "\n".join(lines)


# --- the results folder -------------------------------------------------------------------


def write_results(report: BenchReport, folder: Path, *,
                  stamp: str | None = None) -> dict[str, Path]:
    """Write `bench-<stamp>.md/.json/.png` into `folder` (created if missing) and copy them
    to `latest.*`. `stamp` defaults to `result_stamp(report)`. Returns the paths by kind:
    `md`, `json`, `png`, `latest_md`, `latest_json`, `latest_png`."""
    from streams.bench.chart import render_chart  # matplotlib only when writing

    stamp = stamp or result_stamp(report)
    if not re.fullmatch(r"[0-9A-Za-z._-]+", stamp) or stamp.startswith("."):
        raise ValueError(f"bench result stamp {stamp!r} is not a safe file-name part "
                         "(letters, digits, '.', '_', '-')")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / f"bench-{stamp}.{kind}" for kind in ("md", "json", "png")}
    paths["md"].write_text(render_markdown(report, chart=paths["png"].name), encoding="utf-8")
    paths["json"].write_text(dumps(report) + "\n", encoding="utf-8")
    render_chart(report, paths["png"])
    for kind in ("md", "json", "png"):
        latest = folder / f"latest.{kind}"
        shutil.copyfile(paths[kind], latest)
        paths[f"latest_{kind}"] = latest
    return paths
