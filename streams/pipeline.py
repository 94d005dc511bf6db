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

A replay builds versions nobody else writes: with `exclusive=True` the pipeline keeps their
aggregates decoded in memory between batches (`projections.store.cache.StateCache`, updated
only after a commit), reads the store only for aggregates the cache may not know, and skips
the optimistic-concurrency re-read at commit. What it writes is exactly what the shared
path writes.
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

from projections.batch import (
    aggregate_key,
    apply_batch_shared,
    apply_batch_states,
    shared_lead,
    snapshot_keys,
)
from projections.policy import Policy
from projections.records import (
    AggregateKey,
    BatchResult,
    Decoded,
    Rejection,
    Snapshot,
    SourceRecord,
    TopicPartition,
)
from projections.reference import catalogue_from_snapshots
from projections.sequencing import MemoryCatalogue
from projections.state import AggregateState
from projections.store import ProjectionStore, live_version
from projections.store.cache import DEFAULT_MAX_AGGREGATES, StateCache
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
    "catalogue_references",
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
        self.states: dict[str, dict[AggregateKey, AggregateState]] = {}
        """The changed states (kept by an exclusive pipeline's caches after the commit)."""
        self.new: dict[str, set[AggregateKey]] = {}
        """Aggregates without a stored state when loaded: they own no rows yet."""


@dataclass
class _Inputs:
    """What an exclusive pipeline folds one projection's batch from."""

    fresh: list[Decoded]
    keys: set[AggregateKey]
    snapshots: dict[AggregateKey, Snapshot]
    states: dict[AggregateKey, AggregateState]
    catalogue: MemoryCatalogue


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


def catalogue_references(events: Iterable[Event]) -> set[AggregateKey]:
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
        exclusive: bool = False,
        max_cached: int = DEFAULT_MAX_AGGREGATES,
    ) -> None:
        """`follow_live`: the stores are the live versions and must follow a replay's swap
        (the worker); False pins the given versions (a replay building a new one).
        `exclusive` (pinned only): nobody else writes these versions, so their aggregates
        are kept decoded in memory, at most `max_cached` non-catalogue ones per projection
        (see the module docstring)."""
        if exclusive and follow_live:
            raise ValueError("an exclusive pipeline must pin its versions (follow_live=False)")
        self.follow_live = follow_live
        self.exclusive = exclusive
        self.max_cached = max_cached
        self._caches: dict[str, StateCache] = {}
        self._lead = shared_lead(policies) if exclusive and len(stores) > 1 else None
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
                if self.exclusive:
                    self._caches[name] = StateCache(complete=store.is_empty(conn),
                                                    max_aggregates=self.max_cached)
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
            if self.exclusive:
                self._plan_cached(conn, decoded, catalogue_caught_up, plans)
                return plans
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
                plans.new[name] = {
                    k for k in keys if k not in snapshots or snapshots[k].state_json is None
                }
                catalogue = self._catalogue(conn, store, fresh, catalogue_caught_up)
                plans[name], plans.states[name] = apply_batch_states(
                    fresh,
                    snapshots,
                    catalogue,
                    name,
                    self.policies[name],
                    max_record_bytes=self.max_record_bytes,
                )
        return plans

    def _plan_cached(
        self, conn: Connection, decoded: Sequence[Decoded], caught_up: bool, plans: Plans
    ) -> None:
        """`plan` of an exclusive pipeline: heads and states from the caches; when every
        projection stands at the same positions and heads, each record is folded once
        (`apply_batch_shared`)."""
        inputs: dict[str, _Inputs] = {}
        seen: tuple[dict[TopicPartition, int], list[Decoded], set[AggregateKey],
                    set[AggregateKey]] | None = None
        for name in self.stores:
            if seen is None or seen[0] != self._positions[name]:  # else: the same records
                fresh = self._unseen(name, decoded)
                events = [d.event for d in fresh if d.event is not None]
                seen = (self._positions[name], fresh, {aggregate_key(e) for e in events},
                        catalogue_references(events))
            _, fresh, keys, refs = seen
            if fresh:
                inputs[name] = _Inputs(fresh, keys, *self._cached(conn, name, keys, refs,
                                                                  caught_up))
                plans.new[name] = {k for k in keys if k not in inputs[name].states}
        lead = self._lead
        if lead is not None and len(inputs) == len(self.stores) and all(
            self._positions[name] == self._positions[lead]
            and got.snapshots == inputs[lead].snapshots
            for name, got in inputs.items()
        ):
            first = inputs[lead]
            shared = apply_batch_shared(
                first.fresh, first.snapshots, first.catalogue, self.policies,
                {name: got.states for name, got in inputs.items()},
                lead=lead, max_record_bytes=self.max_record_bytes)
            for name, (result, changed) in shared.items():
                plans[name], plans.states[name] = result, changed
            return
        for name, got in inputs.items():
            plans[name], plans.states[name] = apply_batch_states(
                got.fresh, got.snapshots, got.catalogue, name, self.policies[name],
                max_record_bytes=self.max_record_bytes, states=got.states)

    def _cached(
        self,
        conn: Connection,
        name: str,
        keys: set[AggregateKey],
        refs: set[AggregateKey],
        caught_up: bool,
    ) -> tuple[dict[AggregateKey, Snapshot], dict[AggregateKey, AggregateState],
               MemoryCatalogue]:
        """An exclusive pipeline's heads, states and catalogue for a batch's aggregates
        `keys` and the catalogue aggregates they refer to, `refs`, from its cache (loading
        from the store only what the cache may not know)."""
        cache = self._caches[name]
        unknown = cache.unknown(keys | refs)
        if unknown:
            cache.add(self.stores[name].load_snapshots(conn, unknown))
        snapshots, states = cache.get(keys)
        return snapshots, states, cache.catalogue(caught_up)

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
        stored: list[str] = []
        with self.engine.begin() as conn:
            for name, result in plans.items():
                if not self.exclusive:
                    self._check_unchanged(conn, name, result, plans.loaded.get(name, {}))
                generation = self._generations.get(name)
                if generation is None:
                    raise RuntimeError(f"{name}: write before claiming any partition")
                if self.stores[name].write(conn, result, generation,
                                           new=plans.new.get(name, ())):
                    stored.append(name)
                    written = True
            if self.follow_live:
                # After the writes, which lock our position rows: a replay's swap locks them
                # too, so on PostgreSQL it either waits for this commit (and sees it) or has
                # committed before this read (and the batch rolls back and is retried there).
                self._check_live_versions(conn)
        for name, result in plans.items():
            self._positions[name].update(result.positions)
        if self.exclusive:
            for name in stored:
                self._caches[name].commit(plans[name], plans.states.get(name, {}))
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
        keys = catalogue_references(d.event for d in decoded if d.event is not None)
        catalogue = catalogue_from_snapshots(store.load_snapshots(conn, keys))
        return dataclasses.replace(catalogue, caught_up=caught_up)
