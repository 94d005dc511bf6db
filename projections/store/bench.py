"""Write-speed benchmark of `ProjectionStore.write` (not a test: machines are noisy).

    python -m projections.store.bench --url sqlite:///.onestop/bench.db \
        --url postgresql+psycopg://user@127.0.0.1:5432/db --aggregates 500 --batches 20

For every URL it writes `--batches` batches of `--aggregates` new dossier aggregates (one
snapshot and `--rows` rows in each dossier-owned table of `--projection` per aggregate,
positions advanced), then as many batches rewriting them (the delete-and-insert path), one
transaction per batch, with two contenders side by side, batch by batch, each into its own
throw-away projection version:

- `store` — `ProjectionStore.write` (the bulk path of `projections.store.bulk`);
- `core`  — the same work as plain SQLAlchemy Core executemany (`insert()` of dicts, dialect
  upsert), the baseline the bulk path has to beat.

It prints the median milliseconds per batch, rows/s and aggregates/s at that median, the
ratio core/store, and the median time of `load_snapshots` for one batch's aggregates. The
tables are dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert

from projections.records import BatchResult, Row, Rows, Snapshot
from projections.store import positions
from projections.store._dialect import upsert_insert
from projections.store.engine import make_engine
from projections.store.snapshots import chunks
from projections.store.store import ProjectionStore
from projections.store.tables import view_specs
from projections.views import TableSpec

__all__ = ["core_write", "main", "sample_rows"]

_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_STATE = json.dumps({"status": 1, "procedure_code": "1.001612", "agency_code": "H56.14",
                     "history": [["2024-01-01", 1], ["2024-01-02", 2]]}, separators=(",", ":"))


def sample_rows(spec: TableSpec, owner_id: str, count: int, variant: int = 0) -> list[Row]:
    """`count` plausible rows of `spec` owned by `owner_id` (distinct primary keys)."""
    rows = []
    for i in range(count):
        row: dict[str, Any] = {}
        for n, col in enumerate(spec.columns):
            if col.name == spec.owner:
                row[col.name] = owner_id
            elif col.type == "str":
                row[col.name] = f"{col.name}-{i}-{variant}"
            elif col.type == "int":
                row[col.name] = i * 1000 + variant + n
            elif col.type == "bool":
                row[col.name] = (i + variant + n) % 2 == 0
            elif col.type == "date":
                row[col.name] = (_EPOCH + dt.timedelta(days=i + variant + n)).date()
            elif col.type == "datetime":
                row[col.name] = _EPOCH + dt.timedelta(hours=i, seconds=variant + n)
            else:
                row[col.name] = json.dumps([col.name, i, variant], separators=(",", ":"))
        rows.append(row)
    return rows


def core_write(
    conn: Connection, store: ProjectionStore, result: BatchResult, generation: int
) -> None:
    """The baseline: `ProjectionStore.write`'s work through plain Core executemany."""
    tables = store.tables
    if not positions.check(conn, store.projection, store.version, result.positions, generation):
        return
    stmt = upsert_insert(conn, tables.snapshots)
    upsert = stmt.on_conflict_do_update(
        index_elements=["topic", "aggregate_id"],
        set_={c: stmt.excluded[c] for c in ("last_seq", "parked_from_seq", "state_json")},
    )
    conn.execute(upsert, [
        {"topic": s.key[0], "aggregate_id": s.key[1], "last_seq": s.last_seq,
         "parked_from_seq": s.parked_from_seq, "state_json": s.state_json}
        for s in result.snapshots.values()
    ])
    for name, table in tables.views.items():
        owners = sorted(key[1] for key, rendered in result.rows.items() if name in rendered)
        if not owners:
            continue
        owner = table.c[tables.specs[name].owner]
        delete = table.delete().where(owner.in_(bindparam("owners", expanding=True)))
        for chunk in chunks(owners):
            conn.execute(delete, {"owners": list(chunk)})
        conn.execute(insert(table), [r for v in result.rows.values() for r in v.get(name, [])])
    positions.advance(conn, store.projection, store.version, result.positions, generation)


def _batch(
    specs: dict[str, TableSpec], ids: Sequence[str], rows: int, variant: int, offset: int
) -> BatchResult:
    owned = [s for s in specs.values() if s.owner == "dossier_id"]
    rendered: dict[tuple[str, str], Rows] = {}
    snapshots = {}
    for dossier_id in ids:
        key = ("dossier.events", dossier_id)
        rendered[key] = {s.name: sample_rows(s, dossier_id, rows, variant) for s in owned}
        snapshots[key] = Snapshot(key, variant + 1, None, _STATE)
    return BatchResult(
        snapshots=snapshots, rows=rendered, positions={("dossier.events", 0): offset}
    )


def run(
    url: str, projection: str, aggregates: int, batches: int, rows: int, durable: bool = True
) -> None:
    """Benchmark one back-end and print its figures."""
    engine = make_engine(url, durable=durable)
    specs = view_specs(projection)
    tag = uuid.uuid4().hex[:8]
    stores = {name: ProjectionStore(engine, f"bench{name}{tag}", 1, specs=specs)
              for name in ("store", "core")}
    try:
        generations = {}
        for name, store in stores.items():
            store.create()
            with engine.begin() as conn:
                generations[name] = store.claim(conn, [("dossier.events", 0)])
        ids = [[str(uuid.uuid4()) for _ in range(aggregates)] for _ in range(batches)]
        offset = 0
        for phase, variant in (("insert", 0), ("rewrite", 1)):
            prepared = []
            for chunk in ids:
                offset += aggregates
                prepared.append(_batch(specs, chunk, rows, variant, offset))
            n_rows = sum(len(r) for v in prepared[0].rows.values() for r in v.values())
            times: dict[str, list[float]] = {"store": [], "core": []}
            for i, result in enumerate(prepared):
                order = ("store", "core") if i % 2 == 0 else ("core", "store")
                for name in order:
                    start = time.perf_counter()
                    with engine.begin() as conn:
                        if name == "store":
                            stores[name].write(conn, result, generations[name])
                        else:
                            core_write(conn, stores[name], result, generations[name])
                    times[name].append(time.perf_counter() - start)
            median = {name: statistics.median(t) for name, t in times.items()}
            for name in ("store", "core"):
                print(
                    f"{engine.dialect.name:10} {projection:7} {phase:7} {name:5} "
                    f"{'durable ' if durable else ''}"
                    f"{aggregates} aggregates, {n_rows} rows/batch: "
                    f"{median[name] * 1000:6.1f} ms/batch (median of {batches}), "
                    f"{n_rows / median[name]:9,.0f} rows/s, "
                    f"{aggregates / median[name]:9,.0f} aggregates/s"
                )
            print(f"{'':10} {'':7} {phase:7} core/store = {median['core'] / median['store']:.2f}")
        loads = []
        for chunk in ids:
            keys = [("dossier.events", i) for i in chunk]
            start = time.perf_counter()
            with engine.begin() as conn:
                found = stores["store"].load_snapshots(conn, keys)
            loads.append(time.perf_counter() - start)
            assert len(found) == len(keys)
        print(f"{engine.dialect.name:10} {projection:7} load_snapshots of {aggregates}: "
              f"{statistics.median(loads) * 1000:.1f} ms (median of {batches})")
    finally:
        for store in stores.values():
            store.drop(force=True)
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="database URL (repeat)")
    parser.add_argument("--projection", default="portal", choices=("portal", "onestop", "stats"))
    parser.add_argument("--aggregates", type=int, default=500, help="aggregates per batch")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1, help="rows per dossier-owned table")
    parser.add_argument("--not-durable", action="store_true",
                        help="make_engine(durable=False), as a replay would")
    args = parser.parse_args(argv)
    for url in args.url:
        run(url, args.projection, args.aggregates, args.batches, args.rows, not args.not_durable)


if __name__ == "__main__":  # pragma: no cover
    main()
