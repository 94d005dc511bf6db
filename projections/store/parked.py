"""Records held back behind a rejected event (`<p>_v<n>_parked`).

A parked record keeps its raw Kafka bytes and where it came from, so `dlq release` can
decode and apply it later, in `aggregate_seq` order. The primary key is the record's own
position (topic, partition, offset): parking the same record twice keeps one copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, select

from projections.records import AggregateKey, ParkedRecord, SourceRecord
from projections.store._dialect import upsert_insert

__all__ = ["list_parked", "release_parked", "save_parked"]


def save_parked(conn: Connection, table: Table, records: Iterable[ParkedRecord]) -> None:
    """Insert `records` (one executemany); a record already parked is left as it is."""
    params = [
        {
            "source_topic": p.source.topic,
            "source_partition": p.source.partition,
            "source_offset": p.source.offset,
            "record_key": p.source.key,
            "record_value": p.source.value,
            "timestamp_ms": p.source.timestamp_ms,
            "aggregate_topic": p.aggregate[0],
            "aggregate_id": p.aggregate[1],
            "aggregate_seq": p.aggregate_seq,
        }
        for p in records
    ]
    if params:
        conn.execute(upsert_insert(conn, table).on_conflict_do_nothing(), params)


def list_parked(
    conn: Connection, table: Table, aggregate: AggregateKey | None = None
) -> list[ParkedRecord]:
    """Parked records, by aggregate and then `aggregate_seq` (of one aggregate if given)."""
    stmt = select(table)
    if aggregate is not None:
        stmt = stmt.where(
            table.c.aggregate_topic == aggregate[0], table.c.aggregate_id == aggregate[1]
        )
    return _in_order(conn.execute(stmt).all())


def release_parked(conn: Connection, table: Table, aggregate: AggregateKey) -> list[ParkedRecord]:
    """Delete and return the parked records of `aggregate`, in `aggregate_seq` order."""
    stmt = (
        table.delete()
        .where(table.c.aggregate_topic == aggregate[0], table.c.aggregate_id == aggregate[1])
        .returning(*table.c)
    )
    return _in_order(conn.execute(stmt).all())


def _in_order(rows: Sequence[Row[Any]]) -> list[ParkedRecord]:
    records = [_record(r) for r in rows]
    records.sort(
        key=lambda p: (p.aggregate, p.aggregate_seq, p.source.topic, p.source.partition,
                       p.source.offset)
    )
    return records


def _record(row: Row[Any]) -> ParkedRecord:
    source = SourceRecord(
        topic=row.source_topic,
        partition=row.source_partition,
        offset=row.source_offset,
        key=None if row.record_key is None else bytes(row.record_key),
        value=bytes(row.record_value),
        timestamp_ms=row.timestamp_ms,
    )
    return ParkedRecord(
        source=source,
        aggregate=(row.aggregate_topic, row.aggregate_id),
        aggregate_seq=row.aggregate_seq,
    )
