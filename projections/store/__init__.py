"""The projection store: SQLAlchemy 2.0 Core tables that hold a projection's rows and the
positions it has consumed, written in one transaction per batch.

- `make_engine(url)` — SQLite (default, WAL) or PostgreSQL (psycopg 3).
- `ProjectionStore(engine, projection, version)` — one projection version's tables:
  `create`/`drop`, `claim` + `positions` (fencing), `load_snapshots`, `write`, `parked` /
  `release_parked`, `read_rows`, `dump`.
- `live_version` / `set_live_version` / `set_building_version` — which version readers use;
  a rebuilt version is swapped in atomically by one UPDATE.
- Errors: see `projections.store.errors`.
"""

from __future__ import annotations

from projections.store.engine import make_engine
from projections.store.errors import (
    FencedError,
    InvalidRowsError,
    PositionRegressedError,
    StoreError,
    UnknownTableError,
    VersionInUseError,
)
from projections.store.meta import (
    building_version,
    live_version,
    set_building_version,
    set_live_version,
)
from projections.store.store import ProjectionStore
from projections.store.tables import table_prefix

__all__ = [
    "FencedError",
    "InvalidRowsError",
    "PositionRegressedError",
    "ProjectionStore",
    "StoreError",
    "UnknownTableError",
    "VersionInUseError",
    "building_version",
    "live_version",
    "make_engine",
    "set_building_version",
    "set_live_version",
    "table_prefix",
]
