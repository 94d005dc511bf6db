"""The reference fold: a projection computed entirely in memory, as tests' ground truth.

`reference_fold(records, projection, policy)` runs the *same* path as the drivers
(`apply_batch` → `decide` → `fold` → `render`) over an event list, with the catalogue fully
caught up: every catalogue record is applied first (in order), then every other record, so
cross-topic order never matters. The result is a `CanonicalDump`: per view table, every row
as a tuple in the `TableSpec`'s column order, normalised and sorted, so a dump read back
from SQL (`canonical_rows` over the rows a store returns) compares equal to it.

Normal form of a value, by column type: `date` → `YYYY-MM-DD`; `datetime` → UTC ISO 8601
with microseconds (`2020-11-06T02:15:00.000000+00:00`; a naive value is taken as UTC);
`bool` → 0/1; `json` → compact sorted-key JSON text (text is re-serialised, so whitespace
and key order from a database do not matter); `str`/`int` as they are; null → None.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from projections.batch import apply_batch
from projections.policy import Policy
from projections.records import AggregateKey, Decoded, Rows, Snapshot
from projections.sequencing import MemoryCatalogue
from projections.state import AgencyState, ProcedureState, state_from_json
from projections.views import TableSpec, json_text, onestop, portal, stats
from schemas.events import CatalogueEvent

__all__ = [
    "VIEW_TABLES",
    "CanonicalDump",
    "canonical_rows",
    "canonical_value",
    "dump_digest",
    "reference_fold",
]

CanonicalDump = dict[str, list[tuple[Any, ...]]]

VIEW_TABLES: dict[str, dict[str, TableSpec]] = {
    "portal": portal.TABLES,
    "onestop": onestop.TABLES,
    "stats": stats.TABLES,
}
_UNLIMITED = 1 << 62


def reference_fold(records: Iterable[Decoded], projection: str, policy: Policy) -> CanonicalDump:
    """Fold `records` in memory (catalogue records first) into `projection`'s canonical dump."""
    catalogue_records: list[Decoded] = []
    other_records: list[Decoded] = []
    for d in records:
        (catalogue_records if isinstance(d.event, CatalogueEvent) else other_records).append(d)
    empty = MemoryCatalogue({}, {}, caught_up=True)
    first = apply_batch(catalogue_records, {}, empty, projection, policy,
                        max_record_bytes=_UNLIMITED)
    catalogue = catalogue_from_snapshots(first.snapshots)
    second = apply_batch(other_records, first.snapshots, catalogue, projection, policy,
                         max_record_bytes=_UNLIMITED)
    rows: dict[AggregateKey, Rows] = {**first.rows, **second.rows}
    return canonical_dump(projection, rows.values())


def catalogue_from_snapshots(snapshots: Mapping[AggregateKey, Snapshot]) -> MemoryCatalogue:
    """A caught-up `MemoryCatalogue` of the procedure and agency states among `snapshots`."""
    procedures: dict[str, ProcedureState] = {}
    agencies: dict[str, AgencyState] = {}
    for (_, aggregate_id), snap in snapshots.items():
        if snap.state_json is None:
            continue
        state = state_from_json(snap.state_json)
        if isinstance(state, ProcedureState):
            procedures[aggregate_id] = state
        elif isinstance(state, AgencyState):
            agencies[aggregate_id] = state
    return MemoryCatalogue(procedures, agencies, caught_up=True)


def canonical_dump(projection: str, rendered: Iterable[Rows]) -> CanonicalDump:
    """Every table of `projection`'s view, from the rows each aggregate rendered."""
    specs = VIEW_TABLES[projection]
    collected: dict[str, list[Mapping[str, Any]]] = {name: [] for name in specs}
    for rows in rendered:
        for table, table_rows in rows.items():
            collected[table].extend(table_rows)
    return {name: canonical_rows(specs[name], collected[name]) for name in sorted(specs)}


def canonical_rows(spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """`rows` of table `spec` as normalised tuples in column order, sorted by primary key."""
    columns = [(c.name, c.type) for c in spec.columns]
    pk_index = [spec.column_names.index(name) for name in spec.primary_key]
    out = [tuple(canonical_value(kind, row.get(name)) for name, kind in columns) for row in rows]
    out.sort(key=lambda t: (tuple(t[i] for i in pk_index), repr(t)))
    return out


def canonical_value(kind: str, value: Any) -> Any:
    """One value in its normal form for a column of type `kind` (see the module docstring)."""
    if value is None:
        return None
    if kind == "datetime":
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if kind == "date":
        if isinstance(value, datetime):
            raise TypeError(f"a datetime {value!r} where a date was expected")
        day = value if isinstance(value, date) else date.fromisoformat(value)
        return day.isoformat()
    if kind == "bool":
        return int(bool(value))
    if kind == "json":
        return json_text(json.loads(value) if isinstance(value, (str, bytes)) else value)
    return value


def dump_digest(dump: Mapping[str, Sequence[tuple[Any, ...]]]) -> str:
    """SHA-256 (hex) of a canonical dump: equal dumps, equal digests."""
    text = json.dumps({t: [list(r) for r in rows] for t, rows in dump.items()},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
