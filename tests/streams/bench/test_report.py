"""The benchmark report: Markdown, BENCHMARKS.md, the JSON round trip and the results folder,
over a hand-built report (pure; the results-folder test writes into `tmp_path`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.bench.model import BenchReport, Latency, Run, TargetCheck, Workload, dumps
from streams.bench.report import (
    benchmarks_md,
    checksum_verdict,
    fmt_duration,
    fmt_ratio,
    fmt_sig,
    render_markdown,
    result_stamp,
    write_results,
)

GOOD = {"portal": "p1", "onestop": "o1", "stats": "s1"}
BAD = {"portal": "p1", "onestop": "o1", "stats": "DIFFERENT"}


def sample_report() -> BenchReport:
    """Both back ends, all five contenders, a sampled naive run, one digest that differs
    (worker on PostgreSQL), latency at two rates, targets met and not met."""
    runs = [
        Run("ceiling", "kafka", 1_000_000, 4.0, 5.1, 412.0),
        # SQLite: raw 40,000/s; replay 32,000/s (0.80×); worker 25,000/s; naive 200/s on 2,000
        Run("raw", "sqlite", 1_000_000, 25.0, 24.0, 180.0, digests=dict(GOOD)),
        Run("replay", "sqlite", 1_000_000, 31.25, 30.0, 210.5, digests=dict(GOOD)),
        Run("worker", "sqlite", 1_000_000, 40.0, 41.0, 320.0, digests=dict(GOOD),
            note="stopped 2.1 s after it caught up"),
        Run("naive", "sqlite", 2_000, 10.0, 8.0, 95.0, sample_events=2_000,
            digests={"portal": "n1"}, note="sample checked against reference_fold of it"),
        # PostgreSQL: raw 20,000/s; replay 12,500/s (0.625×); worker differs in stats
        Run("raw", "postgresql", 1_000_000, 50.0, 30.0, 190.0, server_cpu_s=40.0,
            digests=dict(GOOD)),
        Run("replay", "postgresql", 1_000_000, 80.0, 35.0, 220.0, server_cpu_s=55.0,
            digests=dict(GOOD)),
        Run("worker", "postgresql", 1_000_000, 100.0, 50.0, 330.0, server_cpu_s=60.0,
            digests=dict(BAD)),
        Run("naive", "postgresql", 1_000, 8.0, 4.0, 97.0, server_cpu_s=3.0,
            sample_events=1_000, digests={"portal": "n2"}),
    ]
    latency = [
        Latency("sqlite", 100.0, 99.8, 3_000, 12.4, 48.9, 120.0, 5.0),
        Latency("sqlite", 1_000.0, 990.0, 10_000, 35.2, 210.0, 480.0, 5.0),
        Latency("postgresql", 100.0, 100.0, 3_000, 18.0, 95.5, 300.0, 5.0),
        Latency("postgresql", 1_000.0, 985.1, 10_000, 60.0, 1_450.0, 2_900.0, 5.0),
    ]
    targets = [
        TargetCheck("replay >= 0.8 x raw loop (SQLite)", ">= 0.80", "0.80", True),
        TargetCheck("worker >= 10 x naive (SQLite)", ">= 10", "125", True),
        TargetCheck("10 M events replayed in <= 5 min (SQLite)", "<= 300 s", "312 s", False,
                    note="time goes to the stats fold; see profile"),
        TargetCheck("worker peak memory <= 500 MB", "<= 500 MB", "320 MB", True),
    ]
    return BenchReport(
        started_at="2025-06-01T10:00:00+00:00",
        machine={"cpus": 2, "platform": "Linux-6.1-x86_64", "python": "3.11.2",
                 "versions": {"kafka": "3.9.1", "apicurio": "3.3.3", "postgres": "15"},
                 "load_average_at_start": [0.5, 0.25, 0.125]},
        workload=Workload(seed=7, events=1_000_000, catalogue_events=12_000,
                          dossier_events=988_000, dossiers=150_000, latency_events=26_000,
                          load_seconds=45.0),
        runs=runs, latency=latency,
        checksums_equal={"sqlite": True, "postgresql": False},
        targets=targets,
        notes=["machine shared with other work; ratios matter more than absolutes"],
        profile="   ncalls  tottime  cumtime  function\n   1000    12.0    30.1    fold",
    )


def _row(markdown: str, section: str, first_cell: str) -> list[str]:
    """The cells of the table row starting with `first_cell` under `## section`."""
    body = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} under {section!r}")


# --- number formats ---------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (41_234.0, "41,200"), (999.6, "1,000"), (45.67, "45.7"), (0.01234, "0.0123"),
    (0.0, "0"), (None, "—"), (float("inf"), "∞"), (float("nan"), "—"), (1_234_567.0, "1,230,000"),
])
def test_rates_read_with_three_significant_digits_and_separators(value, text) -> None:
    assert fmt_sig(value) == text


def test_ratios_and_durations_read_for_humans() -> None:
    assert [fmt_ratio(x) for x in (0.8, 0.625, 25.34, 0.00412, None)] == [
        "0.80×", "0.63×", "25.3×", "0.0041×", "—"]
    assert [fmt_duration(x) for x in (28.57, 500.0, 9000.0, float("inf"), None)] == [
        "28.6 s", "8.33 min", "2.50 h", "∞", "—"]


# --- the full Markdown --------------------------------------------------------------------


def test_each_contender_row_carries_its_rate_and_its_ratio_to_the_raw_loop() -> None:
    md = render_markdown(sample_report())

    replay = _row(md, "SQLite", "`onestop replay`")
    assert replay[2] == "32,000"  # 1,000,000 / 31.25 s
    assert replay[3] == "0.80×"  # 32,000 / 40,000
    assert _row(md, "SQLite", "raw loop")[3] == "1.00×"
    pg_replay = _row(md, "PostgreSQL", "`onestop replay`")
    assert pg_replay[3] == "0.63×"  # 12,500 / 20,000
    assert pg_replay[5] == "55.0"  # server CPU µs/event: 55 s / 1 M events
    assert pg_replay[-2] == "80.0 s"  # seconds per million events


def test_rows_follow_contender_order_and_sqlite_has_no_server_cpu_column() -> None:
    md = render_markdown(sample_report())
    sqlite = md.split("## SQLite\n", 1)[1].split("\n## ", 1)[0]

    order = [sqlite.index(name) for name in ("| raw loop", "| `onestop replay`",
                                             "| live worker (faust)", "| naive ORM projector")]
    assert order == sorted(order)
    assert "server CPU" not in sqlite
    assert "server CPU µs/event" in md.split("## PostgreSQL\n", 1)[1]


def test_a_digest_that_differs_is_crossed_and_named() -> None:
    md = render_markdown(sample_report())

    assert _row(md, "PostgreSQL", "live worker (faust)")[-1] == "✗ stats"
    assert _row(md, "SQLite", "live worker (faust)")[-1] == "✓"
    assert _row(md, "SQLite", "raw loop")[-1] == "reference"
    assert "Projection checksums on PostgreSQL: NOT all equal ✗." in md
    assert "Projection checksums on SQLite: all equal ✓." in md


def test_the_naive_run_says_it_was_measured_on_a_sample_and_extrapolated() -> None:
    md = render_markdown(sample_report())

    naive = _row(md, "SQLite", "naive ORM projector")
    assert naive[1] == "2,000 (sample)"
    assert naive[2] == "200"
    assert naive[-1] == "sample ✓"
    # 1,000,000 events at 200/s = 5,000 s
    assert ("naive ORM projector: measured on 2,000 events, extrapolated: 1,000,000 events "
            "would take 83.3 min") in md
    assert "naive ORM projector: sample checked against reference_fold of it" in md


def test_the_sample_verdict_follows_the_back_end_flag() -> None:
    report = sample_report()
    pg_naive = report.run("naive", "postgresql")
    assert pg_naive is not None
    # PostgreSQL's flag is false but the worker differs: the sample's own verdict is unknown
    assert checksum_verdict(report, pg_naive) == "sample ?"
    worker = report.run("worker", "postgresql")
    assert worker is not None
    worker.digests = dict(GOOD)
    assert checksum_verdict(report, pg_naive) == "sample ✗"
    report.checksums_equal["postgresql"] = True
    assert checksum_verdict(report, pg_naive) == "sample ✓"


def test_a_missing_projection_counts_as_differing() -> None:
    report = sample_report()
    replay = report.run("replay", "sqlite")
    assert replay is not None
    replay.digests = {"portal": "p1", "onestop": "o1"}

    assert checksum_verdict(report, replay) == "✗ stats"


def test_ceiling_latency_targets_workload_and_machine_sections() -> None:
    md = render_markdown(sample_report(), chart="bench-x.png")

    assert md.startswith("# onestop-sync benchmark — 2025-06-01 10:00 UTC\n")
    assert "![throughput and latency](bench-x.png)" in md
    ceiling = _row(md, "Broker ceiling", "broker ceiling (ConsumerPerformance)")
    assert ceiling[2] == "250,000"
    assert ceiling[-2:] == ["0.16×", "0.080×"]  # raw loop / ceiling on SQLite, PostgreSQL
    assert _row(md, "Latency (produce → visible in the portal read model)", "PostgreSQL")[:8] \
        == ["PostgreSQL", "100", "100", "3,000", "18.0", "95.5", "300", "5.00"]
    assert ("| 10 M events replayed in <= 5 min (SQLite) | <= 300 s | 312 s | ✗ | "
            "time goes to the stats fold; see profile |") in md
    assert "| replay >= 0.8 x raw loop (SQLite) | >= 0.80 | 0.80 | ✓ |  |" in md
    assert "- events loaded: 1,000,000 — catalogue 12,000 (1.2%), dossier 988,000 (98.8%)" in md
    assert "- load time: 45.0 s (22,200 events/s)" in md
    assert "- cpus: 2" in md and "- kafka: 3.9.1" in md and "- postgres: 15" in md
    assert "- load average at start: 0.50, 0.25, 0.12" in md
    assert md.endswith("```\n   ncalls  tottime  cumtime  function\n   1000    12.0    30.1    fold"
                       "\n```\n")
    assert "- machine shared with other work; ratios matter more than absolutes" in md


def test_a_report_without_latency_or_postgresql_still_renders() -> None:
    report = sample_report()
    report.runs = [r for r in report.runs if r.backend == "sqlite"]
    report.latency, report.targets, report.notes, report.profile = [], [], [], ""
    report.checksums_equal = {"sqlite": True}

    md = render_markdown(report)

    assert "## SQLite" in md and "## PostgreSQL" not in md
    assert "## Broker ceiling\n\nNot measured." in md
    assert "## Latency (produce → visible in the portal read model)\n\nNot measured." in md
    assert "## Targets\n\nNone recorded." in md
    assert "Not measured." in benchmarks_md(report, "make bench")


def test_an_empty_report_renders_without_division_by_zero() -> None:
    report = BenchReport(started_at="not a date", machine={},
                         workload=Workload(0, 0, 0, 0, 0, 0, 0.0),
                         runs=[Run("raw", "sqlite", 0, 0.0, 0.0, 0.0)])

    md = render_markdown(report)

    assert _row(md, "SQLite", "raw loop")[2:4] == ["0", "—"]
    assert "# onestop-sync benchmark — not a date" in md
    assert "Benchmarks" in benchmarks_md(report, "make bench")


# --- BENCHMARKS.md ------------------------------------------------------------------------


def test_benchmarks_md_is_short_and_carries_the_headline_figures() -> None:
    text = benchmarks_md(sample_report(), "onestop bench --events 1000000")

    assert len(text.splitlines()) <= 60
    assert ("Latest run: 2025-06-01 10:00 UTC on cpus 2 · platform Linux-6.1-x86_64 · "
            "python 3.11.2 · kafka 3.9.1 · apicurio 3.3.3 · postgres 15 · ") in text
    assert "| SQLite | `onestop replay` | 32,000 | 0.80× | 31.3 s | 211 |" in text
    assert "| PostgreSQL | `onestop replay` | 12,500 | 0.63× | 80.0 s | 220 |" in text
    assert "naive ORM projector (sample of 2,000, extrapolated)" in text
    assert "| PostgreSQL | 1,000 | 60.0 | 1,450 |" in text
    assert "- ✗ 10 M events replayed in <= 5 min (SQLite): measured 312 s (wanted <= 300 s)" \
        in text
    assert "- ✓ worker peak memory <= 500 MB: measured 320 MB (wanted <= 500 MB)" in text
    assert "```\nonestop bench --events 1000000\n```" in text
    assert "`results/`" in text


# --- JSON and the results folder ----------------------------------------------------------


def test_the_json_round_trips() -> None:
    report = sample_report()

    again = BenchReport.from_json(json.loads(dumps(report)))

    assert again == report
    assert json.loads(dumps(report))["runs"][2]["events_per_s"] == 32_000


def test_write_results_writes_stamped_files_and_latest_copies(tmp_path: Path) -> None:
    report = sample_report()
    folder = tmp_path / "results" / "nested"

    paths = write_results(report, folder)

    stamp = result_stamp(report)
    assert stamp == "20250601T100000Z"
    assert paths["md"] == folder / f"bench-{stamp}.md"
    assert set(paths) == {"md", "json", "png", "latest_md", "latest_json", "latest_png"}
    for kind in ("md", "json", "png"):
        assert paths[f"latest_{kind}"].read_bytes() == paths[kind].read_bytes()
    assert f"![throughput and latency](bench-{stamp}.png)" in paths["md"].read_text()
    assert BenchReport.from_json(json.loads(paths["json"].read_text())) == report
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_results_refuses_a_stamp_that_is_not_a_file_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"stamp '\.\./x'"):
        write_results(sample_report(), tmp_path, stamp="../x")
    assert list(tmp_path.iterdir()) == []
