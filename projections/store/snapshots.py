"""Loading aggregate snapshots (`<p>_v<n>_snapshots`), and the IN-list chunking helper.

One row per aggregate: (`topic`, `aggregate_id`) → `last_seq`, `parked_from_seq`,
`state_json`. Loads are chunked IN queries per topic; saving is part of the bulk write
(`projections.store.bulk.upsert_snapshots`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import Connection, Table, bindparam, select

from projections.records import AggregateKey, Snapshot

__all__ = ["CHUNK", "chunks", "load_snapshots"]

CHUNK = 500
"""Most values in one IN list (well below every back-end's bound-parameter limit)."""

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_snapshots(
    conn: Connection, table: Table, keys: Iterable[AggregateKey]
) -> dict[AggregateKey, Snapshot]:
    """The stored snapshots of `keys`; aggregates never seen are simply absent."""
    by_topic: dict[str, set[str]] = defaultdict(set)
    for topic, aggregate_id in keys:
        by_topic[topic].add(aggregate_id)
    stmt = select(
        table.c.aggregate_id, table.c.last_seq, table.c.parked_from_seq, table.c.state_json
    ).where(
        table.c.topic == bindparam("topic"),
        table.c.aggregate_id.in_(bindparam("ids", expanding=True)),
    )
    found: dict[AggregateKey, Snapshot] = {}
    for topic, ids in by_topic.items():
        for chunk in chunks(sorted(ids)):
            for row in conn.execute(stmt, {"topic": topic, "ids": list(chunk)}):
                key = (topic, row.aggregate_id)
                found[key] = Snapshot(key, row.last_seq, row.parked_from_seq, row.state_json)
    return found

