"""The hot path's bulk statements, one flavour per back-end, below SQLAlchemy's type layer.

SQLAlchemy Core builds, creates and reads every table; but binding thousands of rows per
batch through its per-row parameter processing costs more than the database work itself.
So the three bulk operations of a batch go to the driver (through `exec_driver_sql`, or
psycopg's COPY), with values converted here exactly as SQLAlchemy's column types would store
them, so Core reads them back unchanged:

- delete an aggregate's rows — SQLite: `DELETE ... WHERE owner IN (?, ...)`, 500 owners per
  statement; PostgreSQL: one `DELETE ... WHERE owner = ANY(%s)`;
- insert rows — SQLite: `executemany` of `INSERT`; PostgreSQL: binary `COPY ... FROM STDIN`;
- upsert snapshots — SQLite: `executemany` of `INSERT ... ON CONFLICT DO UPDATE`;
  PostgreSQL: binary COPY into a temporary staging table, then one
  `INSERT ... SELECT ... ON CONFLICT DO UPDATE` (measured 1.4x faster than executemany and
  2.5x faster than `unnest(<arrays>)` for 500 snapshots).

On SQLite a `datetime` is stored as SQLAlchemy's text form of the UTC wall time
(`YYYY-MM-DD HH:MM:SS.ffffff`) and a `date` as `YYYY-MM-DD`. Naive datetimes are refused on
both back-ends (`InvalidRowsError`): the core only produces aware UTC instants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table

from projections.records import Row, Snapshot
from projections.store.errors import InvalidRowsError
from projections.store.snapshots import chunks
from projections.views import TableSpec

__all__ = ["TablePlan", "delete_owned", "insert_rows", "plan_for", "upsert_snapshots"]

_UTC = dt.UTC
_PG_TYPES = {"str": "text", "int": "int8", "bool": "bool", "date": "date",
             "datetime": "timestamptz", "json": "text"}
_STAGE = "projection_snapshot_stage"
_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
_STAGE_TYPES = ("text", "text", "int8", "int8", "text")


@dataclass(frozen=True)
class TablePlan:
    """What the bulk statements of one view table need (cheap: built per table per batch)."""

    table: str  # quoted for the dialect
    owner: str  # quoted
    columns: tuple[str, ...]  # unquoted, in table order
    column_list: str  # quoted, comma-separated
    expected: frozenset[str]
    get: Callable[[Row], tuple[Any, ...]]
    datetimes: tuple[int, ...]
    dates: tuple[int, ...]
    pg_types: tuple[str, ...]  # for binary COPY


def plan_for(conn: Connection, table: Table, spec: TableSpec) -> TablePlan:
    """The bulk plan of `table` (built from `spec`) for `conn`'s dialect."""
    quote = conn.dialect.identifier_preparer.quote
    columns = spec.column_names
    getter = itemgetter(*columns)
    get: Callable[[Row], tuple[Any, ...]] = (
        getter if len(columns) > 1 else (lambda row: (getter(row),))
    )
    return TablePlan(
        table=conn.dialect.identifier_preparer.format_table(table),
        owner=quote(spec.owner),
        columns=columns,
        column_list=", ".join(quote(c) for c in columns),
        expected=frozenset(columns),
        get=get,
        datetimes=tuple(i for i, c in enumerate(spec.columns) if c.type == "datetime"),
        dates=tuple(i for i, c in enumerate(spec.columns) if c.type == "date"),
        pg_types=tuple(_PG_TYPES[c.type] for c in spec.columns),
    )


def delete_owned(conn: Connection, plan: TablePlan, owners: Sequence[str]) -> None:
    """Delete every row of the table whose owner column is in `owners`."""
    if not owners:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"DELETE FROM {plan.table} WHERE {plan.owner} = ANY(%s)", (list(owners),)
        )
        return
    for chunk in chunks(owners):
        marks = ", ".join("?" * len(chunk))
        conn.exec_driver_sql(
            f"DELETE FROM {plan.table} WHERE {plan.owner} IN ({marks})", tuple(chunk)
        )


def insert_rows(conn: Connection, plan: TablePlan, rows: Sequence[Row]) -> None:
    """Insert `rows` (dicts with exactly the table's columns) into the table."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        copy_sql = f"COPY {plan.table} ({plan.column_list}) FROM STDIN (FORMAT BINARY)"
        _copy(conn, copy_sql, plan.pg_types, [_pg_values(plan, row) for row in rows])
        return
    marks = ", ".join("?" * len(plan.columns))
    conn.exec_driver_sql(
        f"INSERT INTO {plan.table} ({plan.column_list}) VALUES ({marks})",
        [_sqlite_values(plan, row) for row in rows],
    )


def upsert_snapshots(conn: Connection, table: Table, snapshots: Sequence[Snapshot]) -> None:
    """Insert or replace `snapshots` in the snapshots table `table`."""
    if not snapshots:
        return
    name = conn.dialect.identifier_preparer.format_table(table)
    head = f"INSERT INTO {name} (topic, aggregate_id, last_seq, parked_from_seq, state_json)"
    tail = (
        " ON CONFLICT (topic, aggregate_id) DO UPDATE SET last_seq = excluded.last_seq,"
        " parked_from_seq = excluded.parked_from_seq, state_json = excluded.state_json"
    )
    params = [(s.key[0], s.key[1], s.last_seq, s.parked_from_seq, s.state_json) for s in snapshots]
    if conn.dialect.name == "postgresql":
        # COPY into a session-private staging table, then one INSERT ... SELECT that also
        # empties it (several writes in one transaction each see only their own rows).
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (topic text, aggregate_id text,"
            " last_seq bigint, parked_from_seq bigint, state_json text)"
        )
        _copy(conn, f"COPY {_STAGE} FROM STDIN (FORMAT BINARY)", _STAGE_TYPES, params)
        conn.exec_driver_sql(
            f"WITH staged AS (DELETE FROM {_STAGE} RETURNING *) {head}"
            f" SELECT topic, aggregate_id, last_seq, parked_from_seq, state_json FROM staged{tail}"
        )
        return
    conn.exec_driver_sql(f"{head} VALUES (?, ?, ?, ?, ?){tail}", params)


def _copy(conn: Connection, sql: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Binary COPY of `rows` (psycopg 3) on the transaction's own connection."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def _check(plan: TablePlan, row: Row) -> None:
    if row.keys() != plan.expected:
        raise InvalidRowsError(
            f"{plan.table} row: missing columns {sorted(plan.expected - row.keys())}, "
            f"unknown columns {sorted(row.keys() - plan.expected)}"
        )


def _naive(plan: TablePlan, index: int, value: dt.datetime) -> InvalidRowsError:
    return InvalidRowsError(
        f"{plan.table}.{plan.columns[index]}: naive datetime {value!r} (UTC instants only)"
    )


def _pg_values(plan: TablePlan, row: Row) -> tuple[Any, ...]:
    _check(plan, row)
    values = plan.get(row)
    for i in plan.datetimes:
        value = values[i]
        if value is not None and value.utcoffset() is None:
            raise _naive(plan, i, value)
    return values


def _sqlite_values(plan: TablePlan, row: Row) -> tuple[Any, ...]:
    _check(plan, row)
    values = plan.get(row)
    if not plan.datetimes and not plan.dates:
        return values
    out = list(values)
    for i in plan.datetimes:
        value = out[i]
        if value is not None:
            if value.tzinfo is not _UTC:
                if value.utcoffset() is None:
                    raise _naive(plan, i, value)
                value = value.astimezone(_UTC)
            out[i] = _SQLITE_DATETIME % (  # SQLAlchemy's SQLite storage format
                value.year, value.month, value.day,
                value.hour, value.minute, value.second, value.microsecond,
            )
    for i in plan.dates:
        value = out[i]
        if value is not None:
            out[i] = value.isoformat()
    return tuple(out)
