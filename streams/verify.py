"""`onestop verify`: recompute a projection from the log and compare it with the live one.

Per projection: in one read transaction (PostgreSQL `REPEATABLE READ`; an SQLite read
transaction is a snapshot) take the live version's positions P and its canonical dump
(`ProjectionStore.dump`); rebuild a scratch version up to exactly P with the replay driver
(point in time, never swapped in, no side effects), dump it, drop it. Each table is compared
by the SHA-256 of its canonical rows (`projections.reference.dump_digest`); where they
differ, up to five example rows per table are reported by primary key: changed, only live,
only rebuilt. Applicant columns are shown as short hashes, never in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, inspect

from projections.reference import VIEW_TABLES, CanonicalDump, dump_digest
from projections.store import ProjectionStore, live_version, make_engine
from projections.store import positions as stored
from projections.store.meta import VERSIONS
from projections.views import TableSpec
from streams.progress import Progress
from streams.replay import ReplayContext, build_version, drop_version
from streams.replay_log import Offsets

__all__ = [
    "ProjectionCheck", "TableDrift", "VerifyError", "check_json", "compare_dumps",
    "compare_table", "read_version", "render_check", "verify_projection",
]

PII_COLUMNS = frozenset({"applicant_name", "applicant_id_number", "applicant_phone",
                         "applicant_email"})
Row = tuple[Any, ...]


class VerifyError(Exception):
    """The check itself could not be made (no live version, log truncated, ...)."""


@dataclass
class TableDrift:
    """One table compared: checksums, row counts and, if they differ, examples."""

    table: str
    live_digest: str
    rebuilt_digest: str
    live_rows: int
    rebuilt_rows: int
    changed: int = 0
    only_live: int = 0
    only_rebuilt: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.live_digest == self.rebuilt_digest


@dataclass
class ProjectionCheck:
    projection: str
    version: int
    positions: Offsets
    events: int = 0
    seconds: float = 0.0
    tables: list[TableDrift] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return all(t.equal for t in self.tables)


def _shown(spec: TableSpec, row: Row | None) -> dict[str, Any] | None:
    """A row as {column: value}, applicant columns replaced by a short hash."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for name, value in zip(spec.column_names, row, strict=True):
        if name in PII_COLUMNS and value is not None:
            value = "pii:" + hashlib.sha256(str(value).encode()).hexdigest()[:10]
        out[name] = value
    return out


def compare_table(spec: TableSpec, live: Sequence[Row], rebuilt: Sequence[Row],
                  limit: int = 5) -> TableDrift:
    """Compare one table's canonical rows (checksums, then rows by primary key)."""
    drift = TableDrift(spec.name, dump_digest({spec.name: live}),
                       dump_digest({spec.name: rebuilt}), len(live), len(rebuilt))
    if drift.equal:
        return drift
    pk = [spec.column_names.index(c) for c in spec.primary_key]
    by_key_live = {tuple(r[i] for i in pk): r for r in live}
    by_key_rebuilt = {tuple(r[i] for i in pk): r for r in rebuilt}
    for key in sorted(by_key_live.keys() | by_key_rebuilt.keys(), key=repr):
        a, b = by_key_live.get(key), by_key_rebuilt.get(key)
        if a == b:
            continue
        kind = "changed" if a is not None and b is not None else (
            "only_live" if a is not None else "only_rebuilt")
        setattr(drift, kind, getattr(drift, kind) + 1)
        if len(drift.examples) < limit:
            drift.examples.append({
                "kind": kind, "key": dict(zip(spec.primary_key, key, strict=True)),
                "live": _shown(spec, a), "rebuilt": _shown(spec, b)})
    return drift


def compare_dumps(specs: Mapping[str, TableSpec], live: CanonicalDump, rebuilt: CanonicalDump,
                  limit: int = 5) -> list[TableDrift]:
    """Every table of `specs` compared (a table missing from a dump counts as empty)."""
    return [compare_table(specs[name], live.get(name, []), rebuilt.get(name, []), limit)
            for name in sorted(specs)]


def read_version(engine: Engine, projection: str, version: int | None = None,
                 ) -> tuple[int, Offsets, CanonicalDump]:
    """(version, positions, canonical dump) of `version` (default: the live one), read in
    one snapshot."""
    reader = make_engine(engine.url, sqlite_begin="DEFERRED")
    try:
        with reader.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if not inspect(conn).has_table(VERSIONS.name):
                    raise VerifyError("no projections in this database yet: run the worker")
                chosen = version if version is not None else live_version(conn, projection)
                if chosen is None:
                    raise VerifyError(f"{projection} has no live version yet: run the worker")
                positions = stored.positions(conn, projection, chosen)
                if not positions:
                    raise VerifyError(f"{projection} v{chosen} does not exist or holds nothing")
                store = ProjectionStore(reader, projection, chosen)
                return chosen, positions, store.dump(conn)
    finally:
        reader.dispose()


def _dump(engine: Engine, projection: str, version: int) -> CanonicalDump:
    with engine.connect() as conn:
        return ProjectionStore(engine, projection, version).dump(conn)


async def verify_projection(ctx: ReplayContext, projection: str, progress: Progress,
                            version: int | None = None) -> ProjectionCheck:
    """Rebuild `projection` up to its live (or `version`'s) positions and compare."""
    started = time.perf_counter()
    chosen, positions, live = await asyncio.to_thread(read_version, ctx.engine, projection,
                                                      version)
    result = await build_version(ctx, projection, progress, stops=positions, building=False)
    try:
        reached = {tp: o for tp, o in result.positions.items() if o or tp in positions}
        if reached != positions:
            raise VerifyError(f"{projection}: the rebuild reached {reached}, not the positions "
                              f"of v{chosen} {positions}; was the log truncated?")
        rebuilt = await asyncio.to_thread(_dump, ctx.engine, projection, result.version)
    finally:
        await asyncio.to_thread(drop_version, ctx.engine, projection, result.version)
    check = ProjectionCheck(projection, chosen, positions, result.events)
    check.tables = compare_dumps(VIEW_TABLES[projection], live, rebuilt)
    check.seconds = time.perf_counter() - started
    return check


def _differences(example: Mapping[str, Any]) -> str:
    live, rebuilt = example["live"], example["rebuilt"]
    if live is not None and rebuilt is not None:
        diffs = [f"{c}: live {live[c]!r}, rebuilt {rebuilt[c]!r}"
                 for c in live if live[c] != rebuilt[c]]
        return "; ".join(diffs)
    return repr(live if live is not None else rebuilt)


def render_check(check: ProjectionCheck) -> list[str]:
    """Human lines for one projection's result."""
    head = (f"{check.projection} v{check.version}: rebuilt {check.events:,} events up to its "
            f"positions in {check.seconds:.1f} s; ")
    if check.consistent:
        return [head + f"consistent ({len(check.tables)} tables, equal checksums)"]
    drifting = [t for t in check.tables if not t.equal]
    lines = [head + f"DRIFT in {len(drifting)} of {len(check.tables)} tables"]
    for t in drifting:
        lines.append(
            f"  {t.table}: live {t.live_rows:,} rows sha256 {t.live_digest[:16]}, rebuilt "
            f"{t.rebuilt_rows:,} rows sha256 {t.rebuilt_digest[:16]}; {t.changed} changed, "
            f"{t.only_live} only live, {t.only_rebuilt} only rebuilt")
        for example in t.examples:
            key = ", ".join(f"{k}={v}" for k, v in example["key"].items())
            lines.append(f"    {example['kind'].replace('_', ' ')} ({key}): "
                         f"{_differences(example)}")
    return lines


def check_json(check: ProjectionCheck) -> dict[str, Any]:
    """One projection's result as a JSON-ready object."""
    return {
        "projection": check.projection, "version": check.version,
        "consistent": check.consistent, "events": check.events,
        "seconds": round(check.seconds, 3),
        "positions": {f"{t}:{p}": o for (t, p), o in sorted(check.positions.items())},
        "tables": {t.table: {
            "equal": t.equal, "live_sha256": t.live_digest, "rebuilt_sha256": t.rebuilt_digest,
            "live_rows": t.live_rows, "rebuilt_rows": t.rebuilt_rows, "changed": t.changed,
            "only_live": t.only_live, "only_rebuilt": t.only_rebuilt, "examples": t.examples,
        } for t in check.tables},
    }
