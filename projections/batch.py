"""`apply_batch`: fold a batch of decoded records — the one function both drivers call.

For each record, in order:

- a value larger than `max_record_bytes` → `Rejection("oversize_record")`;
- a record that could not be decoded → `Rejection(decoded.error_class)`;
- otherwise `projections.sequencing.decide` on the aggregate's working head, then
  `Apply` → fold; `Duplicate` → counted; `Parked` → listed in `parked`;
  `Reject` → a `Rejection` *and* the record heads the aggregate's `parked` list (so that
  `dlq release` finds everything it must re-apply, in `aggregate_seq` order, in one table);
  `Deferred` → the record and every later record **of its partition** are left for a later
  batch: `positions` for that partition stop at the deferred record's offset (other
  partitions keep flowing). The driver re-reads from `positions` once the catalogue has
  caught up; `counters["deferred"]` counts the records left.

Catalogue records applied earlier in the same batch are visible to the reference checks of
later dossier records. Each touched aggregate's state is decoded from JSON at most once and
serialised and rendered at most once per batch. A driver that keeps the decoded states in
memory between batches (the replay) calls `apply_batch_states` instead, which takes them and
returns the changed ones; one building several projections from the same heads calls
`apply_batch_shared`, which folds each record once (under the `lead` projection's policy) and
derives the other projections' states from it (`projections.fold.derive_state`) — the same
results as one `apply_batch` per projection. Aggregates are keyed by `aggregate_key`:
(the event type's topic, `aggregate_id`) — not the physical topic, so renamed or prefixed
topics keep their aggregates; drivers load the snapshots named by `snapshot_keys(records)`.

Counters: `records`, `applied`, `duplicates`, `parked` (held behind a rejection, not
counting the rejected record), `rejected`, `rejected.<error_class>`, `deferred`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from projections.fold import can_derive, derive_state, fold
from projections.policy import Policy
from projections.records import (
    AggregateKey,
    BatchResult,
    Decoded,
    ParkedRecord,
    Rejection,
    Rows,
    Snapshot,
    TopicPartition,
)
from projections.sequencing import Apply, CatalogueLookup, Deferred, Duplicate, Head, Reject, decide
from projections.state import AgencyState, AggregateState, ProcedureState, state_from_json
from projections.views import onestop, portal, stats
from schemas.events import CATALOGUE_TOPIC, Event

__all__ = [
    "OVERSIZE_RECORD", "RENDERERS", "aggregate_key", "apply_batch", "apply_batch_shared",
    "apply_batch_states", "shared_lead", "snapshot_keys",
]

OVERSIZE_RECORD: Final = "oversize_record"
DECODE_ERROR: Final = "decode_error"

RENDERERS: Final[dict[str, Callable[[AggregateState], Rows]]] = {
    "portal": portal.render,
    "onestop": onestop.render,
    "stats": stats.render,
}


def aggregate_key(event: Event) -> AggregateKey:
    """The key of the aggregate `event` belongs to: (its type's topic, `aggregate_id`)."""
    return (event.TOPIC, event.aggregate_id)


def snapshot_keys(records: Iterable[Decoded]) -> set[AggregateKey]:
    """The aggregates whose snapshots `apply_batch` needs for `records`."""
    return {aggregate_key(d.event) for d in records if d.event is not None}


class _Work:
    """An aggregate's head while a batch runs (mutable, private to one call)."""

    __slots__ = ("changed", "last_seq", "parked_from_seq", "snapshot", "state", "state_changed")

    def __init__(self, snapshot: Snapshot | None, state: AggregateState | None = None) -> None:
        self.snapshot = snapshot
        self.last_seq = snapshot.last_seq if snapshot else 0
        self.parked_from_seq = snapshot.parked_from_seq if snapshot else None
        if state is None:
            text = snapshot.state_json if snapshot else None
            state = state_from_json(text) if text else None
        self.state: AggregateState | None = state
        self.changed = False
        self.state_changed = False

    def state_json(self) -> str | None:
        """The state's JSON for the snapshot: the stored text while the state is unchanged."""
        if not self.state_changed and self.snapshot is not None \
                and self.snapshot.state_json is not None:
            return self.snapshot.state_json
        return None if self.state is None else self.state.to_json()


class _BatchCatalogue:
    """The caller's catalogue, overlaid with catalogue states changed earlier in this batch."""

    __slots__ = ("_base", "_work", "caught_up")

    def __init__(self, base: CatalogueLookup, work: dict[AggregateKey, _Work]) -> None:
        self._base = base
        self._work = work
        self.caught_up = base.caught_up

    def procedure(self, code: str) -> ProcedureState | None:
        w = self._work.get((CATALOGUE_TOPIC, code))
        if w is not None and isinstance(w.state, ProcedureState):
            return w.state
        return self._base.procedure(code)

    def agency(self, code: str) -> AgencyState | None:
        w = self._work.get((CATALOGUE_TOPIC, code))
        if w is not None and isinstance(w.state, AgencyState):
            return w.state
        return self._base.agency(code)


def apply_batch(
    records: Sequence[Decoded],
    snapshots: Mapping[AggregateKey, Snapshot],
    catalogue: CatalogueLookup,
    projection: str,
    policy: Policy,
    *,
    max_record_bytes: int,
) -> BatchResult:
    """Fold `records` in order onto `snapshots` (see the module docstring).

    `snapshots` must hold every stored snapshot among `snapshot_keys(records)`; a key not
    there is a new aggregate. Returns only what changed: snapshots and rows of aggregates
    whose head or state changed, and the next offset of every partition seen.
    """
    return apply_batch_states(records, snapshots, catalogue, projection, policy,
                              max_record_bytes=max_record_bytes)[0]


def apply_batch_states(
    records: Sequence[Decoded],
    snapshots: Mapping[AggregateKey, Snapshot],
    catalogue: CatalogueLookup,
    projection: str,
    policy: Policy,
    *,
    max_record_bytes: int,
    states: Mapping[AggregateKey, AggregateState] | None = None,
) -> tuple[BatchResult, dict[AggregateKey, AggregateState]]:
    """`apply_batch` for a driver that keeps decoded states in memory (a replay).

    `states[key]`, where given, is the aggregate's current state, used instead of decoding
    `snapshots[key].state_json` (which may then be None). Returns the `BatchResult` — the
    same as `apply_batch`'s — and the new state of every aggregate whose state changed.
    """
    given = states or {}
    render = RENDERERS[projection]
    work: dict[AggregateKey, _Work] = {}
    lookup = _BatchCatalogue(catalogue, work)
    result = BatchResult()
    positions = result.positions
    counters: Counter[str] = result.counters
    deferred: set[TopicPartition] = set()
    for d in records:
        src = d.source
        tp = (src.topic, src.partition)
        if tp in deferred:
            counters["deferred"] += 1
            continue
        counters["records"] += 1
        event = d.event
        if len(src.value) > max_record_bytes:
            _reject(result, d, OVERSIZE_RECORD, f"record value is {len(src.value)} bytes, more "
                                                f"than the limit of {max_record_bytes}")
        elif event is None:
            _reject(result, d, d.error_class or DECODE_ERROR,
                    d.error_reason or "the record could not be decoded")
        else:
            key = (event.TOPIC, event.aggregate_id)
            w = work.get(key)
            if w is None:
                w = work[key] = _Work(snapshots.get(key), given.get(key))
            decision = decide(Head(w.last_seq, w.parked_from_seq, w.state), event, lookup)
            if isinstance(decision, Apply):
                w.state = fold(w.state, event, policy)
                w.last_seq = event.aggregate_seq
                w.changed = w.state_changed = True
                counters["applied"] += 1
            elif isinstance(decision, Duplicate):
                counters["duplicates"] += 1
            elif isinstance(decision, Reject):
                _reject(result, d, decision.error_class, decision.reason)
                result.parked.append(ParkedRecord(src, key, event.aggregate_seq))
                w.parked_from_seq = event.aggregate_seq
                w.changed = True
            elif isinstance(decision, Deferred):
                counters["records"] -= 1
                counters["deferred"] += 1
                deferred.add(tp)
                positions[tp] = src.offset
                continue
            else:  # Parked
                result.parked.append(ParkedRecord(src, key, event.aggregate_seq))
                counters["parked"] += 1
        positions[tp] = src.offset + 1
    changed: dict[AggregateKey, AggregateState] = {}
    for key, w in work.items():
        if not w.changed:
            continue
        result.snapshots[key] = Snapshot(key, w.last_seq, w.parked_from_seq, w.state_json())
        if w.state_changed and w.state is not None:
            result.rows[key] = render(w.state)
            changed[key] = w.state
    return result, changed


Folded = tuple[BatchResult, dict[AggregateKey, AggregateState]]
"""A projection's `BatchResult` and the states that changed (`apply_batch_states`)."""


def shared_lead(policies: Mapping[str, Policy]) -> str | None:
    """A projection whose folded states give every other one's (`can_derive`), or None."""
    for lead, policy in policies.items():
        if all(can_derive(policy, other) for other in policies.values()):
            return lead
    return None


def apply_batch_shared(
    records: Sequence[Decoded],
    snapshots: Mapping[AggregateKey, Snapshot],
    catalogue: CatalogueLookup,
    policies: Mapping[str, Policy],
    states: Mapping[str, Mapping[AggregateKey, AggregateState]],
    *,
    lead: str,
    max_record_bytes: int,
) -> dict[str, Folded]:
    """`apply_batch_states` for every projection of `policies` at once, when they all stand
    at the same heads (`snapshots`, which need no `state_json`) with their own `states`.

    Sequencing does not depend on the projection, so `records` are decided and folded once,
    for `lead` (whose policy must derive every other's: `shared_lead`); each other
    projection gets the lead's decisions, positions, counters, rejections and parked
    records, and its changed states derived from the lead's, rendered with its own view.
    """
    source = policies[lead]
    lead_result, lead_changed = apply_batch_states(
        records, snapshots, catalogue, lead, source, max_record_bytes=max_record_bytes,
        states=states.get(lead, {}))
    out: dict[str, Folded] = {}
    for name, policy in policies.items():
        if name == lead:
            out[name] = (lead_result, lead_changed)
            continue
        if not can_derive(source, policy):
            raise ValueError(f"{name}'s states cannot be derived from {lead}'s")
        render = RENDERERS[name]
        own = states.get(name, {})
        result = BatchResult(parked=list(lead_result.parked),
                             rejections=list(lead_result.rejections),
                             positions=dict(lead_result.positions),
                             counters=Counter(lead_result.counters))
        changed: dict[AggregateKey, AggregateState] = {}
        for key, snap in lead_result.snapshots.items():
            lead_state = lead_changed.get(key)
            if lead_state is None:  # the head moved, the state did not
                state = own.get(key)
                text = None if state is None else state.to_json()
            else:
                state = changed[key] = derive_state(lead_state, source, policy)
                text = snap.state_json if state is lead_state else state.to_json()
                result.rows[key] = render(state)
            result.snapshots[key] = Snapshot(key, snap.last_seq, snap.parked_from_seq, text)
        out[name] = (result, changed)
    return out


def _reject(result: BatchResult, d: Decoded, error_class: str, reason: str) -> None:
    result.rejections.append(Rejection(d.source, error_class, reason))
    result.counters["rejected"] += 1
    result.counters[f"rejected.{error_class}"] += 1
