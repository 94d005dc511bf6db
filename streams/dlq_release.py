"""`onestop dlq release`: apply a parked aggregate's held-back records, in order.

For each projection's live version, in one transaction: lock the aggregate's snapshot
(`load_snapshots(..., for_update=True)`), take its parked records (`release_parked`, in
`aggregate_seq` order — the first is the record that was rejected), clear
`parked_from_seq`, decode them and fold them with `apply_batch` onto the snapshot, with the
catalogue states they refer to read from the same store. The result is written without
positions (they would be old offsets; a result without positions is written unfenced).
Whatever is rejected again is parked again and sent to the DLQ again, before the commit
(at-least-once, like the pipeline). A live worker that folded the aggregate meanwhile finds
its head changed at commit and folds its batch again (`ConcurrentChangeError`), so a
release is safe while the worker runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from sqlalchemy import Connection, Engine

from projections.batch import apply_batch
from projections.policy import Policy
from projections.records import (
    AggregateKey,
    BatchResult,
    Decoded,
    Rejection,
    Snapshot,
    SourceRecord,
)
from projections.reference import catalogue_from_snapshots
from projections.store import ProjectionStore
from schemas.codec import AvroCodec
from schemas.events import DOSSIER_TOPIC
from streams.dlq import DlqSender, dlq_topic
from streams.pipeline import catalogue_references, decode_records

__all__ = [
    "RejectionSink",
    "ReleaseError",
    "ReleaseReport",
    "kafka_sink",
    "parked_aggregates",
    "release_aggregate",
    "release_hint",
]

RejectionSink = Callable[[Sequence[Rejection]], None]


class ReleaseError(Exception):
    """A parked record cannot be decoded any more; the projection's release rolled back."""

@dataclass(frozen=True)
class ReleaseReport:
    """What releasing one aggregate did in one projection version."""

    projection: str
    version: int
    before: tuple[int, int | None]  # (last_seq, parked_from_seq)
    after: tuple[int, int | None]
    released: tuple[int, ...] = ()  # the parked records' aggregate_seq, in order
    applied: tuple[int, ...] = ()
    duplicates: tuple[int, ...] = ()
    parked_again: tuple[int, ...] = ()
    rejections: tuple[Rejection, ...] = ()

    @property
    def was_parked(self) -> bool:
        return self.before[1] is not None or bool(self.released)

    def describe(self, key: AggregateKey) -> str:
        """What happened, for the operator (several lines)."""
        topic, aggregate_id = key
        head = f"{self.projection} v{self.version}: {topic} {aggregate_id}"
        if not self.was_parked:
            return f"{head}: not parked, nothing to release (last applied seq {self.before[0]})"
        lines = [f"{head}: was parked from seq {self.before[1]} after seq {self.before[0]}; "
                 f"released seq {_seqs(self.released)}",
                 f"  applied seq {_seqs(self.applied)}"]
        if self.duplicates:
            lines.append(f"  skipped duplicates: seq {_seqs(self.duplicates)}")
        lines += [f"  rejected again ({r.error_class}): {r.reason} -> {dlq_topic(r.source.topic)}"
                  for r in self.rejections]
        if self.parked_again:
            lines.append(f"  parked again: seq {_seqs(self.parked_again)}")
        state = "flowing" if self.after[1] is None else f"parked from seq {self.after[1]}"
        lines.append(f"  now at seq {self.after[0]}, {state}")
        return "\n".join(lines)


def _seqs(seqs: Sequence[int]) -> str:
    return ", ".join(map(str, seqs)) or "none"


def release_aggregate(
    engine: Engine,
    stores: Mapping[str, ProjectionStore],
    codec: AvroCodec,
    policies: Mapping[str, Policy],
    key: AggregateKey,
    *,
    max_record_bytes: int,
    send: RejectionSink | None = None,
    dry_run: bool = False,
) -> list[ReleaseReport]:
    """Release `key` in every store, one transaction each (see the module docstring).

    `send` receives the new rejections before the commit (each origin record once per call,
    the projections agree on them); `dry_run` rolls every transaction back and sends nothing.
    """
    reports: list[ReleaseReport] = []
    sent: set[tuple[str, int, int]] = set()
    for name, store in stores.items():
        with engine.connect() as conn, conn.begin() as transaction:
            report = _release_in(conn, store, codec, policies[name], key, max_record_bytes)
            fresh = [r for r in report.rejections if _origin(r) not in sent]
            if dry_run:
                transaction.rollback()
            elif fresh and send is not None:
                send(fresh)
                sent.update(_origin(r) for r in fresh)
        reports.append(report)
    return reports


def _origin(rejection: Rejection) -> tuple[str, int, int]:
    return _coords(rejection.source)


def _release_in(
    conn: Connection,
    store: ProjectionStore,
    codec: AvroCodec,
    policy: Policy,
    key: AggregateKey,
    max_record_bytes: int,
) -> ReleaseReport:
    name, version = store.projection, store.version
    snapshot = store.load_snapshots(conn, [key], for_update=True).get(key)
    before = (snapshot.last_seq, snapshot.parked_from_seq) if snapshot else (0, None)
    parked = store.release_parked(conn, key)
    if before[1] is None and not parked:
        return ReleaseReport(name, version, before, before)
    decoded = decode_records(codec, [p.source for p in parked])
    broken = [d for d in decoded if d.event is None]
    if broken:
        s = broken[0].source
        raise ReleaseError(
            f"{name} v{version}: parked record {s.topic}:{s.partition}:{s.offset} no longer "
            f"decodes ({broken[0].error_class}: {broken[0].error_reason}); nothing released"
        )
    base = Snapshot(key, before[0], None, snapshot.state_json if snapshot else None)
    refs = catalogue_references(d.event for d in decoded if d.event is not None)
    catalogue = catalogue_from_snapshots(store.load_snapshots(conn, refs))
    result = apply_batch(decoded, {key: base}, catalogue, name, policy,
                         max_record_bytes=max_record_bytes)
    snapshots = dict(result.snapshots)
    if snapshot is not None:
        snapshots.setdefault(key, base)  # all duplicates: still clear `parked_from_seq`
    unfenced = BatchResult(snapshots=snapshots, rows=result.rows, parked=result.parked,
                           rejections=result.rejections, counters=result.counters)
    store.write(conn, unfenced, 0)
    final = snapshots.get(key, base)
    after = (final.last_seq, final.parked_from_seq)
    applied, duplicates = _classify(decoded, before[0], after[0],
                                    {_coords(p.source) for p in result.parked})
    return ReleaseReport(
        name, version, before, after,
        released=tuple(p.aggregate_seq for p in parked),
        applied=applied,
        duplicates=duplicates,
        parked_again=tuple(p.aggregate_seq for p in result.parked),
        rejections=tuple(result.rejections),
    )


def _coords(source: SourceRecord) -> tuple[str, int, int]:
    return (source.topic, source.partition, source.offset)


def _classify(
    decoded: Sequence[Decoded], last: int, final: int, reparked: set[tuple[str, int, int]]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split the released records not parked again into applied and duplicate seqs."""
    applied: list[int] = []
    duplicates: list[int] = []
    for d in decoded:
        if d.event is None or _coords(d.source) in reparked:
            continue
        seq = d.event.aggregate_seq
        if seq == last + 1 and seq <= final:
            applied.append(seq)
            last = seq
        else:
            duplicates.append(seq)
    return tuple(applied), tuple(duplicates)


def kafka_sink(bootstrap: Callable[[], str]) -> RejectionSink:
    """A `RejectionSink` that sends to the DLQ topics and waits for the broker (a producer
    per call: releases are rare; `bootstrap` is asked only when there is something to send)."""

    def send(rejections: Sequence[Rejection]) -> None:
        async def go() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap(), enable_idempotence=True,
                                        acks="all")
            await producer.start()
            try:
                await DlqSender(producer).send(rejections)
            finally:
                await producer.stop()

        asyncio.run(go())

    return send


def parked_aggregates(
    engine: Engine, stores: Mapping[str, ProjectionStore], keys: Iterable[AggregateKey]
) -> set[AggregateKey]:
    """Those of `keys` that are parked in at least one of `stores`."""
    wanted = set(keys)
    with engine.connect() as conn:
        return {k for store in stores.values()
                for k, s in store.load_snapshots(conn, wanted, with_state=False).items()
                if s.parked_from_seq is not None}


def release_hint(key: AggregateKey) -> str:
    """The command that releases `key`."""
    topic, aggregate_id = key
    return f"onestop dlq release {aggregate_id}" + (
        "" if topic == DOSSIER_TOPIC else f" --topic {topic}")
