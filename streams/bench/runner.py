"""The whole benchmark run, one machine, one run (`onestop bench`, `make bench`).

1. Start (or reuse) the benchmark's own local stack under `<home>` (default
   `<project>/.onestop/bench`, never the one you work with: its topics are emptied).
2. Generate a seeded province (`--events`, default 1 M) and load it into the broker once;
   hold back a tail of it for the latency phase.
3. Contenders, each a child process measured from outside (`streams.bench.measure`), each
   into its own fresh database with the real tables, on SQLite and on PostgreSQL:
   (a) Kafka's ConsumerPerformance (the broker's ceiling, no database);
   (b) the raw loop (`streams.bench.rawloop`) — the denominator of every ratio;
   (c) `onestop replay all`; (d) the live worker (`onestop worker`, timed until caught up);
   (e) the naive ORM projector on a sample (`streams.bench.naive`), extrapolated per event.
4. Checksums: raw, replay and worker must agree projection by projection on each back end;
   the naive run is checked against the reference fold of exactly its sample.
5. Latency: the worker, caught up, is fed the held-back tail at fixed rates; the time from
   produce to visible in the portal read model gives p50/p99.
6. Optionally a cProfile of the replay on SQLite (where the time goes).
7. Report: Markdown, JSON and a PNG chart in `<results>/` (git-ignored).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from projections.policy import build_policies
from projections.records import PROJECTIONS, TopicPartition
from projections.reference import dump_digest, reference_fold
from projections.store import make_engine
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams import infra
from streams.bench import ceiling, latency, naive
from streams.bench.databases import BACKENDS, digests, fresh_database, lagging, live_digests
from streams.bench.measure import BenchProcessError, Child, ServerCpu, checked, start, tree_cpu
from streams.bench.model import CONTENDERS, BenchReport, Run, Workload
from streams.bench.profile import prefix_stops, profile_replay
from streams.bench.targets import target_checks
from streams.bench.workload import (
    PreparedWorkload,
    encoded_lines,
    load_workload,
    prepare_workload,
    topic_ends,
)
from streams.compose import open_codec
from streams.infra.paths import Layout
from streams.infra.plans import versions
from streams.infra.state import read_state
from streams.pipeline import decode_records
from streams.replay_log import LogReader
from streams.settings import Settings

__all__ = ["BenchOptions", "run_bench"]

Say = Callable[[str], None]
ONESTOP = [sys.executable, "-m", "streams"]
RAW_VERSION = 2


@dataclass(frozen=True)
class BenchOptions:
    home: Path
    results: Path
    cache: Path | None = None  # where Kafka's and Apicurio's downloads are kept
    events: int = 1_000_000
    seed: int = 42
    backends: tuple[str, ...] = BACKENDS
    contenders: tuple[str, ...] = CONTENDERS
    naive_sample: int = 2000
    rates: tuple[float, ...] = (100.0, 500.0)
    rate_seconds: float = 20.0
    batch: int = 20_000  # = `onestop replay`'s default
    timeout_s: float = 7200.0
    profile: bool = True
    profile_events: int = 200_000
    keep_running: bool = False

    @property
    def held_back(self) -> int:
        if "worker" not in self.contenders:
            return 0
        return round(len(self.backends) * sum(r * self.rate_seconds for r in self.rates))


@dataclass
class _Context:
    options: BenchOptions
    services: infra.Services
    settings: Settings
    workload: PreparedWorkload
    ends: dict[TopicPartition, int]
    say: Say
    report: BenchReport
    postgres_pid: int | None
    worker_urls: dict[str, str] = field(default_factory=dict)
    naive_equal: dict[str, bool] = field(default_factory=dict)
    tail_used: int = 0

    def env(self, database_url: str | None = None, **extra: str) -> dict[str, str]:
        env = {**os.environ, **self.services.env(), "ONESTOP_HOME": str(self.options.home)}
        if database_url is not None:
            env["ONESTOP_DATABASE_URL"] = database_url
        env.update(extra)
        return env

    def log(self, name: str) -> Path:
        return self.options.home / "bench-logs" / f"{name}.log"

    def server_cpu(self, backend: str) -> ServerCpu | None:
        if backend != "postgresql" or self.postgres_pid is None:
            return None
        cpu = ServerCpu(self.postgres_pid)
        cpu.start()
        return cpu


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
        "load_average_at_start": os.getloadavg(),
    }


# --- contenders ----------------------------------------------------------------------------


def _ceiling(ctx: _Context) -> None:
    expected = sum(ctx.ends.values())
    tool = ceiling.ceiling_tool(ctx.options.home, cache=ctx.options.cache)
    argv = ceiling.ceiling_command(tool, ctx.services.kafka_bootstrap,
                                   ceiling.messages_by_topic(ctx.ends),
                                   f"bench-ceiling-{int(time.time())}")
    child = start("ceiling", argv, ctx.env(), ctx.log("ceiling"))
    measured = child.wait(ctx.options.timeout_s)
    if measured.returncode != 0:
        raise BenchProcessError(f"ConsumerPerformance exited with {measured.returncode}; "
                                f"log {ctx.log('ceiling')}")
    figures = ceiling.parse_consumer_performance(measured.stdout)
    if figures.timed_out or figures.messages != expected:
        raise BenchProcessError(f"ConsumerPerformance read {figures.messages:,} of {expected:,} "
                                f"records (timed out: {figures.timed_out}); "
                                f"log {ctx.log('ceiling')}")
    ctx.report.runs.append(Run(
        "ceiling", "kafka", figures.messages, figures.seconds, measured.cpu_s,
        measured.peak_rss_mb,
        note=f"ConsumerPerformance's own fetch time ({figures.mb_per_s:.1f} MB/s); "
             f"{measured.wall_s:.1f} s with JVM start-up"))


def _raw(ctx: _Context, backend: str) -> None:
    url = fresh_database(backend, "raw", ctx.options.home / "bench-db", ctx.services)
    argv = [sys.executable, "-m", "streams.bench.rawloop", "--version", str(RAW_VERSION),
            "--batch", str(ctx.options.batch)]
    server = ctx.server_cpu(backend)
    child = start(f"raw-{backend}", argv, ctx.env(url), ctx.log(f"raw-{backend}"))
    measured = child.wait(ctx.options.timeout_s)
    result = checked(f"raw loop ({backend})", measured, ctx.log(f"raw-{backend}"))
    engine = make_engine(url)
    try:
        found = digests(engine, dict.fromkeys(PROJECTIONS, RAW_VERSION))
    finally:
        engine.dispose()
    ctx.report.runs.append(Run(
        "raw", backend, int(result["events"]), measured.wall_s, measured.cpu_s,
        measured.peak_rss_mb, server.seconds() if server else None, digests=found,
        note=f"batches of {ctx.options.batch}; in-memory state, no snapshots"))


def _replay(ctx: _Context, backend: str) -> None:
    url = fresh_database(backend, "replay", ctx.options.home / "bench-db", ctx.services)
    argv = [*ONESTOP, "replay", "all", "--grace", "0", "--batch", str(ctx.options.batch),
            "--quiet"]
    server = ctx.server_cpu(backend)
    child = start(f"replay-{backend}", argv, ctx.env(url), ctx.log(f"replay-{backend}"))
    measured = child.wait(ctx.options.timeout_s)
    if measured.returncode != 0:
        raise BenchProcessError(f"onestop replay ({backend}) exited with {measured.returncode}; "
                                f"log {ctx.log(f'replay-{backend}')}")
    ctx.report.runs.append(Run(
        "replay", backend, sum(ctx.ends.values()), measured.wall_s, measured.cpu_s,
        measured.peak_rss_mb, server.seconds() if server else None, digests=live_digests(url),
        note="onestop replay all: one pass into all three projections, swapped in"))


def _wait_caught_up(ctx: _Context, child: Child, url: str,
                    ends: Mapping[TopicPartition, int], what: str) -> None:
    engine = make_engine(url)
    deadline = time.monotonic() + ctx.options.timeout_s
    last_said = 0.0
    try:
        while (behind := lagging(engine, ends)) > 0:
            child.sample()
            if not child.alive():
                raise BenchProcessError(f"{what} stopped before catching up ({behind:,} behind)")
            if time.monotonic() > deadline:
                raise BenchProcessError(f"{what} still {behind:,} records behind after "
                                        f"{ctx.options.timeout_s:.0f} s")
            if time.monotonic() - last_said > 30:
                ctx.say(f"    {what}: {behind:,} records to go")
                last_said = time.monotonic()
            time.sleep(0.25)
    finally:
        engine.dispose()


def _worker(ctx: _Context, backend: str) -> None:
    url = fresh_database(backend, "worker", ctx.options.home / "bench-db", ctx.services)
    ctx.worker_urls[backend] = url
    argv = [*ONESTOP, "worker", "--group-id", f"bench-worker-{backend}-{int(time.time())}"]
    server = ctx.server_cpu(backend)
    child = start(f"worker-{backend}", argv, ctx.env(url), ctx.log(f"worker-{backend}"))
    try:
        _wait_caught_up(ctx, child, url, ctx.ends, f"worker ({backend})")
        child.mark_done()
        cpu, peak = tree_cpu(child.pid), child.sample(every_s=0)
        server_s = server.seconds() if server else None
    finally:
        measured = child.stop()
    if measured.returncode not in (0, -15):
        ctx.report.notes.append(f"worker ({backend}) exited with {measured.returncode} on SIGTERM")
    ctx.report.runs.append(Run(
        "worker", backend, sum(ctx.ends.values()), measured.wall_s, cpu, peak, server_s,
        digests=live_digests(url),
        note="timed from start until every projection's stored position reached the ends"))


def _naive(ctx: _Context, backend: str) -> None:
    url = fresh_database(backend, "naive", ctx.options.home / "bench-db", ctx.services)
    version = RAW_VERSION
    prepare = start(f"naive-prepare-{backend}",
                    [sys.executable, "-m", "streams.bench.naive", "prepare", "--version",
                     str(version)], ctx.env(url), ctx.log(f"naive-prepare-{backend}"))
    checked("naive prepare", prepare.wait(ctx.options.timeout_s),
            ctx.log(f"naive-prepare-{backend}"))
    server = ctx.server_cpu(backend)
    child = start(f"naive-{backend}",
                  [sys.executable, "-m", "streams.bench.naive", "run", "--version", str(version),
                   "--limit", str(ctx.options.naive_sample)],
                  ctx.env(url), ctx.log(f"naive-{backend}"))
    measured = child.wait(ctx.options.timeout_s)
    result = checked(f"naive ({backend})", measured, ctx.log(f"naive-{backend}"))
    events, seconds = int(result["events"]), float(result["seconds"])
    stops = naive.parse_stops(result["stops"])
    engine = make_engine(url)
    try:
        found = digests(engine, dict.fromkeys(PROJECTIONS, version))
    finally:
        engine.dispose()
    expected = _reference_digests(ctx, stops)
    differ = sorted(p for p in found if found[p] != expected.get(p))
    ctx.naive_equal[backend] = not differ
    verdict = "equal" if not differ else f"DIFFERENT in {', '.join(differ)}"
    ctx.report.runs.append(Run(
        "naive", backend, events, seconds, float(result["cpu_seconds"]), measured.peak_rss_mb,
        server.seconds() if server else None, sample_events=events, digests=found,
        note=f"sample checked against the reference fold: {verdict}; wall and CPU timed by "
             f"itself over its {events:,} per-event commits (start-up and the catalogue, "
             "projected beforehand, excluded)"))


def _reference_digests(ctx: _Context, dossier_stops: Mapping[TopicPartition, int]) -> \
        dict[str, str]:
    """Digests of the reference fold of the whole catalogue + the dossiers below the stops."""
    stops = {tp: end for tp, end in ctx.ends.items() if tp[0] == CATALOGUE_TOPIC}
    stops.update({tp: dossier_stops.get(tp, 0) for tp in ctx.ends if tp[0] == DOSSIER_TOPIC})
    records = asyncio.run(_read(ctx.settings.require_kafka(), stops))
    codec = open_codec(ctx.settings)
    asyncio.run(codec.prefetch(r.value for r in records))
    decoded = decode_records(codec, records)
    policies = build_policies(ctx.settings.pii_hmac_key.encode("utf-8"))
    return {p: dump_digest(reference_fold(decoded, p, policies[p])) for p in PROJECTIONS}


async def _read(bootstrap: str, stops: Mapping[TopicPartition, int]) -> list:  # type: ignore[type-arg]
    out: list = []  # type: ignore[type-arg]

    async def keep(records: list) -> None:  # type: ignore[type-arg]
        out.extend(records)

    async with LogReader(bootstrap) as reader:
        await reader.read({}, stops, keep)
    return out


# --- latency -------------------------------------------------------------------------------


def _latency(ctx: _Context, backend: str, tail: list[str]) -> None:
    url = ctx.worker_urls[backend]
    ends = asyncio.run(topic_ends(ctx.settings.require_kafka()))
    argv = [*ONESTOP, "worker", "--group-id", f"bench-latency-{backend}-{int(time.time())}"]
    child = start(f"latency-worker-{backend}", argv, ctx.env(url),
                  ctx.log(f"latency-worker-{backend}"))
    engine = make_engine(url)
    codec = open_codec(ctx.settings, auto_register=True)
    try:
        _wait_caught_up(ctx, child, url, ends, f"worker ({backend}, before latency)")
        for rate in ctx.options.rates:
            count = round(rate * ctx.options.rate_seconds)
            lines, ctx.tail_used = tail[ctx.tail_used:ctx.tail_used + count], \
                ctx.tail_used + count
            records = [(r.topic, r.key, r.value) for r in encoded_lines(codec, lines)]
            ctx.say(f"    {backend}: {len(records):,} events at {rate:g}/s")
            figures = asyncio.run(latency.measure_latency(
                ctx.settings.require_kafka(), records, rate, engine))
            ctx.report.latency.append(figures.to_latency(backend))
    finally:
        engine.dispose()
        child.stop()


# --- the run -------------------------------------------------------------------------------


def _checksums(report: BenchReport, backends: tuple[str, ...],
               naive_equal: Mapping[str, bool]) -> None:
    for backend in backends:
        runs = [r for r in report.runs if r.backend == backend
                and r.contender in ("raw", "replay", "worker")]
        if not runs:
            continue
        base = runs[0].digests
        equal = all(r.digests == base for r in runs)
        equal = equal and naive_equal.get(backend, True)
        report.checksums_equal[backend] = equal
        if not equal:
            report.notes.append(
                f"CHECKSUMS DIFFER on {backend}: " + "; ".join(
                    f"{r.contender}: {r.digests}" for r in runs))


def run_bench(options: BenchOptions, say: Say,
              services: infra.Services | None = None) -> BenchReport:
    """Run everything (see the module docstring); the report, not yet written anywhere.

    `services`: run on that stack instead of starting one under `options.home` (tests: the
    caller must own its topics, which are emptied)."""
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if services is not None:
        return _run(options, services, started_at, say)
    already = infra.load_services(options.home) is not None
    say(f"== stack under {options.home}")
    services = infra.up(options.home, cache=options.cache, progress=say)
    try:
        return _run(options, services, started_at, say)
    finally:
        if not options.keep_running and not already:
            say("== stopping the benchmark's stack")
            infra.down(options.home)


def _run(options: BenchOptions, services: infra.Services, started_at: str, say: Say) -> \
        BenchReport:
    settings = Settings.from_env({**services.env(), "ONESTOP_HOME": str(options.home)})
    say("== workload")
    workload = prepare_workload(options.home / "workload", options.events, options.held_back,
                                options.seed, say)
    ends, load_s = load_workload(settings, workload, say)
    say(f"  loaded {workload.events:,} events in {load_s:.1f} s")
    state = read_state(Layout.of(options.home).state_file)
    pg = state.service("postgres") if state else None
    report = BenchReport(
        started_at, _machine(),
        Workload(options.seed, workload.events, workload.catalogue_events,
                 workload.events - workload.catalogue_events, workload.dossiers,
                 workload.held_back, load_s))
    ctx = _Context(options, services, settings, workload, ends, say, report,
                   pg.pid if pg else None)
    if "ceiling" in options.contenders:
        say("== (a) broker ceiling: ConsumerPerformance")
        _ceiling(ctx)
    steps = [("raw", "(b) raw loop", _raw), ("replay", "(c) onestop replay all", _replay),
             ("worker", "(d) live worker", _worker), ("naive", "(e) naive ORM projector", _naive)]
    for backend in options.backends:
        for name, label, step in steps:
            if name in options.contenders:
                say(f"== {label} on {backend}")
                step(ctx, backend)
                run = report.run(name, backend)
                if run is not None:
                    say(f"   {run.events:,} events in {run.wall_s:.1f} s = "
                        f"{run.events_per_s:,.0f}/s, cpu {run.cpu_us_per_event:.0f} µs/event, "
                        f"peak {run.peak_rss_mb:.0f} MB")
    _checksums(report, options.backends, ctx.naive_equal)
    if "worker" in options.contenders and options.rates:
        tail = workload.tail.read_text(encoding="utf-8").splitlines(keepends=True)
        for backend in options.backends:
            say(f"== latency on {backend} (produce → visible in the portal)")
            _latency(ctx, backend, tail)
    if options.profile and "replay" in options.contenders:
        say("== profile of the replay on SQLite")
        url = fresh_database("sqlite", "profile", options.home / "bench-db", services)
        stops = prefix_stops(ends, options.profile_events)
        report.profile = profile_replay(ctx.env(url), ctx.log("profile"), options.batch,
                                        options.timeout_s, stops)
    report.machine["load_average_at_end"] = os.getloadavg()
    report.targets = target_checks(report)
    return report
