"""ORM classes for one projection version's existing tables, for the naive contender.

`map_version(reg, tables)` maps every table of a `VersionTables` (the view tables, the
snapshots, the parked records) to a fresh class with `registry.map_imperatively`, and
`map_positions(reg)` maps the shared `projection_positions` table. The classes are plain
attribute bags (`MappedRow(**columns)`); the tables themselves, their column types and
their names are the store's (`projections.store.tables`), so what the ORM writes is read
back exactly like the store's own rows. Use one `registry` per process (each call maps
new classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table
from sqlalchemy.orm import registry

from projections.store.meta import POSITIONS
from projections.store.tables import VersionTables

__all__ = ["MappedRow", "MappedVersion", "map_positions", "map_version"]


class MappedRow:
    """Base of the mapped classes: `Cls(column=value, ...)` sets the attributes given."""

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    if TYPE_CHECKING:  # columns are mapped at run time; to the type checker they are Any

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


@dataclass(frozen=True)
class MappedVersion:
    """The mapped classes of one projection version; `owners[table]` names the column
    holding the owning aggregate's id."""

    projection: str
    version: int
    views: dict[str, type[MappedRow]]
    owners: dict[str, str]
    snapshot: type[MappedRow]
    parked: type[MappedRow]


def _map(reg: registry, table: Table) -> type[MappedRow]:
    name = "".join(part.capitalize() for part in table.name.split("_"))
    cls: type[MappedRow] = type(name, (MappedRow,), {})
    reg.map_imperatively(cls, table)
    return cls


def map_version(reg: registry, tables: VersionTables) -> MappedVersion:
    """Map every table of `tables` in `reg`."""
    return MappedVersion(
        projection=tables.projection,
        version=tables.version,
        views={name: _map(reg, table) for name, table in tables.views.items()},
        owners={name: spec.owner for name, spec in tables.specs.items()},
        snapshot=_map(reg, tables.snapshots),
        parked=_map(reg, tables.parked),
    )


def map_positions(reg: registry) -> type[MappedRow]:
    """Map `projection_positions` in `reg`."""
    return _map(reg, POSITIONS)
