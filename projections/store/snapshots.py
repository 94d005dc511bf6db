"""Loading aggregate snapshots (`<p>_v<n>_snapshots`), and the IN-list chunking helper.

One row per aggregate: (`topic`, `aggregate_id`) → `last_seq`, `parked_from_seq`,
`state_json`. Loads are chunked IN queries per topic; saving is part of the bulk write
(`projections.store.bulk.upsert_snapshots`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import Connection, Table, Text, any_, bindparam, null, select
from sqlalchemy.dialects.postgresql import ARRAY

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
    conn: Connection,
    table: Table,
    keys: Iterable[AggregateKey],
    *,
    for_update: bool = False,
    with_state: bool = True,
) -> dict[AggregateKey, Snapshot]:
    """The stored snapshots of `keys`; aggregates never seen are simply absent.

    `for_update` locks the rows until the transaction ends (PostgreSQL; an SQLite write
    transaction already holds the whole database). `with_state=False` leaves `state_json`
    out (None) when only the sequencing heads are needed.
    """
    by_topic: dict[str, set[str]] = defaultdict(set)
    for topic, aggregate_id in keys:
        by_topic[topic].add(aggregate_id)
    if conn.dialect.name == "postgresql":  # one array parameter, however many keys
        ids_match = table.c.aggregate_id == any_(bindparam("ids", type_=ARRAY(Text())))
        size = 10_000
    else:
        ids_match = table.c.aggregate_id.in_(bindparam("ids", expanding=True))
        size = CHUNK
    state = table.c.state_json if with_state else null().label("state_json")
    stmt = select(table.c.aggregate_id, table.c.last_seq, table.c.parked_from_seq, state).where(
        table.c.topic == bindparam("topic"), ids_match
    )
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found: dict[AggregateKey, Snapshot] = {}
    for topic, ids in by_topic.items():
        for chunk in chunks(sorted(ids), size):
            rows = conn.execute(stmt, {"topic": topic, "ids": list(chunk)}).all()
            for aggregate_id, last_seq, parked_from_seq, state_json in rows:
                key = (topic, aggregate_id)
                found[key] = Snapshot(key, last_seq, parked_from_seq, state_json)
    return found
