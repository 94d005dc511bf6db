"""Tables shared by every projection: consumed positions and which version is live.

- `projection_positions` — per (`projection`, `version`, `topic`, `partition`): the
  `next_offset` to read and the `generation` of the worker that owns the partition. A worker
  `claim`s its partitions (the generation goes up), and every batch it writes updates the
  positions only `WHERE generation = <its generation>`: a zombie worker's write matches no
  row and its transaction rolls back.
- `projection_versions` — per `projection`: the `live_version` readers use and the
  `building_version` a replay is filling. Swapping a rebuilt version in is one UPDATE.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    select,
)
from sqlalchemy import Column as SAColumn

from projections.store._dialect import upsert_insert
from projections.store.tables import UTCDateTime

__all__ = [
    "META",
    "POSITIONS",
    "VERSIONS",
    "building_version",
    "live_version",
    "set_building_version",
    "set_live_version",
]

META = MetaData()

POSITIONS = Table(
    "projection_positions",
    META,
    SAColumn("projection", Text, primary_key=True),
    SAColumn("version", Integer, primary_key=True),
    SAColumn("topic", Text, primary_key=True),
    SAColumn("partition", Integer, primary_key=True),
    SAColumn("next_offset", BigInteger, nullable=False),
    SAColumn("generation", BigInteger, nullable=False),
)

VERSIONS = Table(
    "projection_versions",
    META,
    SAColumn("projection", Text, primary_key=True),
    SAColumn("live_version", Integer, nullable=True),
    SAColumn("building_version", Integer, nullable=True),
    SAColumn("updated_at", UTCDateTime(), nullable=False),
)


def live_version(conn: Connection, projection: str) -> int | None:
    """The version readers should use, or None before any version went live."""
    row = conn.execute(
        select(VERSIONS.c.live_version).where(VERSIONS.c.projection == projection)
    ).first()
    return None if row is None else row.live_version


def building_version(conn: Connection, projection: str) -> int | None:
    """The version a replay is building, or None."""
    row = conn.execute(
        select(VERSIONS.c.building_version).where(VERSIONS.c.projection == projection)
    ).first()
    return None if row is None else row.building_version


def set_live_version(conn: Connection, projection: str, version: int) -> None:
    """Make `version` the live one, in the caller's transaction (readers switch on commit).

    If `version` was the one being built, it is no longer marked as building.
    """
    now = dt.datetime.now(dt.UTC)
    _upsert(conn, projection, {"live_version": version, "updated_at": now})
    conn.execute(
        VERSIONS.update()
        .where(VERSIONS.c.projection == projection, VERSIONS.c.building_version == version)
        .values(building_version=None)
    )


def set_building_version(conn: Connection, projection: str, version: int | None) -> None:
    """Record which version a replay is building (None: no replay in progress)."""
    now = dt.datetime.now(dt.UTC)
    _upsert(conn, projection, {"building_version": version, "updated_at": now})


def _upsert(conn: Connection, projection: str, values: dict[str, object]) -> None:
    stmt = upsert_insert(conn, VERSIONS).values(projection=projection, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["projection"], set_=values))
