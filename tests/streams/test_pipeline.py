"""The shared pipeline against a real store (SQLite and PostgreSQL), no Kafka:
positions in the same transaction as rows, redeliveries skipped, stale owners fenced."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from projections.policy import build_policies
from projections.records import Rejection, SourceRecord
from projections.store import FencedError, make_engine
from schemas import events as ev
from schemas.codec import AvroCodec
from schemas.registry_memory import InMemorySchemaRegistry
from streams.compose import live_stores
from streams.pipeline import Pipeline
from tests.projections.projection_events import catalogue, dossier, partition_of


class CollectingSink:
    def __init__(self) -> None:
        self.sent: list[Rejection] = []

    async def send(self, rejections: Sequence[Rejection]) -> None:
        self.sent.extend(rejections)


def encode_log(codec: AvroCodec, events: Sequence[ev.Event]) -> list[SourceRecord]:
    """The events as Kafka would hold them: keyed partitions, consecutive offsets."""
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for event in events:
        partitions = 12 if event.TOPIC == ev.DOSSIER_TOPIC else 3
        tp = (event.TOPIC, partition_of(event.aggregate_id, partitions))
        offset = offsets.get(tp, 0)
        offsets[tp] = offset + 1
        out.append(
            SourceRecord(tp[0], tp[1], offset, event.aggregate_id.encode(),
                         codec.encode(event.TOPIC, event))
        )
    return out


def make_pipeline(url: str, codec: AvroCodec) -> Pipeline:
    engine = make_engine(url)
    return Pipeline(engine, codec, live_stores(engine), build_policies(b"k" * 32),
                    max_record_bytes=1 << 20)


def all_partitions() -> list[tuple[str, int]]:
    return [(ev.CATALOGUE_TOPIC, p) for p in range(3)] + [(ev.DOSSIER_TOPIC, p) for p in range(12)]


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec(InMemorySchemaRegistry())


@pytest.fixture
def log(codec: AvroCodec) -> list[SourceRecord]:
    events = [
        *catalogue(),
        *dossier("00000000-0000-4000-8000-000000000001", ev.DossierReceived, ev.DossierResolved),
        *dossier("00000000-0000-4000-8000-000000000002", ev.DossierReceived),
    ]
    return encode_log(codec, events)


def dumps(pipeline: Pipeline) -> dict[str, object]:
    with pipeline.engine.connect() as conn:
        return {name: store.dump(conn) for name, store in pipeline.stores.items()}


def run(pipeline: Pipeline, records: list[SourceRecord], sink: CollectingSink | None = None):
    catalogue_first = sorted(records, key=lambda r: r.topic != ev.CATALOGUE_TOPIC)
    return asyncio.run(
        pipeline.process(catalogue_first, catalogue_caught_up=True, dlq=sink)
    )


def test_a_redelivered_batch_changes_nothing(database_url: str, codec: AvroCodec,
                                             log: list[SourceRecord]) -> None:
    # given a pipeline that has applied the log once
    pipeline = make_pipeline(database_url, codec)
    pipeline.claim(all_partitions())
    first = run(pipeline, log)
    before = dumps(pipeline)
    # when the same records arrive again (a redelivery after a crash)
    second = run(pipeline, log)
    # then the first applied everything and the second nothing
    assert sum(v for k, v in first.counters.items() if k.endswith(".applied")) == 3 * len(log)
    assert not any(k.endswith(".applied") for k in second.counters)
    assert dumps(pipeline) == before


def test_positions_are_stored_with_the_rows(database_url: str, codec: AvroCodec,
                                            log: list[SourceRecord]) -> None:
    pipeline = make_pipeline(database_url, codec)
    pipeline.claim(all_partitions())
    run(pipeline, log)
    # a new pipeline (a restarted worker) seeks to the stored positions, per partition
    restarted = make_pipeline(database_url, codec)
    seek = restarted.claim(all_partitions())
    expected: dict[tuple[str, int], int] = {}
    for r in log:
        expected[(r.topic, r.partition)] = r.offset + 1
    assert {tp: off for tp, off in seek.items() if off} == expected


def test_a_stale_worker_cannot_write(database_url: str, codec: AvroCodec,
                                     log: list[SourceRecord]) -> None:
    # given worker A owns the partitions, then worker B takes them over (a rebalance)
    stale = make_pipeline(database_url, codec)
    stale.claim(all_partitions())
    fresh = make_pipeline(database_url, codec)
    fresh.claim(all_partitions())
    # when A, unaware, tries to commit a batch
    with pytest.raises(FencedError):
        run(stale, log)
    # then nothing of A's batch is in the store, and B applies it normally
    assert all(not rows for dump in dumps(fresh).values() for rows in dump.values())
    outcome = run(fresh, log)
    assert outcome.counters["stats.applied"] == len(log)


def test_undecodable_bytes_go_to_the_sink_and_the_stream_moves_on(
    database_url: str, codec: AvroCodec, log: list[SourceRecord]
) -> None:
    pipeline = make_pipeline(database_url, codec)
    pipeline.claim(all_partitions())
    bad = SourceRecord(ev.DOSSIER_TOPIC, 11, 1000, b"k", b"not avro at all")
    sink = CollectingSink()
    outcome = run(pipeline, [*log, bad], sink)
    assert [(r.error_class, r.source.offset) for r in sink.sent] == [("not_avro", 1000)]
    assert outcome.counters["portal.applied"] == len(log)
    assert pipeline.claim([(ev.DOSSIER_TOPIC, 11)])[(ev.DOSSIER_TOPIC, 11)] == 1001


def test_a_swapped_in_version_takes_over_without_losing_a_record(
    database_url: str, codec: AvroCodec, log: list[SourceRecord], tmp_path
) -> None:
    from projections.store import ProjectionStore, set_live_version

    # given a live worker that applied the first half of the log into v1
    half = len(log) // 2
    live = make_pipeline(database_url, codec)
    live.claim(all_partitions())
    run(live, log[:half])
    # and a replay that rebuilt v2 from the same half, then swapped it in
    engine = live.engine
    rebuilt = {name: ProjectionStore(engine, name, 2) for name in live.stores}
    for store in rebuilt.values():
        store.create()
    replay = Pipeline(engine, codec, rebuilt, build_policies(b"k" * 32),
                      max_record_bytes=1 << 20, follow_live=False)
    replay.claim(all_partitions())
    run(replay, log[:half])
    with engine.begin() as conn:
        for name in rebuilt:
            set_live_version(conn, name, 2)
    # when the live worker processes the rest
    run(live, log[half:])
    # then it wrote into v2, which now equals a clean fold of the whole log
    assert all(store.version == 2 for store in live.stores.values())
    clean = make_pipeline(f"sqlite:///{tmp_path / 'clean.db'}", codec)
    clean.claim(all_partitions())
    run(clean, log)
    assert dumps(live) == dumps(clean)
