"""The dialect-specific `INSERT ... ON CONFLICT` both supported back-ends share."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["UpsertInsert", "upsert_insert"]

UpsertInsert = postgresql.Insert | sqlite.Insert


def upsert_insert(conn: Connection, table: Table) -> UpsertInsert:
    """An `insert(table)` that offers `on_conflict_do_update` / `on_conflict_do_nothing`."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name!r} (sqlite or postgresql)")
