"""`ProjectionStore`: the tables of one projection version and everything done to them.

The store never opens a transaction for the hot path: the driver does
(`with engine.begin() as conn:`) and passes `conn` to `claim`, `load_snapshots`, `write`,
... so a batch's snapshots, rows, parked records and positions commit or roll back together
(DESIGN principle 2). Only `create` and `drop`, which change the schema, use the engine.

A typical driver loop::

    store = ProjectionStore(engine, "portal", 1)
    store.create()
    with engine.begin() as conn:
        generation = store.claim(conn, assigned)
        start = store.positions(conn)
    ...
    with engine.begin() as conn:
        snapshots = store.load_snapshots(conn, keys_of(batch))
        result = apply_batch(snapshots, batch, ...)
        store.write(conn, result, generation)      # FencedError: stop, re-claim
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from projections.records import AggregateKey, BatchResult, ParkedRecord, Snapshot, TopicPartition
from projections.store import parked as parked_records
from projections.store import positions as positions_
from projections.store.errors import UnknownTableError, VersionInUseError
from projections.store.meta import META, POSITIONS, VERSIONS, live_version
from projections.store.snapshots import load_snapshots
from projections.store.tables import VersionTables, build_tables, view_specs
from projections.store.writer import write_batch
from projections.views import TableSpec

__all__ = ["ProjectionStore"]


class ProjectionStore:
    """Version `version` of projection `projection` (`portal`, `onestop`, `stats`).

    `specs` overrides the view's `TABLES` (tests, tools); by default they come from
    `projections.views.<projection>`.
    """

    def __init__(
        self,
        engine: Engine,
        projection: str,
        version: int,
        *,
        specs: Mapping[str, TableSpec] | None = None,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.version = version
        self.tables: VersionTables = build_tables(
            projection, version, view_specs(projection) if specs is None else specs
        )

    def __repr__(self) -> str:
        return f"ProjectionStore({self.projection!r}, v{self.version}, {self.engine.url!r})"

    # -- schema ------------------------------------------------------------------------

    def create(self) -> None:
        """Create this version's tables and the shared ones, where missing (idempotent)."""
        with self.engine.begin() as conn:
            _schema_lock(conn)
            META.create_all(conn, checkfirst=True)
            self.tables.metadata.create_all(conn, checkfirst=True)

    def drop(self, *, force: bool = False) -> None:
        """Drop this version's tables and forget its positions.

        Refuses (`VersionInUseError`) to drop the live version unless `force`; a dropped
        building version is no longer marked as building.
        """
        with self.engine.begin() as conn:
            _schema_lock(conn)
            META.create_all(conn, checkfirst=True)
            if not force and live_version(conn, self.projection) == self.version:
                raise VersionInUseError(
                    f"{self.projection} v{self.version} is live; swap another version in first"
                )
            conn.execute(
                POSITIONS.delete().where(
                    POSITIONS.c.projection == self.projection,
                    POSITIONS.c.version == self.version,
                )
            )
            conn.execute(
                VERSIONS.update()
                .where(
                    VERSIONS.c.projection == self.projection,
                    VERSIONS.c.building_version == self.version,
                )
                .values(building_version=None)
            )
            self.tables.metadata.drop_all(conn, checkfirst=True)

    # -- positions and fencing ---------------------------------------------------------

    def claim(self, conn: Connection, partitions: Iterable[TopicPartition]) -> int:
        """Take `partitions` over: bump and return the generation that now owns them."""
        return positions_.claim(conn, self.projection, self.version, partitions)

    def positions(self, conn: Connection) -> dict[TopicPartition, int]:
        """The next offset to read, per claimed partition."""
        return positions_.positions(conn, self.projection, self.version)

    def is_empty(self, conn: Connection) -> bool:
        """Whether this version holds no aggregate yet (no snapshot at all)."""
        snapshots = self.tables.snapshots
        return conn.execute(select(snapshots.c.topic).limit(1)).first() is None

    # -- the batch ---------------------------------------------------------------------

    def load_snapshots(
        self,
        conn: Connection,
        keys: Iterable[AggregateKey],
        *,
        for_update: bool = False,
        with_state: bool = True,
    ) -> dict[AggregateKey, Snapshot]:
        """The stored snapshots of `keys` (absent: never seen); `for_update` locks them,
        `with_state=False` reads only the sequencing heads (`state_json` None)."""
        return load_snapshots(
            conn, self.tables.snapshots, keys, for_update=for_update, with_state=with_state
        )

    def write(
        self, conn: Connection, result: BatchResult, generation: int, *,
        new: Collection[AggregateKey] = (),
    ) -> bool:
        """Write `result` in the caller's transaction, fenced by `generation`.

        Returns False (and writes nothing) if the batch's positions are already stored.
        Raises `FencedError` if `generation` no longer owns one of its partitions and
        `PositionRegressedError` if a position would go backwards; the caller's transaction
        must then roll back (leaving the `with` block by the exception does that). A result
        without positions (e.g. applying released parked records) is written unfenced.
        `new`: aggregates the caller loaded and found without a stored state (so they own
        no rows yet): their rows are inserted without a DELETE first.
        """
        return write_batch(conn, self.tables, result, generation, new=new)

    # -- parked records ----------------------------------------------------------------

    def parked(self, conn: Connection, aggregate: AggregateKey | None = None) -> list[ParkedRecord]:
        """Parked records (of `aggregate`, if given), by aggregate and `aggregate_seq`."""
        return parked_records.list_parked(conn, self.tables.parked, aggregate)

    def release_parked(self, conn: Connection, aggregate: AggregateKey) -> list[ParkedRecord]:
        """Delete the parked records of `aggregate` and return them in `aggregate_seq` order."""
        return parked_records.release_parked(conn, self.tables.parked, aggregate)

    # -- reading -----------------------------------------------------------------------

    def read_rows(self, conn: Connection, table: str) -> list[dict[str, Any]]:
        """All rows of view table `table` (name without prefix), by primary key.

        Dates are `datetime.date`, instants UTC-aware `datetime.datetime`, JSON columns text.
        """
        try:
            sql_table = self.tables.views[table]
        except KeyError:
            raise UnknownTableError(f"{self.projection} has no table {table!r}") from None
        spec = self.tables.specs[table]
        stmt = select(sql_table).order_by(*(sql_table.c[c] for c in spec.primary_key))
        return [dict(row) for row in conn.execute(stmt).mappings()]

    def dump(self, conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
        """Every view table in `projections.reference`'s canonical form, for comparison."""
        from projections.reference import canonical_rows

        return {
            name: canonical_rows(spec, self.read_rows(conn, name))
            for name, spec in sorted(self.tables.specs.items())
        }


_SCHEMA_LOCK = 0x6F6E_6573  # "ones": any fixed key shared by every process of the project


def _schema_lock(conn: Connection) -> None:
    """Serialise schema changes: two workers starting at once must not both CREATE a table.

    PostgreSQL: a transaction-scoped advisory lock; SQLite: the `BEGIN IMMEDIATE` write lock
    already does it.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
