"""Writing one `BatchResult` in the caller's transaction — the hot path.

Order of work, each step about one round trip per table; the bulk statements and their
per-back-end forms (executemany on SQLite, binary COPY on PostgreSQL) are in
`projections.store.bulk`:

1. `positions.check`: is every partition of the batch still held by this generation (locking
   those position rows), and does the batch move forward? A batch already written (all its
   positions equal to the stored ones) stops here and writes nothing.
2. Upsert the changed snapshots.
3. For each view table an aggregate rendered: delete the rows the batch's aggregates own
   (`owner IN (...)`; not for aggregates the caller knows to be new), insert their new rows.
4. Insert the parked records.
5. `positions.advance`: the guarded UPDATE that fences zombies.

Any error raised here propagates out of the caller's `with engine.begin()` block, which rolls
the whole batch back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping

from sqlalchemy import Connection

from projections.records import AggregateKey, BatchResult, Row, Rows
from projections.store import bulk, positions
from projections.store.errors import InvalidRowsError, UnknownTableError
from projections.store.parked import save_parked
from projections.store.tables import VersionTables

__all__ = ["replace_rows", "write_batch"]


def write_batch(
    conn: Connection, tables: VersionTables, result: BatchResult, generation: int, *,
    new: Collection[AggregateKey] = (),
) -> bool:
    """Write `result`; False if its positions were already stored (nothing written).
    `new`: aggregates the caller knows own no rows yet (no stored state): no DELETE."""
    projection, version = tables.projection, tables.version
    if result.positions and not positions.check(
        conn, projection, version, result.positions, generation
    ):
        return False
    bulk.upsert_snapshots(conn, tables.snapshots, list(result.snapshots.values()))
    replace_rows(conn, tables, result.rows, new=new)
    save_parked(conn, tables.parked, result.parked)
    if result.positions:
        positions.advance(conn, projection, version, result.positions, generation)
    return True


def replace_rows(
    conn: Connection, tables: VersionTables, rows: Mapping[AggregateKey, Rows], *,
    new: Collection[AggregateKey] = (),
) -> None:
    """Replace, in every table an aggregate rendered, all the rows it owns by the new ones.

    Only the tables present in an aggregate's `Rows` are touched for it (a view lists all of
    its tables, empty where the aggregate owns nothing, so stale rows are deleted). The
    aggregates in `new` own no rows yet: theirs are only inserted.
    """
    owners: dict[str, list[str]] = defaultdict(list)
    fresh: dict[str, list[Row]] = defaultdict(list)
    for key, rendered in rows.items():
        aggregate_id = key[1]
        fresh_owner = key in new
        for name, table_rows in rendered.items():
            if name not in tables.views:
                raise UnknownTableError(
                    f"{tables.projection} has no table {name!r} (rendered for {aggregate_id!r})"
                )
            owner = tables.specs[name].owner
            for row in table_rows:
                if row.get(owner) != aggregate_id:
                    raise InvalidRowsError(
                        f"{tables.projection}.{name}: a row owned by {row.get(owner)!r} was "
                        f"rendered for aggregate {aggregate_id!r}"
                    )
            if not fresh_owner:
                owners[name].append(aggregate_id)
            fresh[name].extend(table_rows)
    for name in sorted(fresh):  # a fixed order: concurrent writers lock tables alike
        plan = bulk.plan_for(conn, tables.views[name], tables.specs[name])
        bulk.delete_owned(conn, plan, sorted(set(owners[name])))
        bulk.insert_rows(conn, plan, fresh[name])
