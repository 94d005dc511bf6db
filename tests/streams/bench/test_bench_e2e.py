"""The whole benchmark, small, on the session's stack: every contender runs, the checksums
agree, the latency phase sees every event, and the report files are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.bench.report import write_results
from streams.bench.runner import BenchOptions, run_bench
from streams.infra import Services
from tests.conftest import SHARED_CACHE
from tests.e2e.helpers import exclusive_topics

pytestmark = pytest.mark.e2e


def test_a_small_bench_runs_every_contender_on_both_back_ends(
    services: Services, tmp_path: Path
) -> None:
    options = BenchOptions(
        home=tmp_path / "home", results=tmp_path / "results", cache=SHARED_CACHE,
        events=6000, naive_sample=60, rates=(40.0,), rate_seconds=2.0, batch=1000,
        timeout_s=600)
    lines: list[str] = []
    with exclusive_topics(services):
        report = run_bench(options, lines.append, services=services)

    assert 5000 < report.workload.events < 7000
    by = {(r.contender, r.backend): r for r in report.runs}
    assert set(by) == {("ceiling", "kafka")} | {
        (c, b) for c in ("raw", "replay", "worker", "naive") for b in ("sqlite", "postgresql")}
    for (contender, _), run in by.items():
        assert run.events > 0 and run.wall_s > 0 and run.cpu_s > 0, run
        assert run.peak_rss_mb > 20, run  # a Python or Java process, sampled from /proc
        if contender in ("raw", "replay", "worker"):
            assert run.events == report.workload.events
    assert by[("naive", "sqlite")].sample_events == by[("naive", "sqlite")].events <= 60 + 12
    assert report.checksums_equal == {"sqlite": True, "postgresql": True}, report.notes
    assert by[("raw", "sqlite")].digests == by[("replay", "sqlite")].digests \
        == by[("worker", "sqlite")].digests
    assert [(x.backend, x.events) for x in report.latency] == [("sqlite", 80),
                                                               ("postgresql", 80)]
    assert all(0 < x.p50_ms <= x.p99_ms <= x.max_ms for x in report.latency)
    assert {t.name for t in report.targets} >= {
        "onestop replay vs the raw loop (SQLite)",
        "peak memory of a worker during the replay"}
    assert "by own CPU time" in report.profile and "apply_batch" in report.profile

    paths = write_results(report, options.results)
    assert json.loads(paths["json"].read_text())["checksums_equal"]["postgresql"] is True
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| raw loop |" in paths["md"].read_text()
