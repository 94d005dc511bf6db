"""End to end: a province published with `onestop publish`, projected by `onestop worker`,
compared with the in-memory reference fold — on SQLite and PostgreSQL.

- every projection's store dump equals `reference_fold` over the records read back from
  the topics (catalogue first), with the worker's policies (the same PII HMAC key);
- `onestop stats --json` equals `compute_statistics` over the reference `stats` rows;
- publishing the same file again and running the worker again changes nothing (the
  worker counts duplicates);
- a sequence gap parks only its dossier, behind one DLQ record, while the other dossier
  is applied in full.

Each test holds the broker's contract topics (deleted and recreated empty, see
`helpers.exclusive_topics`), its own database and its own consumer group.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.period import parse_period
from projections.records import PROJECTIONS
from projections.reference import VIEW_TABLES
from projections.statistics import compute_statistics
from projections.stats_facts import StatsFacts
from schemas import events as ev
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from schemas.jsonform import event_to_json
from tests.e2e.helpers import (
    Cli,
    decoded_topics,
    ok,
    parked_of,
    read_dlq,
    read_rows,
    reference_dumps,
    snapshot_of,
    store_dumps,
    worker_counters,
)
from tests.projections.projection_events import catalogue, dossier

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=7, dossiers=300, procedures=150, departments=5, communes=8)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The generated province as a JSON-lines file, and its number of events."""
    path = tmp_path_factory.mktemp("province") / "province.jsonl"
    return path, write_jsonl(generate(SPEC), path)



def _stats_rows(dump: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[dict[str, Any]]]:
    """The reference `stats` dump as rows by column name (what `StatsFacts` reads)."""
    specs = VIEW_TABLES["stats"]
    return {
        table: [dict(zip(specs[table].column_names, row, strict=True)) for row in rows]
        for table, rows in dump.items()
    }


def test_a_published_province_projects_exactly_like_the_reference_fold(
    cli: Cli, services: Services, province: tuple[Path, int]
) -> None:
    path, count = province

    # given the province published through the CLI
    published = ok(cli.run("publish", str(path)))
    assert f"published {count} events" in published.stdout

    # when the worker runs until idle
    worker = ok(cli.run("worker", "--until-idle", "2"))

    # then it logged no error (e.g. no leaked producer or consumer)
    assert "ERROR" not in worker.stderr, worker.stderr
    # and the topics hold exactly the file, every event was applied once, nothing rejected
    records = decoded_topics(services)
    assert len(records) == count
    assert all(d.event is not None for d in records)
    counters = worker_counters(worker.stderr)
    assert set(counters) == set(PROJECTIONS), worker.stderr
    for projection in PROJECTIONS:
        assert counters[projection] == {
            "records": count, "applied": count, "duplicates": 0, "rejected": 0, "parked": 0
        }, projection
    assert read_dlq(services.kafka_bootstrap, CATALOGUE_TOPIC) == []
    assert read_dlq(services.kafka_bootstrap, DOSSIER_TOPIC) == []

    # and each projection equals the reference fold of what the topics hold
    expected = reference_dumps(records)
    stored = store_dumps(cli.database_url)
    for projection in PROJECTIONS:
        for table, rows in expected[projection].items():
            assert rows, f"{projection}.{table}: the reference has no rows; weak test"
            assert stored[projection][table] == rows, f"{projection}.{table} differs"
    portal_dossiers = {row[0] for row in stored["portal"]["dossiers"]}
    assert len(portal_dossiers) == SPEC.dossiers

    # and the statistics the CLI prints are those of the reference facts
    period = str(SPEC.year)
    printed = json.loads(ok(cli.run("stats", "--json", "--period", period)).stdout)
    reference = compute_statistics(
        StatsFacts.from_rows(_stats_rows(expected["stats"])), parse_period(period)
    )
    block = printed["dossiers"]
    assert block["received_total"] > 0
    assert block["received_total"] == (
        block["resolved_total"] + block["withdrawn"] + block["in_process_total"]
        + block["waiting_supplement_or_suspended"]
    )
    printed.pop("as_of")
    reference.pop("as_of")
    assert printed == json.loads(json.dumps(reference))

    # when the same file is published again and the worker runs again
    ok(cli.run("publish", str(path)))
    again = ok(cli.run("worker", "--until-idle", "2"))

    # then the topics hold every event twice, the worker saw only duplicates, nothing changed
    assert len(decoded_topics(services)) == 2 * count
    counters = worker_counters(again.stderr)
    for projection in PROJECTIONS:
        assert counters[projection] == {
            "records": count, "applied": 0, "duplicates": count, "rejected": 0, "parked": 0
        }, projection
    assert store_dumps(cli.database_url) == stored
    assert read_dlq(services.kafka_bootstrap, DOSSIER_TOPIC) == []


def _jsonl(path: Path, events: list[ev.Event]) -> Path:
    write_jsonl((event_to_json(e) for e in events), path)
    return path


def test_a_sequence_gap_parks_only_its_dossier(
    cli: Cli, services: Services, tmp_path: Path
) -> None:
    # given dossier A with seq 1, 2, 4, 5 (3 missing) and dossier B with seq 1, 2, 3
    a_id, b_id = str(uuid.uuid4()), str(uuid.uuid4())
    a_all = dossier(a_id, ev.DossierReceived, ev.DossierStepTransferred,
                    ev.DossierStepTransferred, ev.DossierResolved)
    a_events = [e for e in a_all if e.aggregate_seq != 3]
    b_events = dossier(b_id, ev.DossierReceived, ev.DossierStepTransferred)
    events = [*catalogue(), *a_events, *b_events]
    ok(cli.run("publish", str(_jsonl(tmp_path / "gap.jsonl", events))))

    # when the worker runs until idle
    worker = ok(cli.run("worker", "--until-idle", "2"))

    # then B is applied in full and flows
    a_key, b_key = (DOSSIER_TOPIC, a_id), (DOSSIER_TOPIC, b_id)
    for projection, snap in snapshot_of(cli.database_url, b_key).items():
        assert snap is not None, projection
        assert (snap.last_seq, snap.parked_from_seq) == (3, None), projection
    # and A stopped at seq 2, parked from 4, with 4 and 5 held back in order
    for projection, snap in snapshot_of(cli.database_url, a_key).items():
        assert snap is not None, projection
        assert (snap.last_seq, snap.parked_from_seq) == (2, 4), projection
    for projection, parked in parked_of(cli.database_url, a_key).items():
        assert [p.aggregate_seq for p in parked] == [4, 5], projection
    statuses = {r["dossier_id"]: r["status"] for r in read_rows(cli.database_url, "portal",
                                                                 "dossiers")}
    assert statuses == {a_id: 2, b_id: 4}
    counters = worker_counters(worker.stderr)
    for projection in PROJECTIONS:
        assert counters[projection]["rejected"] == 1, projection
        assert counters[projection]["parked"] == 1, projection  # seq 5, behind seq 4

    # and exactly one DLQ record, `sequence_gap`, pointing back at A's seq 4
    records = decoded_topics(services, [DOSSIER_TOPIC])
    [a4] = [d.source for d in records
            if d.event is not None and d.event.aggregate_id == a_id and d.event.aggregate_seq == 4]
    [dead] = read_dlq(services.kafka_bootstrap, DOSSIER_TOPIC)
    assert dead.error_class == "sequence_gap"
    assert "seq 4 after 2" in dead.reason
    assert (dead.origin_topic, dead.origin_partition, dead.origin_offset) == (
        a4.topic, a4.partition, a4.offset
    )
    assert (dead.key, dead.value) == (a4.key, a4.value)
    assert read_dlq(services.kafka_bootstrap, CATALOGUE_TOPIC) == []

    # and the stores still equal the reference fold (which parks the same way)
    assert store_dumps(cli.database_url) == reference_dumps(decoded_topics(services))
