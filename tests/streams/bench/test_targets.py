"""The round's targets, checked against hand-made reports (pure)."""

from __future__ import annotations

from streams.bench.model import BenchReport, Run, Workload
from streams.bench.targets import target_checks


def _report(*runs: Run) -> BenchReport:
    workload = Workload(42, 1_000_000, 36_000, 964_000, 45_000, 0, 10.0)
    return BenchReport("2026-11-22T00:00:00+00:00", {}, workload, runs=list(runs))


def _run(contender: str, backend: str, events_per_s: float, peak: float = 100.0) -> Run:
    return Run(contender, backend, 1_000_000, 1_000_000 / events_per_s, 10.0, peak)


def test_every_target_met() -> None:
    checks = target_checks(_report(
        _run("raw", "sqlite", 40_000), _run("replay", "sqlite", 36_000),
        _run("worker", "sqlite", 5_000), _run("naive", "sqlite", 400)))
    by_name = {c.name: c for c in checks}
    assert all(c.met for c in checks), checks
    assert by_name["onestop replay vs the raw loop (SQLite)"].measured == "0.90 x"
    assert by_name["live worker vs the naive projector (sqlite)"].measured == "12.5 x"
    assert by_name["10 M events replayed into all three projections (SQLite)"].measured == \
        "4.6 min"


def test_targets_missed_are_reported_not_hidden() -> None:
    checks = target_checks(_report(
        _run("raw", "sqlite", 20_000), _run("replay", "sqlite", 10_000, peak=650.0),
        _run("worker", "sqlite", 2_000), _run("naive", "sqlite", 400)))
    by_name = {c.name: c for c in checks}
    assert not by_name["onestop replay vs the raw loop (SQLite)"].met
    assert by_name["onestop replay vs the raw loop (SQLite)"].measured == "0.50 x"
    assert not by_name["live worker vs the naive projector (sqlite)"].met
    assert not by_name["10 M events replayed into all three projections (SQLite)"].met
    memory = by_name["peak memory of a worker during the replay"]
    assert not memory.met and memory.measured == "650 MB"


def test_missing_runs_give_no_check() -> None:
    assert target_checks(_report(_run("raw", "sqlite", 1000))) == []


def test_profile_stops_keep_the_catalogue_and_a_share_of_every_dossier_partition() -> None:
    from streams.bench.profile import prefix_stops

    ends = {("catalogue.events", 0): 100, ("dossier.events", 0): 1000,
            ("dossier.events", 1): 500}
    assert prefix_stops(ends, 400) == {("catalogue.events", 0): 100, ("dossier.events", 0): 200,
                                       ("dossier.events", 1): 100}
    assert prefix_stops(ends, 10_000) == ends
    assert prefix_stops(ends, 50) == {("catalogue.events", 0): 100, ("dossier.events", 0): 0,
                                      ("dossier.events", 1): 0}
