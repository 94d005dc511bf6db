"""The raw loop's parts without Kafka: `MemoryFold` (pure) and `write_batch` on SQLite.

- folded in small batches and written with Core executemany, a generated province gives
  exactly the reference fold's dump, and the positions of the last batch;
- an aggregate's old rows are deleted only once it was written by an earlier batch;
- duplicates and gaps are counted and not applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.workload import WorkloadSpec, generate
from projections.policy import build_policies
from projections.records import PROJECTIONS, Decoded, SourceRecord
from projections.reference import dump_digest, reference_fold
from projections.store import ProjectionStore, make_engine
from projections.store.meta import POSITIONS
from schemas import events as ev
from schemas.events import DOSSIER_TOPIC, Event
from schemas.jsonform import event_from_json
from streams.bench.rawloop import MemoryFold, parse_projections, write_batch
from tests.projections.projection_events import catalogue, dossier, make, records

POLICIES = build_policies(b"unit-test-key")
SPEC = WorkloadSpec(seed=11, dossiers=120, procedures=40, departments=3, communes=3)


def _pairs(decoded: list[Decoded]) -> list[tuple[SourceRecord, Event]]:
    pairs = []
    for d in decoded:
        assert d.event is not None
        pairs.append((d.source, d.event))
    return pairs


def test_a_province_folded_in_batches_and_written_equals_the_reference(tmp_path: Path) -> None:
    # given a generated province as records, catalogue first
    decoded = records(event_from_json(obj) for obj in generate(SPEC))
    pairs = _pairs(decoded)
    engine = make_engine(f"sqlite:///{tmp_path / 'raw.db'}", durable=False)
    stores = {p: ProjectionStore(engine, p, 3) for p in PROJECTIONS}
    for store in stores.values():
        store.create()
    tables = {p: s.tables for p, s in stores.items()}
    memory = MemoryFold(POLICIES)

    # when it is folded and written in batches of 97 (aggregates span batches)
    deleted = 0
    for start in range(0, len(pairs), 97):
        work = memory.apply(pairs[start:start + 97])
        deleted += sum(len(o) for by_table in work.deletes.values() for o in by_table.values())
        with engine.begin() as conn:
            write_batch(conn, tables, 3, work)

    # then old rows were replaced along the way, and every projection equals the reference
    assert deleted > 0
    with engine.connect() as conn:
        for p, store in stores.items():
            expected = reference_fold(decoded, p, POLICIES[p])
            assert all(expected.values()), f"{p}: a table of the reference is empty; weak test"
            dump = store.dump(conn)
            assert dump == expected, p
            assert dump_digest(dump) == dump_digest(expected)
        # and the positions are the next offsets of every partition, for every projection
        stored = conn.execute(select(POSITIONS)).mappings().all()
    last: dict[tuple[str, int], int] = {}
    for d in decoded:
        last[(d.source.topic, d.source.partition)] = d.source.offset + 1
    for p in PROJECTIONS:
        mine = {(r["topic"], r["partition"]): r["next_offset"]
                for r in stored if r["projection"] == p and r["version"] == 3}
        assert mine == last, p
    engine.dispose()


def test_rows_are_deleted_only_for_aggregates_written_in_an_earlier_batch() -> None:
    # given a catalogue and one dossier's first event in a first batch
    events = [*catalogue(), *dossier("d1", ev.DossierReceived)]
    pairs = _pairs(records(events))
    memory = MemoryFold(POLICIES)
    first = memory.apply(pairs[:-1])
    # then nothing is deleted in that batch, although rows are inserted
    assert all(not by_table for by_table in first.deletes.values())
    assert first.inserts["portal"]["dossiers"][0]["dossier_id"] == "d1"

    # when the dossier's next event comes in a later batch
    second = memory.apply(pairs[-1:])
    # then its old rows go (from every table it renders) and its new ones come
    assert second.deletes["portal"]["dossiers"] == ["d1"]
    assert [r["status"] for r in second.inserts["portal"]["dossiers"]] == [2]
    assert set(second.deletes["stats"]) == set(second.inserts["stats"])


def test_duplicates_and_gaps_are_counted_and_not_applied() -> None:
    # given dossier d1 at seq 1, 2, then seq 2 again and seq 4 (3 missing)
    events = [*dossier("d1", ev.DossierReceived),
              make(ev.DossierReceived, "d1", 2),
              make(ev.DossierResolved, "d1", 4)]
    pairs = _pairs(records(events))
    memory = MemoryFold(POLICIES)

    work = memory.apply(pairs)

    assert (work.applied, work.duplicates, work.gaps) == (2, 1, 1)
    assert memory.last[(DOSSIER_TOPIC, "d1")] == 2
    assert [r["status"] for r in work.inserts["portal"]["dossiers"]] == [2]
    # and the position still moves past every record read
    tp = (pairs[-1][0].topic, pairs[-1][0].partition)
    assert work.positions == {tp: pairs[-1][0].offset + 1}


@pytest.mark.parametrize("bad", ["", " , ", "portal,nope"])
def test_parse_projections_refuses_unknown_or_no_names(bad: str) -> None:
    with pytest.raises(ValueError, match="portal, onestop, stats"):
        parse_projections(bad)


def test_parse_projections_keeps_the_order_given_once() -> None:
    assert parse_projections("stats, portal,stats") == ["stats", "portal"]
