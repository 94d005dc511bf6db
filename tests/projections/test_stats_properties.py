"""Properties of the statistics over generated provinces (pure, no I/O):

- the balance of DOMAIN.md holds for every period, agency and sector;
- incremental processing (live-like batches, catalogue and dossiers interleaved as they
  arrive) gives the same statistics as a full rebuild.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.workload import WorkloadSpec, generate
from projections.batch import apply_batch, snapshot_keys
from projections.period import Period
from projections.policy import build_policies
from projections.records import AggregateKey, Decoded, Rows, Snapshot
from projections.reference import canonical_dump, catalogue_from_snapshots, reference_fold
from projections.statistics import compute_statistics
from projections.stats_facts import StatsFacts
from projections.views import stats as stats_view
from schemas.events import CATALOGUE_TOPIC
from schemas.jsonform import event_from_json
from tests.projections.projection_events import records

POLICY = build_policies(b"k" * 32)["stats"]
YEAR = 2025


def province(seed: int, dossiers: int) -> list[Decoded]:
    spec = WorkloadSpec(seed=seed, year=YEAR, departments=3, communes=4, procedures=40,
                        dossiers=dossiers)
    return records(event_from_json(obj) for obj in generate(spec))


def facts_of(dump: dict[str, list[tuple[Any, ...]]]) -> StatsFacts:
    tables = {
        name: [dict(zip(spec.column_names, row, strict=True)) for row in dump[name]]
        for name, spec in stats_view.TABLES.items()
    }
    return StatsFacts.from_rows(tables)


def fold_incrementally(log: Sequence[Decoded], batch_sizes: Sequence[int]) -> StatsFacts:
    """What a live worker does: batches in log order, snapshots and rows carried over."""
    snapshots: dict[AggregateKey, Snapshot] = {}
    rows: dict[AggregateKey, Rows] = {}
    position, turn = 0, 0
    while position < len(log):
        size = batch_sizes[turn % len(batch_sizes)]
        batch = log[position:position + size]
        position, turn = position + size, turn + 1
        loaded = {k: snapshots[k] for k in snapshot_keys(batch) if k in snapshots}
        result = apply_batch(batch, loaded, catalogue_from_snapshots(snapshots), "stats",
                             POLICY, max_record_bytes=1 << 30)
        assert result.counters["deferred"] == 0
        snapshots.update(result.snapshots)
        rows.update(result.rows)
    return facts_of(canonical_dump("stats", rows.values()))


def periods(rng: random.Random) -> list[Period]:
    out = [Period(date(YEAR, 1, 1), date(YEAR, 12, 31))]
    out += [Period(date(YEAR, m, 1), date(YEAR, m + 2, 28)) for m in (1, 4, 7, 10)]
    for _ in range(3):
        start = date(YEAR, 1, 1) + timedelta(days=rng.randrange(360))
        out.append(Period(start, start + timedelta(days=rng.randrange(1, 120))))
    return out


def assert_balanced(block: dict[str, Any], where: str) -> None:
    d = block["dossiers"]
    assert d["received_total"] == d["carried_over"] + d["new_total"], where
    assert d["received_total"] == (
        d["resolved_total"] + d["withdrawn"] + d["in_process_total"]
        + d["waiting_supplement_or_suspended"]
    ), where
    assert d["resolved_total"] == d["resolved_early"] + d["resolved_on_time"] + d["resolved_late"]
    assert d["in_process_total"] == d["in_process_within"] + d["in_process_late"], where


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), dossiers=st.integers(20, 120))
def test_balance_holds_for_every_period_agency_and_sector(seed: int, dossiers: int) -> None:
    facts = facts_of(reference_fold(province(seed, dossiers), "stats", POLICY))
    for period in periods(random.Random(seed)):
        result = compute_statistics(facts, period)
        assert_balanced(result, f"{period}")
        for block in result["by_agency"]:
            assert_balanced(block, f"{period} agency {block['agency_code']}")
        for block in result["by_sector"]:
            assert_balanced(block, f"{period} sector {block['sector_code']}")
        for key in ("received_total", "resolved_total", "withdrawn", "in_process_total"):
            assert sum(b["dossiers"][key] for b in result["by_agency"]) == result["dossiers"][key]
            assert sum(b["dossiers"][key] for b in result["by_sector"]) == result["dossiers"][key]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    dossiers=st.integers(10, 80),
    batch_sizes=st.lists(st.integers(1, 400), min_size=1, max_size=5),
)
def test_incremental_processing_gives_the_statistics_of_a_full_rebuild(
    seed: int, dossiers: int, batch_sizes: list[int]
) -> None:
    log = province(seed, dossiers)
    # live order: the catalogue is published first, dossiers after (as the worker sees it
    # once its dossier agent has waited for the catalogue to catch up)
    live = sorted(log, key=lambda d: d.source.topic != CATALOGUE_TOPIC)
    incremental = fold_incrementally(live, batch_sizes)
    full = facts_of(reference_fold(log, "stats", POLICY))
    for period in periods(random.Random(seed)):
        assert compute_statistics(incremental, period, as_of="t") == compute_statistics(
            full, period, as_of="t"
        )
