"""`apply_batch`: sequencing over a batch, rejections, deferral, and its two properties."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from projection_events import (
    AGENCY,
    OTHER_AGENCY,
    PROCEDURE,
    T0,
    catalogue,
    dossier,
    make,
    records,
    undecodable,
)

from projections.batch import apply_batch, apply_batch_shared, shared_lead, snapshot_keys
from projections.lifecycle import allowed_events, next_status
from projections.policy import build_policies
from projections.records import AggregateKey, BatchResult, Decoded, Rows, Snapshot, SourceRecord
from projections.reference import catalogue_from_snapshots
from projections.sequencing import CatalogueLookup, MemoryCatalogue
from projections.state import AgencyState, AggregateState, ProcedureState
from schemas import events as ev

POLICIES = build_policies(b"k")
LIMIT = 1 << 20
D = ev.DOSSIER_TOPIC


def catalogue_snapshots() -> dict[AggregateKey, Snapshot]:
    empty = MemoryCatalogue({}, {})
    return apply_batch(records(catalogue()), {}, empty, "stats", POLICIES["stats"],
                       max_record_bytes=LIMIT).snapshots


CATALOGUE = catalogue_from_snapshots(catalogue_snapshots())


def run(recs: Sequence[Decoded], snapshots: dict[AggregateKey, Snapshot] | None = None,
        lookup: CatalogueLookup = CATALOGUE, projection: str = "stats") -> BatchResult:
    return apply_batch(recs, snapshots or {}, lookup, projection, POLICIES[projection],
                       max_record_bytes=LIMIT)


def at(partition: int, offset: int, event: ev.Event) -> Decoded:
    return Decoded(SourceRecord(event.TOPIC, partition, offset, None, b"v"), event)


def test_a_clean_batch_applies_everything_and_advances_every_partition() -> None:
    recs = records([*dossier("d1", ev.DossierReceived), *dossier("d2", ev.DossierReceived)],
                   partitions=2)
    result = run(recs)
    assert result.counters["applied"] == 4 and not result.rejections and not result.parked
    assert {k: s.last_seq for k, s in result.snapshots.items()} == {(D, "d1"): 2, (D, "d2"): 2}
    last = {(r.source.topic, r.source.partition): r.source.offset + 1 for r in recs}
    assert result.positions == last
    assert set(result.rows) == {(D, "d1"), (D, "d2")}


def test_duplicates_are_skipped_and_counted() -> None:
    events = dossier("d1", ev.DossierReceived)
    result = run(records([*events, events[0], events[1]]))
    assert result.counters["duplicates"] == 2 and result.counters["applied"] == 2
    assert result.snapshots[(D, "d1")].last_seq == 2


def test_a_gap_is_rejected_and_parks_its_aggregate_while_others_flow() -> None:
    d1 = dossier("d1", ev.DossierReceived, ev.DossierStepTransferred, ev.DossierResolved)
    d2 = dossier("d2", ev.DossierReceived, ev.DossierResolved)
    recs = records([d1[0], d2[0], d1[2], d2[1], d1[3], d2[2]], partitions=1)
    result = run(recs)
    (rejection,) = result.rejections
    assert (rejection.error_class, rejection.reason) == (
        "sequence_gap", "dossier d1 seq 3 after 1: events 2..2 missing")
    assert [(p.aggregate, p.aggregate_seq) for p in result.parked] == [
        ((D, "d1"), 3), ((D, "d1"), 4)]
    assert result.counters["parked"] == 1 and result.counters["rejected.sequence_gap"] == 1
    assert result.snapshots[(D, "d1")].parked_from_seq == 3
    assert result.snapshots[(D, "d1")].last_seq == 1
    assert result.snapshots[(D, "d2")].last_seq == 3
    assert result.rows[(D, "d2")]["dossier_facts"][0]["status"] == 9
    assert result.positions == {(D, 0): 6}
    # the missing event arrives later: still parked, never applied out of order
    later = run([at(0, 6, d1[1])], dict(result.snapshots))
    assert later.counters["parked"] == 1 and not later.rows


def test_an_illegal_transition_is_rejected_and_parks_the_aggregate() -> None:
    d1 = dossier("d1", ev.DossierReceived, ev.SupplementRequested)
    bad = make(ev.DossierResolved, "d1", 4)
    after = make(ev.SupplementReceived, "d1", 5)
    result = run(records([*d1, bad, after]))
    (rejection,) = result.rejections
    assert rejection.error_class == "illegal_transition"
    assert rejection.reason == "DossierResolved is not allowed in status 5 (Yêu cầu bổ sung)"
    assert [p.aggregate_seq for p in result.parked] == [4, 5]
    assert result.snapshots[(D, "d1")].parked_from_seq == 4
    assert result.rows[(D, "d1")]["dossier_facts"][0]["status"] == 5


def test_an_unknown_reference_with_the_catalogue_caught_up_is_rejected() -> None:
    bad = make(ev.DossierSubmitted, "d1", 1, agency_code="H56.99")
    result = run(records([bad, make(ev.DossierReceived, "d1", 2)]))
    assert [(r.error_class, r.reason) for r in result.rejections] == [
        ("unknown_reference", f"procedure {PROCEDURE} is not applied at agency H56.99")]
    assert result.snapshots[(D, "d1")] == Snapshot((D, "d1"), 0, 1, None)
    assert (D, "d1") not in result.rows  # dossier rows only after DossierSubmitted


def test_an_unknown_reference_before_the_catalogue_caught_up_defers_only_its_partition() -> None:
    behind = MemoryCatalogue(CATALOGUE.procedures, {AGENCY: CATALOGUE.agencies[AGENCY]},
                             caught_up=False)
    d1 = dossier("d1", ev.DossierReceived, ev.DossierStepTransferred,
                 DossierReceived={"handling_agency_code": OTHER_AGENCY})
    d2 = dossier("d2", ev.DossierReceived)
    d3 = dossier("d3", ev.DossierReceived)
    recs = [at(0, 10, d1[0]), at(1, 20, d3[0]), at(0, 11, d2[0]), at(0, 12, d1[1]),
            at(1, 21, d3[1]), at(0, 13, d2[1]), at(0, 14, d1[2])]
    result = run(recs, lookup=behind)
    assert result.positions == {(D, 0): 12, (D, 1): 22}
    assert result.counters["deferred"] == 3 and result.counters["applied"] == 4
    assert not result.rejections and not result.parked
    assert {k: s.last_seq for k, s in result.snapshots.items()} == {
        (D, "d1"): 1, (D, "d2"): 1, (D, "d3"): 2}
    # once the catalogue has caught up, the driver re-reads from the positions
    retry = run(recs[3:4] + recs[5:], dict(result.snapshots))
    assert retry.counters["applied"] == 3 and retry.positions == {(D, 0): 15}


def test_catalogue_records_earlier_in_a_batch_are_seen_by_later_dossier_records() -> None:
    result = run(records([*catalogue(), *dossier("d1", ev.DossierReceived)]),
                 lookup=MemoryCatalogue({}, {}, caught_up=True))
    assert not result.rejections and result.counters["applied"] == len(catalogue()) + 2


def test_undecodable_and_oversize_records_are_rejected_with_their_class() -> None:
    big = Decoded(SourceRecord(D, 0, 1, b"d1", b"x" * 2000), dossier("d1")[0])
    result = apply_batch([undecodable(D, 0, 0), big], {}, CATALOGUE, "stats",
                         POLICIES["stats"], max_record_bytes=1000)
    assert [r.error_class for r in result.rejections] == ["schema_unknown", "oversize_record"]
    assert result.rejections[1].reason == (
        "record value is 2000 bytes, more than the limit of 1000")
    assert result.positions == {(D, 0): 2} and not result.snapshots


def test_only_changed_aggregates_are_returned() -> None:
    first = run(records(dossier("d1", ev.DossierReceived)))
    again = run(records(dossier("d1", ev.DossierReceived)), dict(first.snapshots))
    assert not again.snapshots and not again.rows and again.counters["duplicates"] == 2


def test_snapshot_keys_name_the_aggregates_a_batch_touches() -> None:
    recs = records([*catalogue()[:2], *dossier("d1")])
    assert snapshot_keys([*recs, undecodable(D, 0, 99)]) == {
        (ev.CATALOGUE_TOPIC, "G15"), (ev.CATALOGUE_TOPIC, AGENCY), (D, "d1")}


# --- properties ------------------------------------------------------------------------------

FIELD_CHOICES = {
    "PaymentCompleted": st.fixed_dictionaries(
        {"method": st.sampled_from(list(ev.PaymentMethod))}),
    "SupplementReceived": st.fixed_dictionaries(
        {"new_due_at": st.none() | st.just(T0 + timedelta(days=30))}),
    "DossierForwarded": st.sampled_from([
        {"from_agency_code": AGENCY, "to_agency_code": OTHER_AGENCY},
        {"from_agency_code": OTHER_AGENCY, "to_agency_code": AGENCY},
        {"to_agency_code": "H56.99"}]),  # unknown agency: rejected
}


@st.composite
def dossier_walk(draw: st.DrawFn, dossier_id: str) -> list[ev.Event]:
    """A dossier's events: a random walk over the transition table, maybe with faults."""
    channel = draw(st.sampled_from(list(ev.Channel)))
    agency = draw(st.sampled_from([AGENCY, OTHER_AGENCY, "H56.99"]))
    events: list[ev.Event] = [make(ev.DossierSubmitted, dossier_id, 1, channel=channel,
                                   agency_code=agency)]
    status: int | None = 1
    before: int | None = None
    for seq in range(2, draw(st.integers(1, 10)) + 2):
        allowed = allowed_events(status)
        if not allowed:
            break
        etype = draw(st.sampled_from(allowed))
        fields = draw(FIELD_CHOICES[etype]) if etype in FIELD_CHOICES else {}
        at = T0 + timedelta(hours=7 * seq)
        events.append(make(ev.EVENT_TYPES[etype], dossier_id, seq, at, **fields))
        if etype == "FinancialObligationRequested":
            before = status
        status = next_status(status, before, etype)
    fault = draw(st.sampled_from(["none", "none", "duplicate", "gap", "illegal"]))
    if fault == "duplicate":
        copy = events[draw(st.integers(0, len(events) - 1))]
        events.insert(draw(st.integers(1, len(events))), copy)
    elif fault == "gap" and len(events) > 2:
        del events[draw(st.integers(1, len(events) - 2))]
    elif fault == "illegal":
        events.append(make(ev.DossierSubmitted, dossier_id, len(events) + 1))
    return events


@st.composite
def event_logs(draw: st.DrawFn) -> list[Decoded]:
    walks = [draw(dossier_walk(f"d{i}")) for i in range(draw(st.integers(1, 8)))]
    rnd = draw(st.randoms(use_true_random=False))
    merged: list[ev.Event] = []
    queues = [list(w) for w in walks]
    while any(queues):
        queue = rnd.choice([q for q in queues if q])
        merged.append(queue.pop(0))
    recs = records([*catalogue(), *merged], partitions=3)
    if draw(st.booleans()):
        recs.insert(rnd.randrange(len(recs) + 1), undecodable(D, 9, 0))
    return recs


def merged_rows(results: Sequence[BatchResult]) -> dict[AggregateKey, Rows]:
    rows: dict[AggregateKey, Rows] = {}
    for r in results:
        rows.update(r.rows)
    return rows


def empty() -> MemoryCatalogue:
    return MemoryCatalogue({}, {}, caught_up=True)


@settings(max_examples=150, deadline=None)
@given(event_logs(), st.sampled_from(["portal", "onestop", "stats"]))
def test_applying_the_same_batch_twice_changes_nothing(
        recs: list[Decoded], projection: str) -> None:
    once = run(recs, lookup=empty(), projection=projection)
    twice = run(recs, dict(once.snapshots), lookup=empty(), projection=projection)
    assert twice.snapshots == {} and twice.rows == {}
    assert twice.counters["applied"] == 0
    assert twice.positions == once.positions
    sequencing = {"sequence_gap", "illegal_transition", "unknown_reference"}
    assert not [r for r in twice.rejections if r.error_class in sequencing]
    assert {p.source for p in twice.parked} <= {p.source for p in once.parked}


@settings(max_examples=150, deadline=None)
@given(event_logs(), st.sampled_from(["portal", "onestop", "stats"]), st.randoms())
def test_many_small_batches_give_the_same_result_as_one(
        recs: list[Decoded], projection: str, rnd: random.Random) -> None:
    full = run(recs, lookup=empty(), projection=projection)
    cuts = sorted(rnd.sample(range(1, len(recs)), k=min(len(recs) - 1, rnd.randint(1, 6))))
    snapshots: dict[AggregateKey, Snapshot] = {}
    parts: list[BatchResult] = []
    for lo, hi in zip([0, *cuts], [*cuts, len(recs)], strict=True):
        part = run(recs[lo:hi], snapshots, lookup=catalogue_from_snapshots(snapshots),
                   projection=projection)
        snapshots.update(part.snapshots)
        parts.append(part)
    assert snapshots == full.snapshots
    assert merged_rows(parts) == full.rows
    assert [r for p in parts for r in p.rejections] == full.rejections
    assert [x for p in parts for x in p.parked] == full.parked
    assert sum((p.counters for p in parts), Counter()) == full.counters
    positions: dict[tuple[str, int], int] = {}
    for p in parts:
        positions.update(p.positions)
    assert positions == full.positions


def _heads(snapshots: dict[AggregateKey, Snapshot]) -> dict[AggregateKey, Snapshot]:
    return {k: Snapshot(k, s.last_seq, s.parked_from_seq, None) for k, s in snapshots.items()}


@settings(max_examples=100, deadline=None)
@given(event_logs(), st.randoms(),
       st.sampled_from([("portal", "onestop", "stats"), ("portal", "stats"), ("stats", "onestop")]))
def test_one_fold_for_several_projections_gives_what_each_projections_fold_gives(
        recs: list[Decoded], rnd: random.Random, names: tuple[str, ...]) -> None:
    # given the log cut into batches, folded per projection onto stored snapshots (the worker)
    # and all at once onto the heads and states held in memory (a replay)
    policies = {name: POLICIES[name] for name in names}
    lead = shared_lead(policies)
    assert lead is not None
    cuts = sorted(rnd.sample(range(1, len(recs)), k=min(len(recs) - 1, rnd.randint(0, 5))))
    stored: dict[str, dict[AggregateKey, Snapshot]] = {n: {} for n in names}
    states: dict[str, dict[AggregateKey, AggregateState]] = {n: {} for n in names}
    for lo, hi in zip([0, *cuts], [*cuts, len(recs)], strict=True):
        part = recs[lo:hi]
        heads = _heads(stored[lead])
        lead_catalogue = MemoryCatalogue(
            {k[1]: s for k, s in states[lead].items() if isinstance(s, ProcedureState)},
            {k[1]: s for k, s in states[lead].items() if isinstance(s, AgencyState)})
        shared = apply_batch_shared(part, heads, lead_catalogue, policies, states, lead=lead,
                                    max_record_bytes=LIMIT)
        # then every projection's result is the one its own fold gives
        assert set(shared) == set(names)
        for name in names:
            alone = run(part, stored[name], catalogue_from_snapshots(stored[name]), name)
            result, changed = shared[name]
            assert result == alone, name
            assert set(changed) == set(alone.rows)
            stored[name].update(result.snapshots)
            states[name].update(changed)
    for name in names:
        assert {k: s.to_json() for k, s in states[name].items()} == {
            k: s.state_json for k, s in stored[name].items() if s.state_json is not None}


def test_a_lead_is_a_projection_whose_states_give_every_others() -> None:
    assert shared_lead(POLICIES) == "onestop"
    assert shared_lead({n: POLICIES[n] for n in ("stats", "portal")}) == "portal"
    assert shared_lead({"stats": POLICIES["stats"]}) == "stats"
    assert shared_lead({"a": POLICIES["portal"], "b": build_policies(b"other")["portal"]}) is None
