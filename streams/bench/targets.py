"""The round's targets (issue #5), checked against a report — pure, so unit-tested.

- `onestop replay` ≥ 0.8 × the raw loop's events/s on SQLite;
- the live worker ≥ 10 × the naive projector (each back end measured);
- a province-year (10 M events) replayed into all three projections in ≤ 5 minutes with
  SQLite (extrapolated linearly from the measured replay: seconds per million × 10);
- peak memory of a worker ≤ 500 MB during the replay (the replay process's peak RSS, and the
  live worker's, on every back end measured).
"""

from __future__ import annotations

from streams.bench.model import BenchReport, TargetCheck

__all__ = ["REPLAY_VS_RAW", "WORKER_VS_NAIVE", "target_checks"]

REPLAY_VS_RAW = 0.8
WORKER_VS_NAIVE = 10.0
PROVINCE_YEAR = 10_000_000
PROVINCE_YEAR_LIMIT_S = 300.0
PEAK_MB = 500.0


def target_checks(report: BenchReport) -> list[TargetCheck]:
    checks: list[TargetCheck] = []
    ratio = report.ratio("replay", "sqlite")
    if ratio is not None:
        checks.append(TargetCheck(
            "onestop replay vs the raw loop (SQLite)", f">= {REPLAY_VS_RAW:.2f} x",
            f"{ratio:.2f} x", ratio >= REPLAY_VS_RAW))
    for backend in ("sqlite", "postgresql"):
        ratio = report.ratio("worker", backend, baseline="naive")
        if ratio is not None:
            checks.append(TargetCheck(
                f"live worker vs the naive projector ({backend})", f">= {WORKER_VS_NAIVE:.0f} x",
                f"{ratio:.1f} x", ratio >= WORKER_VS_NAIVE,
                "naive measured on a sample, rate per event extrapolated"))
    replay = report.run("replay", "sqlite")
    if replay is not None and replay.events_per_s > 0:
        seconds = PROVINCE_YEAR / replay.events_per_s
        checks.append(TargetCheck(
            "10 M events replayed into all three projections (SQLite)",
            f"<= {PROVINCE_YEAR_LIMIT_S / 60:.0f} min", f"{seconds / 60:.1f} min",
            seconds <= PROVINCE_YEAR_LIMIT_S,
            f"extrapolated from {replay.events:,} events at {replay.events_per_s:,.0f} events/s"))
    peaks = [(f"{run.contender} {run.backend}", run.peak_rss_mb) for run in report.runs
             if run.contender in ("replay", "worker")]
    if peaks:
        worst = max(mb for _, mb in peaks)
        checks.append(TargetCheck(
            "peak memory of a worker during the replay", f"<= {PEAK_MB:.0f} MB",
            f"{worst:.0f} MB", worst <= PEAK_MB,
            ", ".join(f"{name} {mb:.0f} MB" for name, mb in peaks)))
    return checks
