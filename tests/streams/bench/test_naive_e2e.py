"""The naive ORM projector (`python -m streams.bench.naive`).

Pure (no marker): `sample_stops` takes the same prefix of every partition, never beyond its
end; `parse_stops` reads back what `format_stops` printed and names what is malformed.

End to end, on each back end: a province published, `prepare` projects the catalogue with
the real pipeline, `run --limit 300` projects a per-partition prefix of the dossiers one
event at a time, and every projection's dump digest equals the reference fold over the
catalogue and exactly the records below the printed stops.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.records import PROJECTIONS
from projections.reference import dump_digest
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.bench.naive import format_stops, parse_stops, sample_stops
from tests.e2e.helpers import (
    PROJECT_ROOT,
    Cli,
    decoded_topics,
    exclusive_topics,
    ok,
    reference_dumps,
    topic_ends,
)
from tests.streams.bench.test_rawloop_e2e import bench, store_digests

if TYPE_CHECKING:
    from streams.infra import Services

SPEC = WorkloadSpec(seed=5, dossiers=250, procedures=100, departments=4, communes=6)
VERSION = 7
D = DOSSIER_TOPIC

# --- sample_stops / parse_stops (pure) ----------------------------------------------------


def test_sample_stops_takes_the_same_prefix_of_every_partition() -> None:
    ends = {(D, 0): 100, (D, 1): 100, (D, 2): 100, (D, 3): 100}
    assert sample_stops(ends, 40) == dict.fromkeys(ends, 10)


def test_sample_stops_rounds_up_and_never_goes_beyond_an_end() -> None:
    ends = {(D, 0): 2, (D, 1): 50, (D, 2): 0}
    # ceil(10 / 3) = 4 per partition; partition 0 holds only 2, partition 2 none
    assert sample_stops(ends, 10) == {(D, 0): 2, (D, 1): 4, (D, 2): 0}
    assert sample_stops(ends, 1000) == ends


def test_sample_stops_of_no_partitions_is_empty_and_a_limit_below_one_is_refused() -> None:
    assert sample_stops({}, 10) == {}
    with pytest.raises(ValueError, match="at least 1"):
        sample_stops({(D, 0): 5}, 0)


def test_parse_stops_reads_back_format_stops_or_a_whole_result_line() -> None:
    stops = {(D, 0): 25, (D, 11): 0, (CATALOGUE_TOPIC, 2): 7}
    printed = format_stops(stops)
    assert printed["dossier.events:11"] == 0
    assert parse_stops(printed) == stops
    assert parse_stops({"events": 32, "stops": printed, "version": 7}) == stops


@pytest.mark.parametrize("bad", [
    {"stops": {"dossier.events": 3}},
    {"stops": {"dossier.events:x": 3}},
    {"stops": {":0": 3}},
    {"stops": {"dossier.events:0": -1}},
    {"stops": {"dossier.events:0": "3"}},
    {"stops": {"dossier.events:0": True}},
    {"stops": [1, 2]},
])
def test_parse_stops_refuses_malformed_stops(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="stop"):
        parse_stops(bad)


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture
def cli(services: Services, database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on this test's database, on freshly recreated topics (held meanwhile)."""
    with exclusive_topics(services):
        yield Cli(services, database_url, tmp_path)


@pytest.mark.e2e
def test_the_naive_projector_projects_its_sample_like_the_reference_fold(
    cli: Cli, services: Services, tmp_path: Path
) -> None:
    # given a province published through the CLI
    path = tmp_path / "province.jsonl"
    count = write_jsonl(generate(SPEC), path)
    ok(cli.run("publish", str(path)))
    records = decoded_topics(services)
    assert len(records) == count
    catalogue = [d for d in records if d.source.topic == CATALOGUE_TOPIC]

    # when prepare projects the catalogue into version 7
    prepared = bench(cli, "streams.bench.naive", "prepare", "--version", str(VERSION))
    assert prepared["events"] == len(catalogue)
    assert prepared["version"] == VERSION

    # and run projects a sample of about 300 dossier events, one commit each
    result = bench(cli, "streams.bench.naive", "run", "--version", str(VERSION),
                   "--limit", "300")

    # then it stopped at the same prefix of every dossier partition
    ends = topic_ends(services.kafka_bootstrap, [DOSSIER_TOPIC])
    stops = parse_stops(result)
    assert stops == sample_stops(ends, 300)
    assert result["events"] == sum(stops.values())
    assert 300 <= result["events"] < 300 + len(ends)
    assert result["version"] == VERSION
    # and every projection equals the reference fold of the catalogue and that prefix
    sample = [d for d in records if d.source.topic == CATALOGUE_TOPIC
              or d.source.offset < stops[(d.source.topic, d.source.partition)]]
    assert len(sample) == len(catalogue) + result["events"]
    expected = reference_dumps(sample)
    assert expected["portal"]["dossiers"], "no dossier in the sample; weak test"
    assert store_digests(cli.database_url, VERSION) == {
        p: dump_digest(expected[p]) for p in PROJECTIONS}

    # and running again from the stored positions projects nothing more
    again = bench(cli, "streams.bench.naive", "run", "--version", str(VERSION),
                  "--limit", "300")
    assert (again["events"], again["stops"]) == (0, result["stops"])


@pytest.mark.e2e
def test_run_before_prepare_fails_with_one_clear_line(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    # given an empty database (no topics are touched: it stops before reading)
    cli = Cli(services, database_url, tmp_path)
    # when run is started without prepare
    done = subprocess.run(
        [sys.executable, "-m", "streams.bench.naive", "run", "--version", "4", "--limit", "10"],
        env=cli.env(), capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    # then it exits 1 with one error line saying what to do, and prints no result
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: naive run: version 4 is not prepared in "
        f"{database_url}: run `python -m streams.bench.naive prepare --version 4` first"]
