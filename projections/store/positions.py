"""Consumed positions and the generation fence (`projection_positions`).

A worker that is assigned partitions calls `claim` (in its own short transaction): the
partitions get position rows (at offset 0 the first time) and a new generation, greater than
any generation this projection version has handed out, which the worker keeps. Each batch
then goes through `check` (before anything is written) and `advance` (after): both compare
the stored generation with the worker's, so a zombie — a worker whose partitions were claimed
again since — raises `FencedError` and its transaction rolls back.

Positions only move forward. A batch whose positions all equal the stored ones was already
written: `check` says so and the writer does nothing (a repeated position is a no-op).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, Connection, and_, case, or_, select

from projections.records import TopicPartition
from projections.store._dialect import upsert_insert
from projections.store.errors import FencedError, PositionRegressedError
from projections.store.meta import POSITIONS

__all__ = ["advance", "check", "claim", "positions"]

P = POSITIONS.c


def _version(projection: str, version: int) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (P.projection == projection, P.version == version)


def _partitions(wanted: Iterable[TopicPartition]) -> ColumnElement[bool]:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for topic, partition in sorted(wanted):
        by_topic[topic].append(partition)
    return or_(*(and_(P.topic == t, P.partition.in_(ps)) for t, ps in by_topic.items()))


def claim(
    conn: Connection, projection: str, version: int, partitions: Iterable[TopicPartition]
) -> int:
    """Give `partitions` a new generation and return it (creating rows at offset 0).

    The generation is greater than any this projection version has handed out, so whoever
    held these partitions before is fenced from now on. Claim in a transaction of its own,
    on start and on every partition assignment, then seek to `positions`.
    """
    wanted = sorted(set(partitions))
    if wanted:
        stmt = upsert_insert(conn, POSITIONS).on_conflict_do_nothing()
        conn.execute(
            stmt,
            [
                {"projection": projection, "version": version, "topic": t, "partition": p,
                 "next_offset": 0, "generation": 0}
                for t, p in wanted
            ],
        )
    # Lock this version's rows (PostgreSQL; SQLite holds the write lock already), in the
    # same order as `check`, so two workers claiming at once are serialised: the second one
    # sees the first one's generation and goes above it.
    locked = conn.execute(
        select(P.generation)
        .where(*_version(projection, version))
        .order_by(P.topic, P.partition)
        .with_for_update()
    ).scalars().all()
    generation = max(locked, default=0) + 1
    if wanted:
        conn.execute(
            POSITIONS.update()
            .where(*_version(projection, version), _partitions(wanted))
            .values(generation=generation)
        )
    return generation


def positions(conn: Connection, projection: str, version: int) -> dict[TopicPartition, int]:
    """The next offset to read of every partition this projection version has claimed."""
    rows = conn.execute(
        select(P.topic, P.partition, P.next_offset).where(*_version(projection, version))
    )
    return {(r.topic, r.partition): r.next_offset for r in rows}


def check(
    conn: Connection,
    projection: str,
    version: int,
    wanted: Mapping[TopicPartition, int],
    generation: int,
) -> bool:
    """Whether a batch reaching `wanted` is new (True) or was already written (False).

    Raises `FencedError` if a partition is not held by `generation` and
    `PositionRegressedError` if a position would go backwards.
    """
    # Lock only this batch's partitions (other workers write theirs meanwhile), in a fixed
    # order so that two workers overlapping during a rebalance cannot deadlock.
    rows = conn.execute(
        select(P.topic, P.partition, P.next_offset, P.generation)
        .where(*_version(projection, version), _partitions(wanted))
        .order_by(P.topic, P.partition)
        .with_for_update()
    )
    stored = {(r.topic, r.partition): (r.next_offset, r.generation) for r in rows}
    advances = False
    for tp, offset in wanted.items():
        if tp not in stored:
            raise FencedError(f"{projection} v{version}: partition {tp} was never claimed")
        current, owner = stored[tp]
        if owner != generation:
            raise FencedError(
                f"{projection} v{version}: partition {tp} belongs to generation {owner}, "
                f"not {generation}"
            )
        if offset < current:
            raise PositionRegressedError(
                f"{projection} v{version}: partition {tp} is at {current}, batch ends at {offset}"
            )
        advances = advances or offset > current
    return advances


def advance(
    conn: Connection,
    projection: str,
    version: int,
    wanted: Mapping[TopicPartition, int],
    generation: int,
) -> None:
    """Store `wanted`, but only where `generation` still owns the partition.

    One guarded UPDATE for all partitions — the fence itself (`check` gives the early,
    readable error): unless it moves every partition, `FencedError`.
    """
    items = sorted(wanted.items())
    if not items:
        return
    moves = [and_(P.topic == t, P.partition == p, P.next_offset <= o) for (t, p), o in items]
    offsets = case(*((and_(P.topic == t, P.partition == p), o) for (t, p), o in items),
                   else_=P.next_offset)
    result = conn.execute(
        POSITIONS.update()
        .where(*_version(projection, version), P.generation == generation, or_(*moves))
        .values(next_offset=offsets)
    )
    if result.rowcount != len(items):
        raise FencedError(
            f"{projection} v{version}: partitions {[tp for tp, _ in items]} are not all held by "
            f"generation {generation} at or before offsets {[o for _, o in items]}"
        )
