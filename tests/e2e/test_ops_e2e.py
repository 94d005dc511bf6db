"""End to end: `onestop status` and `onestop dlq list | show | retry | release` against the
real services, on SQLite and PostgreSQL.

- `status` lag figures equal the topics' end offsets before the worker ran, are zero once
  it is idle, and equal what was published since when it has not run again;
- after a worker run that dead-letters a sequence gap, two oversize records, an unknown
  reference and a non-Avro record, `dlq list` / `show` show them with their classes and
  origins; after the fixes (the missing event re-sent, the limit raised and `retry`, the
  catalogue completed), `release` applies every parked event in order, and the projections
  and `onestop stats --json` equal a clean fold of the complete events.

Each test holds the broker's contract topics (deleted and recreated empty, see
`helpers.exclusive_topics`), its own database and its own consumer group.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiokafka import AIOKafkaProducer

from connectors.workload import write_jsonl
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
    read_topic,
    reference_dumps,
    store_dumps,
    topic_ends,
)
from tests.projections.projection_events import (
    AGENCY,
    catalogue,
    dossier,
    make,
    records,
)

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

TOPICS = [CATALOGUE_TOPIC, DOSSIER_TOPIC]



def _jsonl(path: Path, events: list[ev.Event]) -> Path:
    write_jsonl((event_to_json(e) for e in events), path)
    return path


def _status(cli: Cli) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(ok(cli.run("status", "--json")).stdout)
    assert [p["projection"] for p in out["projections"]] == list(PROJECTIONS)
    return out


def _partitions(projection: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(p["topic"], p["partition"]): p for p in projection["partitions"]}


def test_status_lag_matches_the_end_offsets(cli: Cli, services: Services, tmp_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(4)]
    first = [*catalogue(), *(e for i in ids[:3] for e in dossier(i, ev.DossierReceived))]
    ok(cli.run("publish", str(_jsonl(tmp_path / "first.jsonl", first))))
    ends = topic_ends(services.kafka_bootstrap, TOPICS)
    assert sum(ends.values()) == len(first)

    # before any worker ran: no projection version, the whole log is the lag
    before = _status(cli)
    for projection in before["projections"]:
        assert projection["version"] is None
        parts = _partitions(projection)
        assert {tp: p["end_offset"] for tp, p in parts.items()} == ends
        assert {tp: p["lag_events"] for tp, p in parts.items()} == ends
        assert projection["lag_events"] == len(first)
        for tp, p in parts.items():
            assert (p["lag_seconds"] > 0) == (ends[tp] > 0), tp
            assert p["lag_seconds"] < 600, tp
    assert [(d["topic"], d["records"]) for d in before["dlq"]] == [
        ("catalogue.events.dlq", 0), ("dossier.events.dlq", 0)]
    ok(cli.run("status"))  # the table, too

    # once the worker is idle: positions at the ends, no lag
    ok(cli.run("worker", "--until-idle", "2"))
    idle = _status(cli)
    for projection in idle["projections"]:
        assert (projection["role"], projection["version"]) == ("live", 1)
        parts = _partitions(projection)
        assert {tp: p["position"] or 0 for tp, p in parts.items()} == ends
        assert all(p["lag_events"] == 0 and p["lag_seconds"] == 0 for p in parts.values())
        assert (projection["parked_aggregates"], projection["parked_records"]) == (0, 0)

    # published since, worker not run again: the lag is exactly what was added
    second = [e for i in ids for e in dossier(i, ev.DossierReceived, ev.DossierStepTransferred)
              if e.aggregate_seq == 3 or i == ids[3]]
    ok(cli.run("publish", str(_jsonl(tmp_path / "second.jsonl", second))))
    now_ends = topic_ends(services.kafka_bootstrap, TOPICS)
    behind = _status(cli)
    for projection in behind["projections"]:
        parts = _partitions(projection)
        assert {tp: p["lag_events"] for tp, p in parts.items()} == {
            tp: now_ends[tp] - ends[tp] for tp in now_ends}
        assert projection["lag_events"] == len(second)
        assert all((p["lag_seconds"] > 0) == (p["lag_events"] > 0) for p in parts.values())


def _stats_rows(dump: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[dict[str, Any]]]:
    specs = VIEW_TABLES["stats"]
    return {t: [dict(zip(specs[t].column_names, row, strict=True)) for row in rows]
            for t, rows in dump.items()}


async def _produce_raw(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def test_retry_and_release_apply_parked_events_in_order(
    cli: Cli, services: Services, tmp_path: Path
) -> None:
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    big = {"SupplementRequested": {"reason": "thiếu bản sao " * 120}}  # > 1 KiB
    missing = "9.000001"
    a_all = dossier(a, ev.DossierReceived, ev.DossierStepTransferred, ev.DossierStepTransferred,
                    ev.DossierResolved)
    b_all = dossier(b, ev.DossierReceived, ev.SupplementRequested, ev.SupplementReceived, **big)
    c_all = dossier(c, ev.DossierReceived, ev.SupplementRequested, **big)
    d_all = dossier(d, ev.DossierReceived, DossierSubmitted={"procedure_code": missing})
    fix = [make(ev.ProcedurePublished, missing, 1),
           make(ev.ProcedureAppliedAtAgency, missing, 2, agency_code=AGENCY)]

    # given A without seq 3, B and C with an oversize seq 3, D for an unknown procedure and
    # a record that is not Avro, projected with a 1 KiB record limit
    first = [*catalogue(), *(e for e in a_all if e.aggregate_seq != 3), *b_all, *c_all, *d_all]
    ok(cli.run("publish", str(_jsonl(tmp_path / "first.jsonl", first))))
    asyncio.run(_produce_raw(services.kafka_bootstrap, DOSSIER_TOPIC, b"garbage", b"not avro"))
    ok(cli.run("worker", "--until-idle", "2", env={"ONESTOP_MAX_RECORD_BYTES": "1024"}))
    sources = {(r.event.aggregate_id, r.event.aggregate_seq) if r.event else "garbage": r.source
               for r in decoded_topics(services, [DOSSIER_TOPIC])}

    def origin(name: Any) -> dict[str, Any]:
        s = sources[name]
        return {"topic": s.topic, "partition": s.partition, "offset": s.offset}

    # then `dlq list` shows each with its class and origin, decoded where possible
    listed = [json.loads(line) for line in
              ok(cli.run("dlq", "list", "--json")).stdout.splitlines()]
    expected = [("sequence_gap", (a, 4)), ("oversize_record", (b, 3)), ("sequence_gap", (b, 4)),
                ("oversize_record", (c, 3)), ("unknown_reference", (d, 1)),
                ("not_avro", "garbage")]
    assert sorted((r["error_class"], json.dumps(r["origin"])) for r in listed) == sorted(
        (cls, json.dumps(origin(name))) for cls, name in expected)
    by_origin = {json.dumps(r["origin"]): r for r in listed}
    a4 = by_origin[json.dumps(origin((a, 4)))]
    assert a4["event"] == {"type": "DossierStepTransferred", "aggregate_id": a,
                           "aggregate_seq": 4}
    assert by_origin[json.dumps(origin("garbage"))]["event"] is None
    assert len(ok(cli.run("dlq", "list", "--class", "oversize_record")).stdout.splitlines()) == 2
    # and `dlq show` gives the headers and the event, or the raw bytes
    shown = ok(cli.run("dlq", "show", a4["dlq"])).stdout
    assert "error.class: sequence_gap" in shown
    assert f"origin.offset: {origin((a, 4))['offset']}" in shown
    assert '"aggregate_seq": 4' in shown and '"type": "DossierStepTransferred"' in shown
    s = sources["garbage"]
    raw = ok(cli.run("dlq", "show", "--origin", f"{s.topic}:{s.partition}:{s.offset}")).stdout
    assert "not decodable: not_avro" in raw and b"not avro".hex() in raw
    status = _status(cli)
    for projection in status["projections"]:  # A, B, D parked: A 4 5, B 4, D 1 2
        assert (projection["parked_aggregates"], projection["parked_records"]) == (3, 5)
    assert status["dlq"][1]["records"] == 6
    assert status["dlq"][1]["by_class"] == {"not_avro": 1, "oversize_record": 2,
                                            "sequence_gap": 2, "unknown_reference": 1}

    # when the causes are fixed: A's seq 3 re-sent, the catalogue completed, the limit back
    # to its default and the oversize records retried (a dry run first)
    ok(cli.run("publish", str(_jsonl(tmp_path / "fix.jsonl", [a_all[2], *fix]))))
    ends = topic_ends(services.kafka_bootstrap, TOPICS)
    dry = ok(cli.run("dlq", "retry", "--class", "oversize_record", "--dry-run")).stdout
    assert dry.count("would re-publish") == 2
    assert topic_ends(services.kafka_bootstrap, TOPICS) == ends
    retried = ok(cli.run("dlq", "retry", "--class", "oversize_record")).stdout
    assert retried.count("re-published dossier.events.dlq:") == 2
    assert f"aggregate {b} is parked" in retried and f"aggregate {c} is" not in retried
    again = [m for m in read_topic(services.kafka_bootstrap, DOSSIER_TOPIC)
             if m.offset >= ends[(DOSSIER_TOPIC, m.partition)]]
    assert sorted((m.partition, dict(m.headers)["onestop.retry-of"].decode()) for m in again) == \
        sorted((r["origin"]["partition"], r["dlq"]) for r in listed
               if r["error_class"] == "oversize_record")
    ok(cli.run("worker", "--until-idle", "2"))

    # and A, B and D are released
    released = {x: cli.run("dlq", "release", x) for x in (a, b, d)}

    # then each applied its parked events in order, in every projection
    for x, seqs in ((a, "3, 4, 5"), (b, "3, 4"), (d, "1, 2")):
        out = ok(released[x]).stdout
        assert out.count(f"applied seq {seqs}\n") == len(PROJECTIONS), out
        assert "rejected again" not in out
    status = _status(cli)
    for projection in status["projections"]:
        assert (projection["parked_aggregates"], projection["parked_records"]) == (0, 0)
        assert projection["lag_events"] == 0
    # and the projections and the statistics equal a clean fold of the complete events
    complete = records([*catalogue(), *fix, *a_all, *b_all, *c_all, *d_all])
    expected_dumps = reference_dumps(complete)
    assert store_dumps(cli.database_url) == expected_dumps
    printed = json.loads(ok(cli.run("stats", "--json", "--period", "2020")).stdout)
    reference = compute_statistics(StatsFacts.from_rows(_stats_rows(expected_dumps["stats"])),
                                   parse_period("2020"))
    assert printed["dossiers"]["received_total"] == 4
    printed.pop("as_of")
    reference.pop("as_of")
    assert printed == json.loads(json.dumps(reference))
