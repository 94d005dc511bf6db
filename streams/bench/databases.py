"""The benchmark's databases: a fresh one per contender and back end, and what is in them.

Each contender writes into its own empty database, so no contender reads another's tables and
every run starts from the same state: a SQLite file `<dir>/<contender>.db`, or a PostgreSQL
database `bench_<contender>` in the stack's cluster (dropped and created again). The tables are
the real ones (`ProjectionStore`'s DDL), so the checksums compare like for like.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import psycopg
from sqlalchemy import Engine, inspect

from projections.records import PROJECTIONS, TopicPartition
from projections.reference import dump_digest
from projections.store import ProjectionStore, live_version, make_engine
from projections.store.meta import POSITIONS, VERSIONS
from projections.store.positions import positions
from streams.infra import Services

__all__ = [
    "BACKENDS", "caught_up", "digests", "fresh_database", "lagging", "live_digests",
    "live_versions",
]

BACKENDS = ("sqlite", "postgresql")


def fresh_database(backend: str, contender: str, folder: Path, services: Services) -> str:
    """An empty database for `contender` on `backend`; its SQLAlchemy URL."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{contender}.db"
        for leftover in (path, path.with_name(path.name + "-wal"),
                         path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if backend == "postgresql":
        name = f"bench_{contender}"
        with psycopg.connect(services.postgres_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return services.database_url_for(name)
    raise ValueError(f"unknown back end {backend!r}: one of {', '.join(BACKENDS)}")


def digests(engine: Engine, versions: Mapping[str, int]) -> dict[str, str]:
    """The checksum (`dump_digest` of the canonical dump) of each projection version."""
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for projection, version in versions.items():
            found[projection] = dump_digest(ProjectionStore(engine, projection, version).dump(conn))
    return found


def live_versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        found = {p: live_version(conn, p) for p in PROJECTIONS}
    return {p: v for p, v in found.items() if v is not None}


def live_digests(url: str) -> dict[str, str]:
    """The checksums of the live version of every projection in the database at `url`."""
    engine = make_engine(url)
    try:
        return digests(engine, live_versions(engine))
    finally:
        engine.dispose()


def lagging(engine: Engine, ends: Mapping[TopicPartition, int]) -> int:
    """How many records the live projections still have to read to reach `ends` (the most
    behind projection counts; a projection without a live version counts as at 0)."""
    with engine.connect() as conn:
        tables = inspect(conn)
        if not (tables.has_table(POSITIONS.name) and tables.has_table(VERSIONS.name)):
            # the worker has not created them yet
            return sum(ends.values())
        behind = 0
        for projection in PROJECTIONS:
            version = live_version(conn, projection)
            at = positions(conn, projection, version) if version is not None else {}
            behind = max(behind, sum(max(0, end - at.get(tp, 0)) for tp, end in ends.items()))
    return behind


def caught_up(engine: Engine, ends: Mapping[TopicPartition, int]) -> bool:
    return lagging(engine, ends) == 0
