"""The read-model views: which tables each projection renders, and how.

Each view module (`portal`, `onestop`, `stats`) exports

- `TABLES: dict[str, TableSpec]` — the tables of that view, exactly as `docs/projections.md`
  lists them (names without the `<projection>_v<n>_` prefix). The store builds its SQL tables
  from these specs, so this module is the agreement between the core and the store.
- `render(state) -> Rows` — the rows one aggregate owns in those tables. Every table that
  aggregates of that kind own appears in the result (an empty list when this one owns no
  rows there), so the store can replace an aggregate's rows by deleting
  `WHERE <owner> = aggregate_id` from each table named and inserting what `render` returned.
  Aggregates a view does not use (e.g. working calendars) render `{}`.

Row values are `str`, `int`, `bool`, `datetime.date`, timezone-aware UTC `datetime.datetime`,
`None`, or — for `json` columns — compact JSON text with sorted keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

__all__ = ["COLUMN_TYPES", "Column", "ColumnType", "TableSpec", "json_text", "table"]

ColumnType = Literal["str", "int", "bool", "date", "datetime", "json"]
COLUMN_TYPES: tuple[ColumnType, ...] = ("str", "int", "bool", "date", "datetime", "json")


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, its value type, and whether it may hold null."""

    name: str
    type: ColumnType
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One view table.

    `owner` names the column holding the `aggregate_id` of the aggregate that owns a row
    (e.g. `dossier_id`, `procedure_code`); the store replaces rows by owner. `indexes` are
    extra lookup paths readers need (each a tuple of column names), beyond the primary key.
    Primary-key columns are never null.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    owner: str
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def table(
    name: str,
    *columns: str,
    primary_key: tuple[str, ...],
    owner: str,
    indexes: tuple[tuple[str, ...], ...] = (),
) -> TableSpec:
    """Build a `TableSpec` from compact column specs `"name:type"` (`"name:type?"` = nullable)."""
    cols: list[Column] = []
    for spec in columns:
        col_name, _, col_type = spec.partition(":")
        nullable = col_type.endswith("?")
        col_type = col_type.rstrip("?")
        if col_type not in COLUMN_TYPES:
            raise ValueError(f"{name}.{col_name}: unknown column type {col_type!r}")
        if nullable and col_name in primary_key:
            raise ValueError(f"{name}.{col_name}: a primary-key column cannot be nullable")
        cols.append(Column(col_name, col_type, nullable))
    names = {c.name for c in cols}
    used = (*primary_key, owner, *(c for index in indexes for c in index))
    missing = [c for c in used if c not in names]
    if missing:
        raise ValueError(f"{name}: unknown columns {missing}")
    return TableSpec(name, tuple(cols), primary_key, owner, indexes)


json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
"""Serialise a `json` column value: compact, sorted keys, UTF-8 text kept as is."""
