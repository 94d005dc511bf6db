"""`dlq release` at the store level (SQLite and PostgreSQL), no Kafka: a parked aggregate's
events apply in `aggregate_seq` order once the cause is fixed, what fails again is parked
and dead-lettered again, and a release racing a live worker's batch is safe."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from projections.policy import build_policies
from projections.records import Rejection, SourceRecord
from schemas import events as ev
from schemas.codec import AvroCodec
from schemas.registry_memory import InMemorySchemaRegistry
from streams.dlq_release import ReleaseReport, release_aggregate
from streams.dlq_tools import entry_from_message, parse_coordinates
from streams.pipeline import Pipeline
from tests.projections.projection_events import AGENCY, catalogue, dossier, make, partition_of
from tests.streams.test_pipeline import all_partitions, dumps, make_pipeline

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
KEY_A = (ev.DOSSIER_TOPIC, A)
POLICIES = build_policies(b"k" * 32)


class Sink:
    def __init__(self) -> None:
        self.sent: list[Rejection] = []

    async def send(self, rejections: Sequence[Rejection]) -> None:
        self.sent.extend(rejections)

    def __call__(self, rejections: Sequence[Rejection]) -> None:
        self.sent.extend(rejections)


class Log:
    """A growing Kafka log: keyed partitions, consecutive offsets per partition."""

    def __init__(self, codec: AvroCodec) -> None:
        self.codec = codec
        self.offsets: dict[tuple[str, int], int] = {}

    def append(self, events: Sequence[ev.Event]) -> list[SourceRecord]:
        out = []
        for event in events:
            n = 12 if event.TOPIC == ev.DOSSIER_TOPIC else 3
            tp = (event.TOPIC, partition_of(event.aggregate_id, n))
            offset = self.offsets.get(tp, 0)
            self.offsets[tp] = offset + 1
            out.append(SourceRecord(tp[0], tp[1], offset, event.aggregate_id.encode(),
                                    self.codec.encode(event.TOPIC, event)))
        return out


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec(InMemorySchemaRegistry())


def process(pipeline: Pipeline, records: list[SourceRecord], sink: Sink | None = None) -> Any:
    ordered = sorted(records, key=lambda r: r.topic != ev.CATALOGUE_TOPIC)
    return asyncio.run(pipeline.process(ordered, catalogue_caught_up=True, dlq=sink))


def release(pipeline: Pipeline, sink: Sink | None = None, key: tuple[str, str] = KEY_A,
            dry_run: bool = False) -> list[ReleaseReport]:
    return release_aggregate(pipeline.engine, pipeline.stores, pipeline.codec, POLICIES, key,
                             max_record_bytes=1 << 20, send=sink, dry_run=dry_run)


def clean_fold(tmp_path: Path, codec: AvroCodec, events: Sequence[ev.Event]) -> dict[str, Any]:
    """The stores after one pipeline run over the complete events, in order."""
    pipeline = make_pipeline(f"sqlite:///{tmp_path / 'clean.db'}", codec)
    pipeline.claim(all_partitions())
    outcome = process(pipeline, Log(codec).append(events))
    assert not any(k.endswith(".rejected") for k in outcome.counters)
    return dumps(pipeline)


def heads(pipeline: Pipeline, key: tuple[str, str] = KEY_A) -> dict[str, tuple[int, int | None]]:
    with pipeline.engine.connect() as conn:
        out = {}
        for name, store in pipeline.stores.items():
            snap = store.load_snapshots(conn, [key])[key]
            out[name] = (snap.last_seq, snap.parked_from_seq)
        return out


def parked_seqs(pipeline: Pipeline, key: tuple[str, str] = KEY_A) -> dict[str, list[int]]:
    with pipeline.engine.connect() as conn:
        return {n: [p.aggregate_seq for p in s.parked(conn, key)]
                for n, s in pipeline.stores.items()}


def a_events() -> list[ev.Event]:
    return dossier(A, ev.DossierReceived, ev.DossierStepTransferred, ev.DossierStepTransferred,
                   ev.DossierResolved)


def gapped(database_url: str, codec: AvroCodec) -> tuple[Pipeline, Log, Sink]:
    """Dossier A published with seq 3 missing (4 rejected, 4 and 5 parked), B complete."""
    pipeline = make_pipeline(database_url, codec)
    pipeline.claim(all_partitions())
    log, sink = Log(codec), Sink()
    b = dossier(B, ev.DossierReceived)
    process(pipeline, log.append([*catalogue(), *[e for e in a_events()
                                                  if e.aggregate_seq != 3], *b]), sink)
    assert [(r.error_class, r.source.offset) for r in sink.sent] == [("sequence_gap", 2)]
    assert set(heads(pipeline).values()) == {(2, 4)}
    assert set(map(tuple, parked_seqs(pipeline).values())) == {(4, 5)}
    return pipeline, log, sink


def test_a_gap_released_after_the_missing_event_arrives_equals_a_clean_fold(
    database_url: str, codec: AvroCodec, tmp_path: Path
) -> None:
    # given A parked behind a gap, and the publisher re-sending the missing seq 3
    pipeline, log, _ = gapped(database_url, codec)
    [a3] = [e for e in a_events() if e.aggregate_seq == 3]
    outcome = process(pipeline, log.append([a3]))
    assert outcome.counters["stats.parked"] == 1  # held back: A is parked
    assert set(map(tuple, parked_seqs(pipeline).values())) == {(3, 4, 5)}
    # when the operator releases A
    sink = Sink()
    reports = release(pipeline, sink)
    # then 3, 4, 5 were applied in order in every projection, nothing was rejected
    assert [r.projection for r in reports] == list(pipeline.stores)
    for r in reports:
        assert (r.before, r.after) == ((2, 4), (5, None)), r
        assert (r.released, r.applied, r.duplicates, r.parked_again) == ((3, 4, 5), (3, 4, 5),
                                                                         (), ())
    assert sink.sent == []
    assert set(map(tuple, parked_seqs(pipeline).values())) == {()}
    # and the stores equal a clean fold of the complete events
    complete = [*catalogue(), *a_events(), *dossier(B, ev.DossierReceived)]
    assert dumps(pipeline) == clean_fold(tmp_path, codec, complete)
    # and A flows again: its next event is applied directly
    nxt = make(ev.ResultDelivered, A, 6)
    assert process(pipeline, log.append([nxt])).counters["portal.applied"] == 1


def test_a_release_rejected_again_parks_and_dead_letters_again(
    database_url: str, codec: AvroCodec, tmp_path: Path
) -> None:
    # given A parked behind a gap whose cause is not fixed yet
    pipeline, log, _ = gapped(database_url, codec)
    # when the operator releases A (a dry run first, then for real)
    dry_sink = Sink()
    dry = release(pipeline, dry_sink, dry_run=True)
    assert all(r.parked_again == (4, 5) for r in dry)
    assert dry_sink.sent == [] and set(heads(pipeline).values()) == {(2, 4)}
    sink = Sink()
    reports = release(pipeline, sink)
    # then seq 4 is rejected again (once in the DLQ for all projections) and 4, 5 parked again
    assert [(r.error_class, r.source.offset) for r in sink.sent] == [("sequence_gap", 2)]
    for r in reports:
        assert (r.after, r.applied, r.parked_again) == ((2, 4), (), (4, 5)), r
    text = reports[0].describe(KEY_A)
    assert "rejected again (sequence_gap)" in text and "parked again: seq 4, 5" in text
    assert text.endswith("now at seq 2, parked from seq 4")
    assert set(map(tuple, parked_seqs(pipeline).values())) == {(4, 5)}
    # when the publisher then re-sends all of A, and A is released again
    process(pipeline, log.append(a_events()))
    reports = release(pipeline, Sink())
    # then 3, 4, 5 apply once; the re-sent 4 and 5 are duplicates
    for r in reports:
        assert (r.released, r.applied, r.duplicates) == ((3, 4, 4, 5, 5), (3, 4, 5), (4, 5)), r
        assert r.after == (5, None)
    complete = [*catalogue(), *a_events(), *dossier(B, ev.DossierReceived)]
    assert dumps(pipeline) == clean_fold(tmp_path, codec, complete)


def test_an_unknown_reference_released_after_the_catalogue_is_fixed(
    database_url: str, codec: AvroCodec, tmp_path: Path
) -> None:
    # given dossier A submitted for a procedure the catalogue does not hold
    missing = "9.000001"
    events = dossier(A, ev.DossierReceived,
                     DossierSubmitted={"procedure_code": missing})
    pipeline = make_pipeline(database_url, codec)
    pipeline.claim(all_partitions())
    log, sink = Log(codec), Sink()
    process(pipeline, log.append([*catalogue(), *events]), sink)
    assert [r.error_class for r in sink.sent] == ["unknown_reference"]
    assert set(heads(pipeline).values()) == {(0, 1)}
    # when the catalogue administrator publishes the procedure and applies it at the agency
    fix = [make(ev.ProcedurePublished, missing, 1),
           make(ev.ProcedureAppliedAtAgency, missing, 2, agency_code=AGENCY)]
    process(pipeline, log.append(fix))
    # and the operator releases A
    reports = release(pipeline, Sink())
    # then A's events apply, and the stores equal a clean fold of everything
    assert all((r.applied, r.after) == ((1, 2), (2, None)) for r in reports)
    assert dumps(pipeline) == clean_fold(tmp_path, codec, [*catalogue(), *fix, *events])


def test_a_release_racing_a_worker_batch_makes_the_worker_fold_again(
    database_url: str, codec: AvroCodec, tmp_path: Path
) -> None:
    # given A parked with 3, 4, 5 held back, and a worker batch holding A's seq 6 and B's 3
    pipeline, log, _ = gapped(database_url, codec)
    [a3] = [e for e in a_events() if e.aggregate_seq == 3]
    process(pipeline, log.append([a3]))
    b_all = dossier(B, ev.DossierReceived, ev.DossierStepTransferred)
    batch = log.append([make(ev.ResultDelivered, A, 6), b_all[2]])
    # when the release commits after the worker folded the batch (A 6 parked) but before
    # the worker commits it
    plan, calls = pipeline.plan, []

    def plan_then_release(*args: Any, **kwargs: Any) -> Any:
        plans = plan(*args, **kwargs)
        calls.append(plans)
        if len(calls) == 1:
            assert plans["portal"].counters["parked"] == 1  # A 6, behind the parked A
            release(pipeline, Sink())
        return plans

    pipeline.plan = plan_then_release  # type: ignore[method-assign]
    outcome = process(pipeline, batch)
    # then the worker's commit saw A change, folded the batch again, and applied A 6
    assert len(calls) == 2
    assert outcome.counters["portal.applied"] == 2
    assert set(heads(pipeline).values()) == {(6, None)}
    assert set(map(tuple, parked_seqs(pipeline).values())) == {()}
    complete = [*catalogue(), *a_events(), make(ev.ResultDelivered, A, 6), *b_all]
    assert dumps(pipeline) == clean_fold(tmp_path, codec, complete)


def test_releasing_an_aggregate_that_is_not_parked_changes_nothing(
    database_url: str, codec: AvroCodec
) -> None:
    pipeline, _, _ = gapped(database_url, codec)
    before = dumps(pipeline)
    reports = release(pipeline, Sink(), key=(ev.DOSSIER_TOPIC, B))
    assert all(not r.was_parked and r.after == (2, None) for r in reports)
    assert dumps(pipeline) == before


@pytest.mark.parametrize(("text", "expected"), [
    ("dossier.events.dlq:12", ("dossier.events.dlq", 0, 12)),
    ("dossier.events:5:40", ("dossier.events", 5, 40)),
])
def test_coordinates_parse(text: str, expected: tuple[str, int, int]) -> None:
    assert parse_coordinates(text) == expected


@pytest.mark.parametrize("text", ["dossier.events.dlq", "x:y", ":3", "t:1:x"])
def test_bad_coordinates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_coordinates(text)


def test_a_dlq_message_reads_back_with_its_headers() -> None:
    message = SimpleNamespace(
        topic="dossier.events.dlq", partition=0, offset=7, key=b"k", value=b"\0\0\0\0\1",
        timestamp=1_700_000_000_000,
        headers=[("error.class", b"sequence_gap"), ("error.reason", b"seq 4 after 2"),
                 ("origin.topic", b"dossier.events"), ("origin.partition", b"5"),
                 ("origin.offset", b"12")],
    )
    entry = entry_from_message(message)
    assert (entry.coordinates, entry.origin) == ("dossier.events.dlq:7", "dossier.events:5:12")
    assert (entry.record.error_class, entry.record.reason) == ("sequence_gap", "seq 4 after 2")
    bare = entry_from_message(SimpleNamespace(**{**vars(message), "headers": None}))
    assert (bare.record.error_class, bare.record.origin_partition) == ("?", -1)
