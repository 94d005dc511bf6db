"""The benchmark's results: plain dataclasses, JSON in and out (`to_json` / `from_json`).

A `Run` is one contender on one back end; its speed is `events / wall_s`. `cpu_s` is the
contender's own process (user + system, children included), `server_cpu_s` the database
server's (PostgreSQL only; SQLite runs inside the contender). `peak_rss_mb` is the
contender's peak resident memory (`ru_maxrss`). A naive run measured on a sample has
`sample_events` set and `wall_s`/`cpu_s` for the sample only; its rates are per event, so
they extrapolate to the whole workload by `events / events_per_s`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTENDERS", "BenchReport", "Latency", "Run", "TargetCheck", "Workload", "dumps"]

CONTENDERS = ("ceiling", "raw", "replay", "worker", "naive")
"""In report order: (a) broker ceiling, (b) raw loop (the denominator of every ratio),
(c) `onestop replay`, (d) the live faust worker, (e) the naive ORM projector."""


@dataclass
class Run:
    contender: str
    backend: str  # "sqlite", "postgresql", or "kafka" for the ceiling (no database)
    events: int  # events processed in the measured part (the sample for a naive run)
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    server_cpu_s: float | None = None
    sample_events: int | None = None  # set when measured on a sample and extrapolated
    digests: dict[str, str] = field(default_factory=dict)  # projection -> checksum
    note: str = ""

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_us_per_event(self) -> float:
        """Client CPU microseconds per event."""
        return 1e6 * self.cpu_s / self.events if self.events else 0.0

    @property
    def server_cpu_us_per_event(self) -> float | None:
        if self.server_cpu_s is None or not self.events:
            return None
        return 1e6 * self.server_cpu_s / self.events

    @property
    def seconds_per_million(self) -> float:
        return 1e6 / self.events_per_s if self.events_per_s else float("inf")


@dataclass
class Latency:
    """End-to-end latency at one fixed input rate: produce → visible in the portal model."""

    backend: str
    rate: float  # events/s asked for
    achieved_rate: float  # events/s actually produced
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    poll_ms: float  # how often visibility was checked (the resolution of the figures)


@dataclass
class TargetCheck:
    name: str  # e.g. "replay >= 0.8 x raw loop (SQLite)"
    wanted: str  # e.g. ">= 0.80"
    measured: str  # e.g. "0.63"
    met: bool
    note: str = ""


@dataclass
class Workload:
    seed: int
    events: int  # loaded into the broker before the contenders run
    catalogue_events: int
    dossier_events: int
    dossiers: int
    latency_events: int  # held back, produced during the latency phase
    load_seconds: float


@dataclass
class BenchReport:
    started_at: str
    machine: dict[str, Any]
    workload: Workload
    runs: list[Run] = field(default_factory=list)
    latency: list[Latency] = field(default_factory=list)
    checksums_equal: dict[str, bool] = field(default_factory=dict)  # backend -> all equal
    targets: list[TargetCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = ""  # where the replay's time goes (cProfile summary), if profiled

    def run(self, contender: str, backend: str) -> Run | None:
        return next((r for r in self.runs
                     if r.contender == contender and r.backend == backend), None)

    def ratio(self, contender: str, backend: str, baseline: str = "raw") -> float | None:
        """events/s of `contender` over `baseline`'s on the same back end."""
        run, base = self.run(contender, backend), self.run(baseline, backend)
        if run is None or base is None or not base.events_per_s:
            return None
        return run.events_per_s / base.events_per_s

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for run, raw in zip(self.runs, data["runs"], strict=True):
            raw["events_per_s"] = run.events_per_s
            raw["cpu_us_per_event"] = run.cpu_us_per_event
            raw["server_cpu_us_per_event"] = run.server_cpu_us_per_event
            raw["seconds_per_million"] = run.seconds_per_million
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchReport:
        derived = {"events_per_s", "cpu_us_per_event", "server_cpu_us_per_event",
                   "seconds_per_million"}
        return cls(
            started_at=data["started_at"],
            machine=dict(data["machine"]),
            workload=Workload(**data["workload"]),
            runs=[Run(**{k: v for k, v in r.items() if k not in derived})
                  for r in data["runs"]],
            latency=[Latency(**x) for x in data["latency"]],
            checksums_equal=dict(data["checksums_equal"]),
            targets=[TargetCheck(**t) for t in data["targets"]],
            notes=list(data["notes"]),
            profile=str(data.get("profile", "")),
        )


def dumps(report: BenchReport) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)
