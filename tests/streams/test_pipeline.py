"""The shared pipeline against a real store (SQLite and PostgreSQL), no Kafka:
positions in the same transaction as rows, redeliveries skipped, stale owners fenced."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine

from projections.policy import build_policies
from projections.records import Rejection, SourceRecord
from projections.store import FencedError, ProjectionStore, make_engine
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


def _interleaved(codec: AvroCodec) -> list[SourceRecord]:
    """A log whose dossiers span many batches: a gap (parked), a duplicate, forwards, PII."""
    walks = [
        dossier(f"00000000-0000-4000-8000-{i:012d}", ev.DossierReceived,
                ev.FinancialObligationRequested, ev.PaymentCompleted, ev.DossierForwarded,
                ev.DossierResolved, ev.ResultDelivered)
        for i in range(6)
    ]
    gap = dossier("00000000-0000-4000-8000-00000000000a", ev.DossierReceived,
                  ev.DossierStepTransferred, ev.DossierResolved)
    del gap[1]  # seq 2 never arrives: 3 is rejected, 4 parked behind it
    walks.append(gap)
    walks[0].insert(3, walks[0][2])  # a publisher re-sending an event
    merged = [walk[step] for step in range(8) for walk in walks if step < len(walk)]
    return encode_log(codec, [*catalogue(), *merged])


def _everything(engine: Engine, stores: dict[str, ProjectionStore]) -> dict[str, object]:
    with engine.connect() as conn:
        return {name: (store.dump(conn),
                       sorted(tuple(r) for r in conn.execute(store.tables.snapshots.select())),
                       store.parked(conn), store.positions(conn))
                for name, store in stores.items()}


@pytest.mark.parametrize(("names", "max_cached"), [
    (("portal", "onestop", "stats"), 10_000),
    (("portal", "onestop", "stats"), 1),  # evicts all the time: reloads from the store
    (("portal", "stats"), 10_000),
    (("onestop",), 2),
])
def test_an_exclusive_pipeline_writes_exactly_what_the_shared_path_writes(
    database_url: str, codec: AvroCodec, names: tuple[str, ...], max_cached: int
) -> None:
    # given the same log, in small batches, into two new versions of the same projections
    engine = make_engine(database_url)
    log = _interleaved(codec)
    plain, cached = ({n: ProjectionStore(engine, n, v) for n in names} for v in (2, 3))
    for store in (*plain.values(), *cached.values()):
        store.create()
    policies = {n: build_policies(b"k" * 32)[n] for n in names}
    shared = Pipeline(engine, codec, plain, policies, max_record_bytes=1 << 20,
                      follow_live=False)
    exclusive = Pipeline(engine, codec, cached, policies, max_record_bytes=1 << 20,
                         follow_live=False, exclusive=True, max_cached=max_cached)
    outcomes = {}
    for pipeline in (shared, exclusive):
        pipeline.claim(all_partitions())
        counters: Counter[str] = Counter()
        for i in range(0, len(log), 9):
            counters += run(pipeline, log[i:i + 9]).counters
        outcomes[pipeline.exclusive] = counters

    # then rows, snapshots (their JSON too), parked records, positions and counters are equal
    assert _everything(engine, cached) == _everything(engine, plain)
    assert outcomes[True] == outcomes[False]
    assert outcomes[True][f"{names[0]}.rejected"] == 1
    assert outcomes[True][f"{names[0]}.duplicates"] == 1
    engine.dispose()


def test_only_a_pipeline_pinned_to_its_versions_may_keep_them_in_memory(
    database_url: str, codec: AvroCodec
) -> None:
    engine = make_engine(database_url)
    with pytest.raises(ValueError, match="pin"):
        Pipeline(engine, codec, live_stores(engine), build_policies(b"k" * 32),
                 max_record_bytes=1 << 20, exclusive=True)
    engine.dispose()
