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
serialised and rendered at most once per batch. Aggregates are keyed by `aggregate_key`:
(the event type's topic, `aggregate_id`) — not the physical topic, so renamed or prefixed
topics keep their aggregates; drivers load the snapshots named by `snapshot_keys(records)`.

Counters: `records`, `applied`, `duplicates`, `parked` (held behind a rejection, not
counting the rejected record), `rejected`, `rejected.<error_class>`, `deferred`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from projections.fold import fold
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

__all__ = ["OVERSIZE_RECORD", "RENDERERS", "aggregate_key", "apply_batch", "snapshot_keys"]

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

    def __init__(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self.last_seq = snapshot.last_seq if snapshot else 0
        self.parked_from_seq = snapshot.parked_from_seq if snapshot else None
        text = snapshot.state_json if snapshot else None
        self.state: AggregateState | None = state_from_json(text) if text else None
        self.changed = False
        self.state_changed = False


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
                w = work[key] = _Work(snapshots.get(key))
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
    for key, w in work.items():
        if not w.changed:
            continue
        state_json = w.state.to_json() if w.state_changed and w.state is not None else (
            w.snapshot.state_json if w.snapshot else None)
        result.snapshots[key] = Snapshot(key, w.last_seq, w.parked_from_seq, state_json)
        if w.state_changed and w.state is not None:
            result.rows[key] = render(w.state)
    return result


def _reject(result: BatchResult, d: Decoded, error_class: str, reason: str) -> None:
    result.rejections.append(Rejection(d.source, error_class, reason))
    result.counters["rejected"] += 1
    result.counters[f"rejected.{error_class}"] += 1
