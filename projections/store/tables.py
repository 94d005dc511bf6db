"""SQL tables of one projection version, built from the views' `TableSpec`s.

Every table of version `n` of projection `p` is named `p_vn_<name>`: the view tables
(`portal_v1_dossiers`, ...), `p_vn_snapshots` (one row per aggregate) and `p_vn_parked`
(records held back behind a rejected event). Each view table gets an index on its `owner`
column (unless the primary key already starts with it) and one per `TableSpec.indexes`.

Column types: `str` → TEXT, `int` → BIGINT, `bool` → BOOLEAN, `date` → DATE,
`datetime` → `UTCDateTime` (TIMESTAMP WITH TIME ZONE; always UTC-aware in Python, also on
SQLite, which keeps no zone), `json` → TEXT (the core hands us compact JSON text).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy import Column as SAColumn
from sqlalchemy.types import TypeEngine

from projections.records import PROJECTIONS
from projections.views import ColumnType, TableSpec

__all__ = [
    "PARKED",
    "SNAPSHOTS",
    "UTCDateTime",
    "VersionTables",
    "build_tables",
    "table_prefix",
    "view_specs",
]

SNAPSHOTS = "snapshots"
PARKED = "parked"
_MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names silently; we never let it


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC instant on every back-end.

    Binding a naive datetime is an error (the core only produces aware UTC instants);
    results are always `tzinfo=UTC`, whether the back-end kept a zone (PostgreSQL) or not
    (SQLite, which stores the UTC wall time).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC instants only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


_SQL_TYPES: dict[ColumnType, TypeEngine[Any]] = {
    "str": Text(),
    "int": BigInteger(),
    "bool": Boolean(),
    "date": Date(),
    "datetime": UTCDateTime(),
    "json": Text(),
}


def table_prefix(projection: str, version: int) -> str:
    """`portal`, 1 → `portal_v1_`."""
    if not projection.isidentifier() or not projection.islower():
        raise ValueError(f"projection name {projection!r} must be a lower-case identifier")
    if version < 1:
        raise ValueError(f"projection version must be >= 1, got {version}")
    return f"{projection}_v{version}_"


def view_specs(projection: str) -> dict[str, TableSpec]:
    """The `TABLES` of `projections.views.<projection>`."""
    if projection not in PROJECTIONS:
        raise ValueError(f"unknown projection {projection!r}; one of {', '.join(PROJECTIONS)}")
    module = importlib.import_module(f"projections.views.{projection}")
    tables: Mapping[str, TableSpec] = module.TABLES
    return dict(tables)


@dataclass(frozen=True)
class VersionTables:
    """The SQL tables of one projection version, all in their own `MetaData`."""

    projection: str
    version: int
    metadata: MetaData
    specs: dict[str, TableSpec]
    views: dict[str, Table]
    snapshots: Table
    parked: Table

    @property
    def all_tables(self) -> list[Table]:
        return [*self.views.values(), self.snapshots, self.parked]


def build_tables(projection: str, version: int, specs: Mapping[str, TableSpec]) -> VersionTables:
    """Build (but do not create) every table of `projection` version `version`."""
    prefix = table_prefix(projection, version)
    metadata = MetaData()
    views = {name: _view_table(metadata, prefix, spec) for name, spec in specs.items()}
    for name, spec in specs.items():
        if name != spec.name:
            raise ValueError(f"TABLES key {name!r} differs from its spec's name {spec.name!r}")
    snapshots = Table(
        _name(prefix + SNAPSHOTS),
        metadata,
        SAColumn("topic", Text, primary_key=True),
        SAColumn("aggregate_id", Text, primary_key=True),
        SAColumn("last_seq", BigInteger, nullable=False),
        SAColumn("parked_from_seq", BigInteger, nullable=True),
        SAColumn("state_json", Text, nullable=True),
    )
    parked = Table(
        _name(prefix + PARKED),
        metadata,
        SAColumn("source_topic", Text, primary_key=True),
        SAColumn("source_partition", Integer, primary_key=True),
        SAColumn("source_offset", BigInteger, primary_key=True),
        SAColumn("record_key", LargeBinary, nullable=True),
        SAColumn("record_value", LargeBinary, nullable=False),
        SAColumn("timestamp_ms", BigInteger, nullable=False),
        SAColumn("aggregate_topic", Text, nullable=False),
        SAColumn("aggregate_id", Text, nullable=False),
        SAColumn("aggregate_seq", BigInteger, nullable=False),
    )
    Index(
        _index_name(parked.name, ("aggregate_topic", "aggregate_id", "aggregate_seq")),
        parked.c.aggregate_topic,
        parked.c.aggregate_id,
        parked.c.aggregate_seq,
    )
    return VersionTables(
        projection=projection,
        version=version,
        metadata=metadata,
        specs=dict(specs),
        views=views,
        snapshots=snapshots,
        parked=parked,
    )


def _view_table(metadata: MetaData, prefix: str, spec: TableSpec) -> Table:
    names = spec.column_names
    for col in (*spec.primary_key, spec.owner, *(c for ix in spec.indexes for c in ix)):
        if col not in names:
            raise ValueError(f"table {spec.name!r}: {col!r} is not one of its columns")
    columns = [
        SAColumn(
            c.name,
            _SQL_TYPES[c.type],
            primary_key=c.name in spec.primary_key,
            nullable=c.nullable and c.name not in spec.primary_key,
        )
        for c in spec.columns
    ]
    table = Table(_name(prefix + spec.name), metadata, *columns)
    lookups: list[tuple[str, ...]] = []
    if spec.primary_key[:1] != (spec.owner,):
        lookups.append((spec.owner,))
    lookups.extend(ix for ix in spec.indexes if ix not in lookups)
    for cols in lookups:
        Index(_index_name(table.name, cols), *(table.c[c] for c in cols))
    return table


def _name(name: str) -> str:
    if len(name) > _MAX_IDENTIFIER:
        raise ValueError(f"table name {name!r} is longer than {_MAX_IDENTIFIER} characters")
    return name


def _index_name(table: str, columns: tuple[str, ...]) -> str:
    name = f"ix_{table}_{'_'.join(columns)}"
    if len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_IDENTIFIER - 11]}_{digest}"
