"""`StateCache`: one projection version's aggregates kept decoded in memory by its only writer.

A replay builds a fresh, pinned version that nobody else writes, so what it committed is
exactly what it holds: reading its own snapshots back and decoding their JSON every batch
(for a procedure with years of application history, most of a batch's cost) is wasted
work. The cache keeps each aggregate's head (`last_seq`, `parked_from_seq`) and its decoded
state as of the last *committed* batch:

- `get(keys)` → the cached heads and states of `keys` (a `Snapshot` without `state_json`,
  and the state object); a key it does not hold is a new aggregate, provided that
- `unknown(keys)` is empty: the keys the cache may not know about, which the driver must
  load from the store and `add` first. A cache that started from an empty version knows
  every aggregate until it evicts one; after that, keys it does not hold are unknown.
- `commit(result, states)` — after the transaction committed — records the batch's new
  heads and states.
- `catalogue(caught_up)`: the procedures and agencies it holds, as a `MemoryCatalogue`.
  Catalogue aggregates are never evicted (a province has a few thousand); other aggregates
  (dossiers) are evicted least recently used beyond `max_aggregates` at each `commit`,
  which bounds memory.

Never use it where another process may write the same version (the live worker: `dlq
release`, a replay's swap): there the store is the only truth and the driver must re-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice

from projections.records import AggregateKey, BatchResult, Snapshot
from projections.sequencing import MemoryCatalogue
from projections.state import AgencyState, AggregateState, ProcedureState, state_from_json
from schemas.events import CATALOGUE_TOPIC

__all__ = ["DEFAULT_MAX_AGGREGATES", "StateCache"]

DEFAULT_MAX_AGGREGATES = 200_000
"""Non-catalogue aggregates a cache keeps (per projection) before evicting the oldest."""


@dataclass(slots=True)
class _Entry:
    last_seq: int
    parked_from_seq: int | None
    state: AggregateState | None


class StateCache:
    """The decoded aggregates of one projection version (see the module docstring)."""

    def __init__(self, *, complete: bool, max_aggregates: int = DEFAULT_MAX_AGGREGATES) -> None:
        """`complete`: the version holds nothing yet (every aggregate is new)."""
        if max_aggregates < 1:
            raise ValueError(f"max_aggregates must be >= 1, got {max_aggregates}")
        self.complete_catalogue = complete  # catalogue aggregates are never evicted
        self.complete = complete
        self.max_aggregates = max_aggregates
        self._catalogue: dict[AggregateKey, _Entry] = {}
        self._others: dict[AggregateKey, _Entry] = {}  # insertion order = least recent first
        self._procedures: dict[str, ProcedureState] = {}
        self._agencies: dict[str, AgencyState] = {}

    def __len__(self) -> int:
        return len(self._catalogue) + len(self._others)

    def __contains__(self, key: object) -> bool:
        return key in self._catalogue or key in self._others

    def _entry(self, key: AggregateKey) -> _Entry | None:
        return (self._catalogue if key[0] == CATALOGUE_TOPIC else self._others).get(key)

    def unknown(self, keys: Iterable[AggregateKey]) -> list[AggregateKey]:
        """The keys the cache neither holds nor knows to be new (load them, then `add`)."""
        return sorted(
            k for k in keys
            if k not in self and not (
                self.complete_catalogue if k[0] == CATALOGUE_TOPIC else self.complete)
        )

    def get(
        self, keys: Iterable[AggregateKey]
    ) -> tuple[dict[AggregateKey, Snapshot], dict[AggregateKey, AggregateState]]:
        """The held aggregates among `keys`: snapshots without `state_json`, and states."""
        snapshots: dict[AggregateKey, Snapshot] = {}
        states: dict[AggregateKey, AggregateState] = {}
        for key in keys:
            entry = self._entry(key)
            if entry is None:
                continue
            snapshots[key] = Snapshot(key, entry.last_seq, entry.parked_from_seq, None)
            if entry.state is not None:
                states[key] = entry.state
        return snapshots, states

    def add(self, snapshots: Mapping[AggregateKey, Snapshot]) -> None:
        """Hold aggregates read from the store (their JSON decoded once, here). Nothing is
        evicted before the next `commit`: the batch they were loaded for needs them."""
        for key, snap in snapshots.items():
            state = state_from_json(snap.state_json) if snap.state_json else None
            self._put(key, _Entry(snap.last_seq, snap.parked_from_seq, state))

    def commit(self, result: BatchResult, states: Mapping[AggregateKey, AggregateState]) -> None:
        """Record a committed batch: its new heads, and `states` (those that changed)."""
        for key, snap in result.snapshots.items():
            old = self._entry(key)
            state = states.get(key, old.state if old is not None else None)
            if state is None and snap.state_json is not None:
                state = state_from_json(snap.state_json)
            self._put(key, _Entry(snap.last_seq, snap.parked_from_seq, state))
        self._evict()

    def catalogue(self, caught_up: bool) -> MemoryCatalogue:
        """The procedures and agencies held, as a catalogue lookup (shared, not copied:
        use it before the next `commit`)."""
        return MemoryCatalogue(self._procedures, self._agencies, caught_up=caught_up)

    def _put(self, key: AggregateKey, entry: _Entry) -> None:
        if key[0] == CATALOGUE_TOPIC:
            self._catalogue[key] = entry
            if isinstance(entry.state, ProcedureState):
                self._procedures[key[1]] = entry.state
            elif isinstance(entry.state, AgencyState):
                self._agencies[key[1]] = entry.state
            return
        self._others.pop(key, None)  # re-inserted last: the most recently used
        self._others[key] = entry

    def _evict(self) -> None:
        excess = len(self._others) - self.max_aggregates
        if excess <= 0:
            return
        for key in list(islice(self._others, excess)):
            del self._others[key]
        self.complete = False
