"""`StateCache`: what a replay keeps in memory between batches instead of re-reading its own
snapshots — heads and decoded states as of the last commit, LRU-bounded outside the catalogue."""

from __future__ import annotations

import pytest
from projection_events import AGENCY, PROCEDURE, catalogue, dossier, records

from projections.batch import apply_batch
from projections.policy import build_policies
from projections.records import BatchResult, Snapshot
from projections.reference import catalogue_from_snapshots
from projections.sequencing import MemoryCatalogue
from projections.state import state_from_json
from projections.store.cache import StateCache
from schemas import events as ev

C, D = ev.CATALOGUE_TOPIC, ev.DOSSIER_TOPIC
POLICY = build_policies(b"k")["portal"]


def folded(events: list[ev.Event]) -> BatchResult:
    """The events folded from scratch, onto a caught-up catalogue."""
    return apply_batch(records(events), {}, CATALOGUE, "portal", POLICY,
                       max_record_bytes=1 << 20)


CATALOGUE = catalogue_from_snapshots(
    apply_batch(records(catalogue()), {}, MemoryCatalogue({}, {}), "portal", POLICY,
                max_record_bytes=1 << 20).snapshots)


def committed(cache: StateCache, result: BatchResult) -> None:
    cache.commit(result, {k: state_from_json(s.state_json)
                          for k, s in result.snapshots.items() if s.state_json is not None})


def test_a_cache_of_an_empty_version_knows_every_key_and_holds_what_was_committed() -> None:
    cache = StateCache(complete=True)
    result = folded([*catalogue(), *dossier("d1", ev.DossierReceived)])
    assert cache.unknown(result.snapshots) == []  # new aggregates: nothing to load
    committed(cache, result)
    heads, states = cache.get([(D, "d1"), (D, "d2")])
    assert heads == {(D, "d1"): Snapshot((D, "d1"), 2, None, None)}
    assert states[(D, "d1")].to_json() == result.snapshots[(D, "d1")].state_json
    lookup = cache.catalogue(caught_up=False)
    assert lookup.procedure(PROCEDURE) is not None and lookup.agency(AGENCY) is not None
    assert lookup.caught_up is False


def test_a_head_that_moved_without_a_state_change_keeps_the_state() -> None:
    cache = StateCache(complete=True)
    first = folded(dossier("d1", ev.DossierReceived))
    committed(cache, first)
    _, before = cache.get([(D, "d1")])
    parked = BatchResult(snapshots={(D, "d1"): Snapshot((D, "d1"), 2, 4, None)})
    cache.commit(parked, {})
    heads, states = cache.get([(D, "d1")])
    assert heads[(D, "d1")].parked_from_seq == 4
    assert states[(D, "d1")] is before[(D, "d1")]


def test_beyond_its_bound_the_least_recent_dossiers_go_and_are_unknown_from_then_on() -> None:
    cache = StateCache(complete=True, max_aggregates=2)
    committed(cache, folded([*catalogue(), *dossier("d1"), *dossier("d2")]))
    committed(cache, folded(dossier("d1")))  # d1 used again: d2 is now the oldest
    committed(cache, folded(dossier("d3")))
    assert (D, "d2") not in cache and (D, "d1") in cache and (D, "d3") in cache
    assert not cache.complete
    assert cache.unknown([(D, "d2"), (D, "d1"), (D, "d9")]) == [(D, "d2"), (D, "d9")]
    assert cache.unknown([(C, PROCEDURE), (C, "1.999")]) == []  # the catalogue stays whole
    # and what the driver then loads from the store is held again, decoded
    stored = folded(dossier("d2")).snapshots
    cache.add(stored)
    assert cache.get([(D, "d2")])[1][(D, "d2")].to_json() == stored[(D, "d2")].state_json


def test_a_cache_of_a_version_holding_data_knows_nothing_until_told() -> None:
    cache = StateCache(complete=False)
    assert cache.unknown([(C, PROCEDURE), (D, "d1")]) == [(C, PROCEDURE), (D, "d1")]
    with pytest.raises(ValueError, match="max_aggregates"):
        StateCache(complete=True, max_aggregates=0)


def test_what_is_loaded_for_a_batch_stays_until_that_batch_is_committed() -> None:
    cache = StateCache(complete=False, max_aggregates=1)
    loaded = folded([*dossier("d1"), *dossier("d2")]).snapshots
    cache.add(loaded)
    assert cache.unknown(loaded) == []  # both held, although the bound is 1
    committed(cache, folded(dossier("d3")))
    assert len(cache.unknown([(D, "d1"), (D, "d2"), (D, "d3")])) == 2
