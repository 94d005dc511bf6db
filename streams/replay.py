"""`onestop replay`: rebuild a projection into a new version from the log, then swap it in.

The driver is a plain group-less consumer (`streams.replay_log.LogReader`) with every
partition of both topics assigned; its `getmany()` batches of up to 5,000 records go to the
shared `Pipeline` pinned to the new version (`follow_live=False`) with `dlq=None`: a replay
sends nothing anywhere (DESIGN principles 4 and 5). Each *round* takes the dossier end
offsets, then the catalogue's, reads the catalogue up to its end, then the dossiers up to
theirs: every dossier read was published before the catalogue end taken, so it is folded
against a caught-up catalogue, as the live worker does (principle 8). Rounds repeat while
the head moves.

**Swap.** Loop: when the new version's positions are ≥ the live version's everywhere (else
read another round), one transaction locks the live version's position rows (PostgreSQL
`FOR UPDATE`; SQLite's write transaction serialises anyway), checks again and makes the new
version live. Readers switch on commit and never go back in time; the live worker sees the
new version at its next commit and resumes there without skipping a record. The old version
is dropped only after the swap, after a grace period for in-flight readers and batches.

**Point in time.** With stop offsets (`replay_log.resolve_stops`), one round builds up to
there and the version is left built, not swapped in (that would take readers back in time).
If anything fails before the swap, the unfinished version is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, func, inspect, select

from projections.policy import Policy
from projections.records import SourceRecord, TopicPartition
from projections.store import (
    ProjectionStore,
    building_version,
    live_version,
    set_building_version,
    set_live_version,
)
from projections.store import positions as stored
from projections.store.meta import META, POSITIONS
from schemas.codec import AvroCodec
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.pipeline import Pipeline
from streams.progress import Progress
from streams.replay_log import LogReader, Offsets, resolve_stops

__all__ = [
    "ReplayContext", "ReplayError", "ReplayResult", "allocate_version", "build_version",
    "drop_version", "known_versions", "replay_projection", "swap_ready", "try_swap",
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
    with engine.begin() as conn:
        live = live_version(conn, projection)
        if live is not None and live != version:
            locked = conn.execute(
                select(POSITIONS.c.topic, POSITIONS.c.partition, POSITIONS.c.next_offset)
                .where(POSITIONS.c.projection == projection, POSITIONS.c.version == live)
                .order_by(POSITIONS.c.topic, POSITIONS.c.partition).with_for_update())
            live_positions = {(r.topic, r.partition): r.next_offset for r in locked}
            if not swap_ready(stored.positions(conn, projection, version), live_positions):
                return False, live
        set_live_version(conn, projection, version)
    return True, live


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
    max_records: int = 5000


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
    """Fills one pinned version of one projection, round by round."""

    def __init__(self, ctx: ReplayContext, reader: LogReader, result: ReplayResult,
                 progress: Progress) -> None:
        self.reader, self.result, self.progress = reader, result, progress
        store = ProjectionStore(ctx.build_engine, result.projection, result.version)
        store.create()
        self.pipeline = Pipeline(
            ctx.build_engine, ctx.codec, {result.projection: store},
            {result.projection: ctx.policies[result.projection]},
            max_record_bytes=ctx.max_record_bytes, follow_live=False)
        self.pipeline.claim(reader.partitions)
        self.total = 0

    async def positions(self) -> Offsets:
        return (await asyncio.to_thread(self.pipeline.positions))[self.result.projection]

    async def round(self, stops: Mapping[TopicPartition, int] | None, phase: str = "") -> int:
        """Catalogue to its end (or stop), then dossiers to theirs; the records read."""
        reader = self.reader
        if stops is None:  # the dossiers' ends first: see the module docstring
            dossier_ends = await reader.end_offsets(reader.of(DOSSIER_TOPIC))
            catalogue_ends = await reader.end_offsets(reader.of(CATALOGUE_TOPIC))
        else:
            dossier_ends = catalogue_ends = dict(stops)
        start = await self.positions()
        before = self.result.events
        for topic, ends in ((CATALOGUE_TOPIC, catalogue_ends), (DOSSIER_TOPIC, dossier_ends)):
            stop = {tp: ends[tp] for tp in reader.of(topic)}
            self.total += sum(max(0, end - start.get(tp, 0)) for tp, end in stop.items())
            label = phase or ("catalogue" if topic == CATALOGUE_TOPIC else "dossiers")
            await reader.read(start, stop, functools.partial(self._apply, phase=label))
        return self.result.events - before

    async def _apply(self, records: list[SourceRecord], *, phase: str) -> None:
        await self.pipeline.process(records, catalogue_caught_up=True, dlq=None)
        self.result.events += len(records)
        self.progress.update(phase, self.result.events, self.total)


async def build_version(
    ctx: ReplayContext, projection: str, progress: Progress, *,
    stops: Mapping[TopicPartition, int] | None = None,
    to_offsets: Mapping[TopicPartition, int] | None = None, to_time_ms: int | None = None,
    building: bool = True, swap: bool = False, grace_s: float = 10.0, keep_old: bool = False,
) -> ReplayResult:
    """Build a new version of `projection`. Following the head (no `stops`, `to_offsets`
    or `to_time_ms`), `swap` it in as the module docstring says; else stop there and leave
    it built. On any failure before the swap the unfinished version is dropped."""
    started = time.perf_counter()
    async with LogReader(ctx.bootstrap, max_records=ctx.max_records) as reader:
        point_in_time = stops is not None or bool(to_offsets) or to_time_ms is not None
        if point_in_time and stops is None:
            at = await reader.offsets_at(to_time_ms) if to_time_ms is not None else None
            ends = await reader.end_offsets(reader.partitions)
            stops = resolve_stops(ends, to_offsets or {}, at)
        version = await asyncio.to_thread(
            allocate_version, ctx.engine, projection, reader.partitions, building=building)
        result = ReplayResult(projection, version)
        try:
            builder = await asyncio.to_thread(_Builder, ctx, reader, result, progress)
            if stops is not None:
                await builder.round({tp: stops.get(tp, 0) for tp in reader.partitions})
            else:
                while await builder.round(None, "catch-up" if result.events else "") \
                        >= ctx.max_records:
                    pass
                while swap:
                    live = await asyncio.to_thread(_live_positions, ctx.engine, projection)
                    if swap_ready(await builder.positions(), live):
                        result.swapped, result.old_version = await asyncio.to_thread(
                            try_swap, ctx.engine, projection, version)
                        if result.swapped:
                            break
                    await builder.round(None, "catch-up")
            result.positions = await builder.positions()
        except BaseException:
            if not result.swapped:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(drop_version, ctx.engine, projection, version)
            raise
    if building and not result.swapped:
        with ctx.engine.begin() as conn:
            set_building_version(conn, projection, None)
    result.seconds = time.perf_counter() - started
    if result.swapped and result.old_version is not None and not keep_old:
        await asyncio.sleep(grace_s)
        await asyncio.to_thread(drop_version, ctx.engine, projection, result.old_version)
        result.dropped_old = True
    return result


async def replay_projection(ctx: ReplayContext, projection: str, progress: Progress, *,
                            grace_s: float = 10.0, keep_old: bool = False) -> ReplayResult:
    """Rebuild `projection` from the log and swap it in (see the module docstring)."""
    return await build_version(ctx, projection, progress, swap=True, grace_s=grace_s,
                               keep_old=keep_old)


def _live_positions(engine: Engine, projection: str) -> Offsets:
    with engine.connect() as conn:
        live = live_version(conn, projection)
        return {} if live is None else stored.positions(conn, projection, live)

