"""The projection pipeline both drivers share: decode → pure fold → DLQ → one SQL transaction.

A driver (the faust agents in `streams.agents`, the replay loop) hands a batch of
`SourceRecord`s to `Pipeline.process`. For every projection it:

1. skips records below that projection's stored position (redeliveries);
2. loads the snapshots the batch touches, and the catalogue states it refers to;
3. calls the pure `projections.batch.apply_batch`;

then sends the rejections to the DLQ (and waits for the broker), and finally writes every
projection's result **in one transaction**, fenced by the generation it claimed. A crash at
any point leaves the database at the last committed batch; the drivers always resume from
the stored positions, never from Kafka's committed offsets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from projections.batch import apply_batch, snapshot_keys
from projections.policy import Policy
from projections.records import (
    AggregateKey,
    BatchResult,
    Decoded,
    Rejection,
    SourceRecord,
    TopicPartition,
)
from projections.reference import catalogue_from_snapshots
from projections.sequencing import MemoryCatalogue
from projections.store import ProjectionStore, live_version
from projections.store.positions import positions as stored_positions
from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.events import (
    CATALOGUE_TOPIC,
    DossierForwarded,
    DossierReceived,
    DossierSubmitted,
    Event,
)
from streams.dlq import unique_rejections

__all__ = [
    "BatchOutcome",
    "ConcurrentChangeError",
    "Pipeline",
    "RejectionSink",
    "VersionChangedError",
    "decode_records",
]


class VersionChangedError(Exception):
    """A replay swapped another version of a projection in: reload the stores and retry."""


class ConcurrentChangeError(Exception):
    """An aggregate the batch touches changed since it was loaded (e.g. `dlq release`):
    fold the batch again."""


log = logging.getLogger("onestop.pipeline")


Head = tuple[int, int | None]
"""(last_seq, parked_from_seq) of an aggregate as a batch loaded it."""


class Plans(dict[str, BatchResult]):
    """One batch folded for every projection, with the heads each fold started from (so
    two agents folding concurrently each check their own expectations at commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: dict[str, dict[AggregateKey, Head]] = {}


class RejectionSink(Protocol):
    async def send(self, rejections: Sequence[Rejection]) -> None: ...


@dataclass
class BatchOutcome:
    """What one batch did, summed over the projections (counters are per projection)."""

    counters: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    written: bool = False


def decode_records(codec: AvroCodec, records: Sequence[SourceRecord]) -> list[Decoded]:
    """Decode each record; a record that cannot be decoded carries its error class instead."""
    decoded: list[Decoded] = []
    for record in records:
        try:
            event = codec.decode(record.value)
        except DecodeError as exc:
            decoded.append(Decoded(record, None, exc.error_class, str(exc)))
            continue
        decoded.append(Decoded(record, event))
    return decoded


def _catalogue_references(events: Iterable[Event]) -> set[AggregateKey]:
    """The catalogue aggregates (procedures, agencies) dossier events refer to."""
    keys: set[AggregateKey] = set()
    for event in events:
        if isinstance(event, DossierSubmitted):
            keys.add((CATALOGUE_TOPIC, event.procedure_code))
            keys.add((CATALOGUE_TOPIC, event.agency_code))
        elif isinstance(event, DossierReceived):
            keys.add((CATALOGUE_TOPIC, event.handling_agency_code))
        elif isinstance(event, DossierForwarded):
            keys.add((CATALOGUE_TOPIC, event.to_agency_code))
    return keys


class Pipeline:
    """Applies batches to a set of projection stores (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        codec: AvroCodec,
        stores: Mapping[str, ProjectionStore],
        policies: Mapping[str, Policy],
        *,
        max_record_bytes: int,
        follow_live: bool = True,
    ) -> None:
        """`follow_live`: the stores are the live versions and must follow a replay's swap
        (the worker); False pins the given versions (a replay building a new one)."""
        self.follow_live = follow_live
        self.engine = engine
        self.codec = codec
        self.stores = dict(stores)
        self.policies = dict(policies)
        self.max_record_bytes = max_record_bytes
        self._generations: dict[str, int] = {}
        self._positions: dict[str, dict[TopicPartition, int]] = {name: {} for name in stores}
        self._claimed: set[TopicPartition] = set()

    # --- ownership ------------------------------------------------------------------------

    def claim(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Take the partitions over in every store (fencing older owners) and return the
        offset to seek to: the lowest stored position among the projections."""
        tps = sorted(set(partitions))
        self._claimed = set(tps)
        with self.engine.begin() as conn:
            for name, store in self.stores.items():
                self._generations[name] = store.claim(conn, tps)
                self._positions[name] = store.positions(conn)
        return {tp: min(self._positions[name].get(tp, 0) for name in self.stores) for tp in tps}

    def reload_live_versions(self) -> list[str]:
        """Switch to the versions now live (after a replay's swap) and claim our partitions
        there; returns the projections that changed. The swapped-in version is at least as
        far as the old one was (the replay guarantees it), so no record is skipped."""
        changed: list[str] = []
        with self.engine.begin() as conn:
            for name, store in list(self.stores.items()):
                live = live_version(conn, name)
                if live is None or live == store.version:
                    continue
                fresh = ProjectionStore(self.engine, name, live)
                self.stores[name] = fresh
                self._generations[name] = fresh.claim(conn, sorted(self._claimed))
                self._positions[name] = fresh.positions(conn)
                changed.append(name)
        return changed

    def _check_unchanged(
        self,
        conn: Connection,
        name: str,
        result: BatchResult,
        expected: Mapping[AggregateKey, Head],
    ) -> None:
        """Optimistic concurrency: the aggregates this batch rewrites, or parks records of,
        are as it loaded them (a record parked behind an aggregate released meanwhile would
        otherwise stay parked for good)."""
        touched = set(result.snapshots) | {p.aggregate for p in result.parked}
        keys = sorted(k for k in touched if k in expected)
        current = self.stores[name].load_snapshots(conn, keys, for_update=True, with_state=False)
        for key in keys:
            now = (
                (current[key].last_seq, current[key].parked_from_seq)
                if key in current
                else (0, None)
            )
            if now != expected[key]:
                raise ConcurrentChangeError(
                    f"{name}: aggregate {key[1]} changed since it was loaded"
                )

    def _check_live_versions(self, conn: Connection) -> None:
        for name, store in self.stores.items():
            live = live_version(conn, name)
            if live is not None and live != store.version:
                raise VersionChangedError(
                    f"{name}: v{store.version} is no longer live (v{live} is)"
                )

    def positions(self) -> dict[str, dict[TopicPartition, int]]:
        """The stored next offsets per projection, as of now — of the live versions when
        following them (a swapped-in version before the next batch reloads it)."""
        with self.engine.connect() as conn:
            return {
                name: stored_positions(
                    conn, name, (self.follow_live and live_version(conn, name)) or store.version
                )
                for name, store in self.stores.items()
            }

    # --- the batch ------------------------------------------------------------------------

    def plan(self, decoded: Sequence[Decoded], *, catalogue_caught_up: bool) -> Plans:
        """Fold the batch for every projection (reads only; nothing is written)."""
        plans = Plans()
        with self.engine.connect() as conn:
            for name, store in self.stores.items():
                fresh = self._unseen(name, decoded)
                if not fresh:
                    continue
                keys = snapshot_keys(fresh)
                snapshots = store.load_snapshots(conn, keys)
                plans.loaded[name] = {
                    k: (snapshots[k].last_seq, snapshots[k].parked_from_seq)
                    if k in snapshots
                    else (0, None)
                    for k in keys
                }
                catalogue = self._catalogue(conn, store, fresh, catalogue_caught_up)
                result = apply_batch(
                    fresh,
                    snapshots,
                    catalogue,
                    name,
                    self.policies[name],
                    max_record_bytes=self.max_record_bytes,
                )
                plans[name] = result
        return plans

    def commit(self, plans: Plans, planned: Mapping[str, int] | None = None) -> bool:
        """Write every projection's result in one transaction (fenced), checking the heads
        `plans` was folded on. `planned`: the store versions the plans were folded against;
        if a concurrent batch has reloaded a swapped-in version since,
        `ConcurrentChangeError` (fold again)."""
        if not plans:
            return False
        stale = [n for n in plans if planned is not None and planned[n] != self.stores[n].version]
        if stale:
            raise ConcurrentChangeError(f"{stale}: a replay swapped a version in meanwhile")
        written = False
        with self.engine.begin() as conn:
            for name, result in plans.items():
                self._check_unchanged(conn, name, result, plans.loaded.get(name, {}))
                generation = self._generations.get(name)
                if generation is None:
                    raise RuntimeError(f"{name}: write before claiming any partition")
                written = self.stores[name].write(conn, result, generation) or written
            if self.follow_live:
                # After the writes, which lock our position rows: a replay's swap locks them
                # too, so on PostgreSQL it either waits for this commit (and sees it) or has
                # committed before this read (and the batch rolls back and is retried there).
                self._check_live_versions(conn)
        for name, result in plans.items():
            self._positions[name].update(result.positions)
        return written

    async def process(
        self,
        records: Sequence[SourceRecord],
        *,
        catalogue_caught_up: bool,
        dlq: RejectionSink | None,
    ) -> BatchOutcome:
        """Decode, fold, send rejections to the DLQ, then commit — one batch."""
        await self.codec.prefetch(r.value for r in records)
        decoded = decode_records(self.codec, records)
        for attempt in range(3):
            try:
                return await self._apply(decoded, catalogue_caught_up, dlq)
            except ConcurrentChangeError as exc:
                if attempt == 2:
                    raise
                log.info("%s; folding the batch again", exc)
                continue
            except (VersionChangedError, DBAPIError) as exc:
                if not self.follow_live:
                    raise
                changed = await asyncio.to_thread(self.reload_live_versions)
                if not changed or attempt == 2:
                    raise
                log.info(
                    "projections %s swapped by a replay (%s); retrying the batch", changed, exc
                )
        raise AssertionError("unreachable")

    async def _apply(
        self, decoded: list[Decoded], catalogue_caught_up: bool, dlq: RejectionSink | None
    ) -> BatchOutcome:
        planned = {name: store.version for name, store in self.stores.items()}
        plans = await asyncio.to_thread(self.plan, decoded, catalogue_caught_up=catalogue_caught_up)
        outcome = BatchOutcome()
        for name, result in plans.items():
            for counter, value in result.counters.items():
                outcome.counters[f"{name}.{counter}"] += value
        outcome.rejections = unique_rejections(
            r for result in plans.values() for r in result.rejections
        )
        if dlq is not None and outcome.rejections:
            await dlq.send(outcome.rejections)
        outcome.written = await asyncio.to_thread(self.commit, plans, planned)
        return outcome

    # --- helpers --------------------------------------------------------------------------

    def _unseen(self, name: str, decoded: Sequence[Decoded]) -> list[Decoded]:
        positions = self._positions[name]
        return [
            d
            for d in decoded
            if d.source.offset >= positions.get((d.source.topic, d.source.partition), 0)
        ]

    @staticmethod
    def _catalogue(
        conn: Connection,
        store: ProjectionStore,
        decoded: Sequence[Decoded],
        caught_up: bool,
    ) -> MemoryCatalogue:
        keys = _catalogue_references(d.event for d in decoded if d.event is not None)
        catalogue = catalogue_from_snapshots(store.load_snapshots(conn, keys))
        return dataclasses.replace(catalogue, caught_up=caught_up)
