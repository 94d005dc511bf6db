"""`onestop status` without Kafka: the lag arithmetic, the JSON keys, the table, and what
`read_store` reads from a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from projections.store import ProjectionStore, make_engine, set_building_version
from schemas import events as ev
from schemas.codec import AvroCodec
from schemas.registry_memory import InMemorySchemaRegistry
from streams.status import (
    DlqStatus,
    LogState,
    StoreVersion,
    build_status,
    read_store,
    render_status,
)
from tests.projections.projection_events import catalogue, dossier
from tests.streams.test_pipeline import all_partitions, encode_log, make_pipeline

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
C0, C1, D0 = (ev.CATALOGUE_TOPIC, 0), (ev.CATALOGUE_TOPIC, 1), (ev.DOSSIER_TOPIC, 0)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def log_state() -> LogState:
    return LogState(
        ends={C0: 10, C1: 4, D0: 100},
        timestamps_ms={
            (*D0, 90): ms(NOW - timedelta(seconds=42)),
            (*C1, 0): ms(NOW - timedelta(minutes=5)),
        },
        dlq=[DlqStatus("catalogue.events.dlq", "catalogue.events", 0, {}),
             DlqStatus("dossier.events.dlq", "dossier.events", 3,
                       {"sequence_gap": 2, "not_avro": 1})],
    )


def test_lag_is_end_minus_position_and_now_minus_the_first_unconsumed_record() -> None:
    live = StoreVersion("portal", "live", 1, {C0: 10, D0: 90}, parked_aggregates=1,
                        parked_records=3)
    [status] = build_status([live], log_state(), NOW).versions
    by_tp = {(p.topic, p.partition): p for p in status.partitions}
    # caught up: no lag at all
    assert (by_tp[C0].position, by_tp[C0].lag_events, by_tp[C0].lag_seconds) == (10, 0, 0.0)
    # behind: events to the end, seconds since the first record not consumed yet
    assert (by_tp[D0].lag_events, by_tp[D0].lag_seconds) == (10, 42.0)
    # never claimed: counted from offset 0
    assert (by_tp[C1].position, by_tp[C1].lag_events, by_tp[C1].lag_seconds) == (None, 4, 300.0)
    assert (status.lag_events, status.lag_seconds) == (14, 300.0)


def test_json_keys_are_stable() -> None:
    versions = [StoreVersion("portal", "live", 1, {C0: 10}),
                StoreVersion("portal", "building", 2, {C0: 3}),
                StoreVersion("stats", "live", None)]
    out = build_status(versions, log_state(), NOW).to_json()
    assert set(out) == {"as_of", "projections", "dlq"}
    assert [(p["projection"], p["role"], p["version"]) for p in out["projections"]] == [
        ("portal", "live", 1), ("portal", "building", 2), ("stats", "live", None)]
    assert set(out["projections"][0]) == {
        "projection", "role", "version", "lag_events", "lag_seconds", "parked_aggregates",
        "parked_records", "partitions"}
    assert set(out["projections"][0]["partitions"][0]) == {
        "topic", "partition", "position", "end_offset", "lag_events", "lag_seconds"}
    assert out["dlq"][1] == {"topic": "dossier.events.dlq", "origin_topic": "dossier.events",
                             "records": 3, "by_class": {"sequence_gap": 2, "not_avro": 1}}


def test_the_table_names_every_version_and_dlq() -> None:
    versions = [StoreVersion("portal", "live", 1, {C0: 10, D0: 90}, 1, 3)]
    text = render_status(build_status(versions, log_state(), NOW))
    assert "portal" in text and "dossier.events.dlq" in text
    assert "sequence_gap 2" in text


def test_read_store_reports_versions_positions_and_parked(database_url: str) -> None:
    engine = make_engine(database_url)
    # nothing created yet: every projection without a version
    assert [(v.projection, v.version) for v in read_store(engine)] == [
        ("portal", None), ("onestop", None), ("stats", None)]
    # a pipeline applies a log in which dossier A has a gap (4 rejected, 4 and 5 parked)
    codec = AvroCodec(InMemorySchemaRegistry())
    a = "00000000-0000-4000-8000-00000000000a"
    events = [*catalogue(), *[e for e in dossier(a, ev.DossierReceived, ev.DossierResolved,
                                                 ev.ResultDelivered, ev.SatisfactionRated)
                              if e.aggregate_seq != 3]]
    pipeline = make_pipeline(database_url, codec)
    pipeline.claim(all_partitions())
    records = encode_log(codec, events)
    asyncio.run(pipeline.process(sorted(records, key=lambda r: r.topic != ev.CATALOGUE_TOPIC),
                                 catalogue_caught_up=True, dlq=None))
    ends = {}
    for r in records:
        ends[(r.topic, r.partition)] = r.offset + 1
    # and a replay is building portal v2
    ProjectionStore(pipeline.engine, "portal", 2).create()
    with pipeline.engine.begin() as conn:
        set_building_version(conn, "portal", 2)
    versions = read_store(engine)
    assert [(v.projection, v.role, v.version) for v in versions] == [
        ("portal", "live", 1), ("portal", "building", 2), ("onestop", "live", 1),
        ("stats", "live", 1)]
    live = versions[0]
    assert (live.parked_aggregates, live.parked_records) == (1, 2)
    assert {tp: o for tp, o in live.positions.items() if o} == ends
    assert versions[1].positions == {} and versions[1].parked_records == 0
