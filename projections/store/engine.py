"""Engines for the two supported back-ends: SQLite (the embedded default) and PostgreSQL.

`make_engine(url)` is the only place that knows about driver quirks:

- **SQLite** (`sqlite:///path/to/file.db`, or `sqlite://` in memory): WAL journal,
  `synchronous=NORMAL`, a busy timeout, and real transactions. pysqlite's legacy mode
  starts a transaction only at the first INSERT/UPDATE/DELETE, so reads made earlier in a
  `with engine.begin()` block would run outside it; we switch pysqlite's own handling off and
  emit `BEGIN IMMEDIATE` ourselves (the write lock is taken up front, so a batch that reads
  snapshots and then writes never fails to upgrade its lock). Pass
  `sqlite_begin="DEFERRED"` for an engine that only reads (an API, a CLI report).
- **PostgreSQL** through psycopg 3: `postgresql://` and `postgres://` URLs are rewritten to
  `postgresql+psycopg://`; sessions run in UTC.

`durable=False` lets a commit return before it is flushed to disk (PostgreSQL
`synchronous_commit=off`, SQLite `synchronous=OFF`). The database stays consistent; a crash
can only lose the last few commits, and since every batch commits its positions with its
rows, the consumer then simply re-reads from the older position. Meant for replays, which
have no side effects; keep the default for live workers whose commits trigger deliveries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "make_engine"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long an SQLite writer waits for another writer's lock before giving up."""

SqliteBegin = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"]


def make_engine(
    url: str | URL,
    *,
    echo: bool = False,
    durable: bool = True,
    sqlite_begin: SqliteBegin = "IMMEDIATE",
    **kwargs: Any,
) -> Engine:
    """Create an engine for `url` with the project's settings for its back-end.

    Extra keyword arguments go to `sqlalchemy.create_engine` unchanged.
    """
    parsed = _normalise(make_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, durable=durable, begin=sqlite_begin, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        options = "-c timezone=UTC" + ("" if durable else " -c synchronous_commit=off")
        connect_args.setdefault("options", options)
        return create_engine(parsed, echo=echo, connect_args=connect_args, **kwargs)
    return create_engine(parsed, echo=echo, **kwargs)


def _normalise(url: URL) -> URL:
    """Default PostgreSQL URLs to the psycopg 3 driver."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(
    url: URL, *, echo: bool, durable: bool, begin: SqliteBegin, **kwargs: Any
) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        # One shared connection, or every checkout would see a different empty database.
        kwargs.setdefault("poolclass", StaticPool)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        kwargs["connect_args"] = connect_args
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, see module doc
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(f"BEGIN {begin}")

    return engine
