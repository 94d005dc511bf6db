"""The values that cross the line between the Kafka drivers, the pure core and the store.

A driver (the faust worker or the replay loop) turns Kafka records into `SourceRecord`s,
decodes them into `Decoded`s, asks the store for the `Snapshot`s they touch, calls the pure
`projections.batch.apply_batch`, and hands the `BatchResult` to the store, which writes it in
one transaction. Nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schemas.events import Event

PROJECTIONS: tuple[str, ...] = ("portal", "onestop", "stats")

TopicPartition = tuple[str, int]
AggregateKey = tuple[str, str]
"""(topic, aggregate_id): catalogue aggregates and dossiers never share a key space."""

Row = dict[str, Any]
Rows = dict[str, list[Row]]
"""Rendered rows of one aggregate, by table name (without the projection/version prefix)."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A Kafka record as the drivers saw it: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class Decoded:
    """A source record and either its event or why it could not be decoded."""

    source: SourceRecord
    event: Event | None
    error_class: str | None = None
    error_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a projection remembers of one aggregate between batches.

    `state_json` is the aggregate state serialised by `projections.state` (None before the
    first applied event); `parked_from_seq` is the sequence number the aggregate is stuck
    at (None while it flows).
    """

    key: AggregateKey
    last_seq: int
    parked_from_seq: int | None
    state_json: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record for the DLQ: the CONTRACT's `error.class` and a human `error.reason`."""

    source: SourceRecord
    error_class: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParkedRecord:
    """A record held back behind a rejected event of the same aggregate."""

    source: SourceRecord
    aggregate: AggregateKey
    aggregate_seq: int


@dataclass(frozen=True)
class BatchResult:
    """Everything one batch changes, for the store to write in one transaction.

    `rows[key]` replaces *all* rows the aggregate `key` owns in the view's tables (an
    aggregate with no rows in a table gets an empty list there, so stale rows are deleted).
    `positions` are the next offsets to read per (topic, partition).
    """

    snapshots: dict[AggregateKey, Snapshot] = field(default_factory=dict)
    rows: dict[AggregateKey, Rows] = field(default_factory=dict)
    parked: list[ParkedRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
