"""`onestop replay`: rebuild projections into new versions from the log, then swap them in.

The driver is a plain group-less consumer (`streams.replay_log.LogReader`) with every
partition of both topics assigned; its `getmany()` batches of up to 20,000 records go to ONE
shared `Pipeline` holding one store per projection being rebuilt, each pinned to its new
version (`follow_live=False`), with `dlq=None`: a replay sends nothing anywhere (DESIGN
principles 4 and 5). Several projections are rebuilt in one pass: each batch is decoded once
and folded and written for every one of them in one transaction. Each *round* takes the
dossier end offsets, then the catalogue's, reads the catalogue up to its end, then the
dossiers up to theirs: every dossier read was published before the catalogue end taken, so
it is folded against a caught-up catalogue, as the live worker does (principle 8). Rounds
repeat while the head moves.

**Speed.** The versions being built have no other writer, so the pipeline is `exclusive`:
it keeps their aggregates decoded in memory between batches instead of re-reading its own
snapshots, and when it builds several projections it folds each record once and derives
the other projections' states (`projections.batch.apply_batch_shared`). What it writes —
rows, snapshots, positions, one transaction per batch — is what the live worker would write.

**Swap.** Loop: when every new version's positions are ≥ its live version's everywhere
(else read another round), one transaction locks the live versions' position rows
(PostgreSQL `FOR UPDATE`, in the worker's projection order; SQLite's write transaction
serialises anyway), checks again and makes every new version live — all or none. Readers
switch on commit and never go back in time; the live worker sees the new versions at its
next commit and resumes there without skipping a record. The old versions are dropped only
after the swap, after a grace period for in-flight readers and batches.

**Point in time.** With stop offsets (`replay_log.resolve_stops`), one round builds up to
there and the versions are left built, not swapped in (that would take readers back in
time). If anything fails before the swap, every unfinished version is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, func, inspect, select

from projections.policy import Policy
from projections.records import PROJECTIONS, SourceRecord, TopicPartition
from projections.store import (
    ProjectionStore,
    building_version,
    live_version,
    set_building_version,
    set_live_version,
)
from projections.store import positions as stored
from projections.store.cache import DEFAULT_MAX_AGGREGATES
from projections.store.meta import META, POSITIONS
from schemas.codec import AvroCodec
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.pipeline import Pipeline
from streams.progress import Progress
from streams.replay_log import LogReader, Offsets, resolve_stops

__all__ = [
    "ReplayContext", "ReplayError", "ReplayResult", "allocate_version", "build_version",
    "build_versions", "drop_version", "known_versions", "read_from", "replay_names",
    "replay_projection", "replay_projections", "swap_ready", "try_swap", "try_swap_all",
]

_VERSION_LOCK = 0x6F6E_6576  # advisory lock key ("onev") serialising version allocation


class ReplayError(Exception):
    """A replay cannot start or go on; the message says why and what to do."""


# --- the swap condition ----------------------------------------------------------------


def swap_ready(new: Mapping[TopicPartition, int], live: Mapping[TopicPartition, int]) -> bool:
    """The new version may replace the live one: it is at least as far on every partition."""
    return all(new.get(tp, 0) >= offset for tp, offset in live.items())


# --- versions -----------------------------------------------------------------------------


def known_versions(conn: Connection, projection: str) -> set[int]:
    """Every version of `projection` with positions, a live/building mark, or tables."""
    found = set(conn.execute(select(POSITIONS.c.version).distinct()
                             .where(POSITIONS.c.projection == projection)).scalars())
    for version in (live_version(conn, projection), building_version(conn, projection)):
        if version is not None:
            found.add(version)
    pattern = re.compile(rf"{re.escape(projection)}_v(\d+)_")
    for name in inspect(conn).get_table_names():
        if match := pattern.match(name):
            found.add(int(match.group(1)))
    return found


def allocate_version(
    engine: Engine, projection: str, partitions: Sequence[TopicPartition], *, building: bool
) -> int:
    """Reserve `max(known versions, 1) + 1` (its position rows make it known at once).

    `building` marks it as the replay in progress and refuses while another one is marked.
    """
    META.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_VERSION_LOCK)))
        other = building_version(conn, projection)
        if building and other is not None:
            raise ReplayError(
                f"a replay is already building {projection} v{other}; if it was interrupted, "
                f"drop it first: onestop replay --drop-version {other} {projection}")
        version = max(known_versions(conn, projection) | {1}) + 1
        stored.claim(conn, projection, version, partitions)
        if building:
            set_building_version(conn, projection, version)
    return version


def drop_version(engine: Engine, projection: str, version: int) -> None:
    """Drop a version that is not live (`VersionInUseError` otherwise)."""
    ProjectionStore(engine, projection, version).drop()


def try_swap(engine: Engine, projection: str, version: int) -> tuple[bool, int | None]:
    """One transaction: make `version` live if it is at least as far as the live version
    on every partition (whose position rows are locked meanwhile). (swapped, old live)."""
    swapped, old = try_swap_all(engine, {projection: version})
    return swapped, old[projection]


def try_swap_all(
    engine: Engine, versions: Mapping[str, int]
) -> tuple[bool, dict[str, int | None]]:
    """One transaction for several projections: lock each live version's position rows,
    and only if every new version (`versions`: projection -> version) is at least as far
    as its live one, make them all live — all or none. (swapped, old live per projection).

    Projections are locked in `PROJECTIONS` order, the order the live worker writes them in.
    """
    old: dict[str, int | None] = {}
    with engine.begin() as conn:
        for projection in _in_write_order(versions):
            version = versions[projection]
            live = old[projection] = live_version(conn, projection)
            if live is None or live == version:
                continue
            locked = conn.execute(
                select(POSITIONS.c.topic, POSITIONS.c.partition, POSITIONS.c.next_offset)
                .where(POSITIONS.c.projection == projection, POSITIONS.c.version == live)
                .order_by(POSITIONS.c.topic, POSITIONS.c.partition).with_for_update())
            live_positions = {(r.topic, r.partition): r.next_offset for r in locked}
            if not swap_ready(stored.positions(conn, projection, version), live_positions):
                return False, old
        for projection in _in_write_order(versions):
            set_live_version(conn, projection, versions[projection])
    return True, old


def _in_write_order(names: Iterable[str]) -> list[str]:
    order = {name: i for i, name in enumerate(PROJECTIONS)}
    return sorted(names, key=lambda name: (order.get(name, len(order)), name))


# --- building -----------------------------------------------------------------------------


@dataclass
class ReplayContext:
    """What a replay needs: a durable engine (versions, swap, drop), a faster one for the
    bulk writes (`durable=False`), the codec, the policies and the broker."""

    engine: Engine
    build_engine: Engine
    codec: AvroCodec
    policies: Mapping[str, Policy]
    bootstrap: str
    max_record_bytes: int
    max_records: int = 20_000
    max_cached: int = DEFAULT_MAX_AGGREGATES
    """Dossier aggregates per projection kept decoded in memory (`StateCache`)."""


@dataclass
class ReplayResult:
    projection: str
    version: int
    events: int = 0
    seconds: float = 0.0
    swapped: bool = False
    old_version: int | None = None
    dropped_old: bool = False
    positions: Offsets = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Builder:
    """Fills pinned versions of one or more projections in one pass, round by round: one
    `Pipeline` holding one store per projection, so each batch is decoded once and folded
    and written for every projection in one transaction."""

    def __init__(self, ctx: ReplayContext, reader: LogReader,
                 results: Sequence[ReplayResult], progress: Progress) -> None:
        self.reader, self.results, self.progress = reader, list(results), progress
        stores = {}
        for result in results:
            store = ProjectionStore(ctx.build_engine, result.projection, result.version)
            store.create()
            stores[result.projection] = store
        self.pipeline = Pipeline(
            ctx.build_engine, ctx.codec, stores,
            {name: ctx.policies[name] for name in stores},
            max_record_bytes=ctx.max_record_bytes, follow_live=False, exclusive=True,
            max_cached=ctx.max_cached)
        self.pipeline.claim(reader.partitions)
        self.events = 0
        self.total = 0

    async def positions(self) -> dict[str, Offsets]:
        """The stored positions of every projection built."""
        return await asyncio.to_thread(self.pipeline.positions)

    async def round(self, stops: Mapping[TopicPartition, int] | None, phase: str = "") -> int:
        """Catalogue to its end (or stop), then dossiers to theirs; the records read."""
        reader = self.reader
        if stops is None:  # the dossiers' ends first: see the module docstring
            dossier_ends = await reader.end_offsets(reader.of(DOSSIER_TOPIC))
            catalogue_ends = await reader.end_offsets(reader.of(CATALOGUE_TOPIC))
        else:
            dossier_ends = catalogue_ends = dict(stops)
        start = read_from(await self.positions(), reader.partitions)
        before = self.events
        for topic, ends in ((CATALOGUE_TOPIC, catalogue_ends), (DOSSIER_TOPIC, dossier_ends)):
            stop = {tp: ends[tp] for tp in reader.of(topic)}
            self.total += sum(max(0, end - start.get(tp, 0)) for tp, end in stop.items())
            label = phase or ("catalogue" if topic == CATALOGUE_TOPIC else "dossiers")
            await reader.read(start, stop, functools.partial(self._apply, phase=label))
        return self.events - before

    async def _apply(self, records: list[SourceRecord], *, phase: str) -> None:
        await self.pipeline.process(records, catalogue_caught_up=True, dlq=None)
        self.events += len(records)
        for result in self.results:
            result.events = self.events
        self.progress.update(phase, self.events, self.total)


def read_from(
    positions: Mapping[str, Mapping[TopicPartition, int]], partitions: Sequence[TopicPartition]
) -> Offsets:
    """Where one pass for several projections reads from: per partition, the lowest stored
    position among them (the pipeline skips what a projection has already applied)."""
    return {tp: min((p.get(tp, 0) for p in positions.values()), default=0)
            for tp in partitions}


def replay_names(names: Iterable[str]) -> list[str]:
    """`all` → every projection; otherwise the names given, once each, in `PROJECTIONS`
    order. Unknown names → `ValueError`; none at all → `ValueError`."""
    wanted: set[str] = set()
    for name in names:
        if name == "all":
            wanted.update(PROJECTIONS)
        elif name in PROJECTIONS:
            wanted.add(name)
        else:
            raise ValueError(f"unknown projection {name!r}; one of {', '.join(PROJECTIONS)} "
                             "or all")
    if not wanted:
        raise ValueError(f"name at least one projection ({', '.join(PROJECTIONS)}) or all")
    return _in_write_order(wanted)


async def build_versions(
    ctx: ReplayContext, projections: Sequence[str], progress: Progress, *,
    stops: Mapping[TopicPartition, int] | None = None,
    to_offsets: Mapping[TopicPartition, int] | None = None, to_time_ms: int | None = None,
    building: bool = True, swap: bool = False, grace_s: float = 10.0, keep_old: bool = False,
) -> list[ReplayResult]:
    """Build a new version of each of `projections` in one pass over the log. Following
    the head (no `stops`, `to_offsets` or `to_time_ms`), `swap` them in together — one
    transaction, all or none — as the module docstring says; else stop there and leave
    them built. On any failure before the swap every unfinished version is dropped.
    One `ReplayResult` per projection, in the order given."""
    names = list(dict.fromkeys(projections))
    if not names:
        raise ReplayError("no projection to build")
    started = time.perf_counter()
    results: list[ReplayResult] = []
    async with LogReader(ctx.bootstrap, max_records=ctx.max_records) as reader:
        point_in_time = stops is not None or bool(to_offsets) or to_time_ms is not None
        if point_in_time and stops is None:
            at = await reader.offsets_at(to_time_ms) if to_time_ms is not None else None
            ends = await reader.end_offsets(reader.partitions)
            stops = resolve_stops(ends, to_offsets or {}, at)
        try:
            for name in names:
                version = await asyncio.to_thread(
                    allocate_version, ctx.engine, name, reader.partitions, building=building)
                results.append(ReplayResult(name, version))
            builder = await asyncio.to_thread(_Builder, ctx, reader, results, progress)
            if stops is not None:
                await builder.round({tp: stops.get(tp, 0) for tp in reader.partitions})
            else:
                while await builder.round(None, "catch-up" if builder.events else "") \
                        >= ctx.max_records:
                    pass
                while swap:
                    if await _all_ready(ctx.engine, await builder.positions()):
                        swapped, old = await asyncio.to_thread(
                            try_swap_all, ctx.engine, {r.projection: r.version for r in results})
                        if swapped:
                            for result in results:
                                result.swapped, result.old_version = True, old[result.projection]
                            break
                    await builder.round(None, "catch-up")
            reached = await builder.positions()
            for result in results:
                result.positions = reached[result.projection]
        except BaseException:
            for result in results:
                if not result.swapped:
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(
                            drop_version, ctx.engine, result.projection, result.version)
            raise
    if building:
        with ctx.engine.begin() as conn:
            for result in results:
                if not result.swapped:
                    set_building_version(conn, result.projection, None)
    seconds = time.perf_counter() - started
    for result in results:
        result.seconds = seconds
    dropping = [r for r in results if r.swapped and r.old_version is not None]
    if dropping and not keep_old:
        await asyncio.sleep(grace_s)
        for result in dropping:
            assert result.old_version is not None
            await asyncio.to_thread(drop_version, ctx.engine, result.projection,
                                    result.old_version)
            result.dropped_old = True
    return results


async def build_version(
    ctx: ReplayContext, projection: str, progress: Progress, *,
    stops: Mapping[TopicPartition, int] | None = None,
    to_offsets: Mapping[TopicPartition, int] | None = None, to_time_ms: int | None = None,
    building: bool = True, swap: bool = False, grace_s: float = 10.0, keep_old: bool = False,
) -> ReplayResult:
    """`build_versions` of one projection."""
    [result] = await build_versions(
        ctx, [projection], progress, stops=stops, to_offsets=to_offsets, to_time_ms=to_time_ms,
        building=building, swap=swap, grace_s=grace_s, keep_old=keep_old)
    return result


async def replay_projections(
    ctx: ReplayContext, projections: Sequence[str], progress: Progress, *,
    grace_s: float = 10.0, keep_old: bool = False,
) -> list[ReplayResult]:
    """Rebuild `projections` from the log in one pass and swap them in together."""
    return await build_versions(ctx, projections, progress, swap=True, grace_s=grace_s,
                                keep_old=keep_old)


async def replay_projection(ctx: ReplayContext, projection: str, progress: Progress, *,
                            grace_s: float = 10.0, keep_old: bool = False) -> ReplayResult:
    """Rebuild `projection` from the log and swap it in (see the module docstring)."""
    return await build_version(ctx, projection, progress, swap=True, grace_s=grace_s,
                               keep_old=keep_old)


async def _all_ready(engine: Engine, built: Mapping[str, Offsets]) -> bool:
    live = await asyncio.to_thread(_live_positions, engine, list(built))
    return all(swap_ready(built[name], live[name]) for name in built)


def _live_positions(engine: Engine, projections: Sequence[str]) -> dict[str, Offsets]:
    out: dict[str, Offsets] = {}
    with engine.connect() as conn:
        for projection in projections:
            live = live_version(conn, projection)
            out[projection] = {} if live is None else stored.positions(conn, projection, live)
    return out
