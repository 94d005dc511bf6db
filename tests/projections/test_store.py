"""The store contract: one suite, run against SQLite and PostgreSQL (`database_url`, from
tests/conftest.py: a fresh SQLite file, and a fresh database in the session's PostgreSQL).

Most tests work in projections of their own (`t<random>`, built from the real portal
specs) and drop them at the end, so they would not disturb each other in a shared database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from projection_events import catalogue, dossier, make, records
from sqlalchemy import Engine, event, inspect, select, text

from projections.batch import apply_batch, snapshot_keys
from projections.policy import build_policies
from projections.records import (
    AggregateKey,
    BatchResult,
    ParkedRecord,
    Rows,
    Snapshot,
    SourceRecord,
)
from projections.reference import canonical_dump, catalogue_from_snapshots, reference_fold
from projections.store import (
    FencedError,
    InvalidRowsError,
    PositionRegressedError,
    ProjectionStore,
    UnknownTableError,
    VersionInUseError,
    live_version,
    make_engine,
    set_building_version,
    set_live_version,
)
from projections.store import positions as positions_module
from projections.store.meta import building_version
from projections.views import portal
from schemas import events as ev

DOSSIERS = "dossier.events"
CATALOGUE = "catalogue.events"
P0 = (DOSSIERS, 0)
P1 = (DOSSIERS, 1)
HANOI = dt.timezone(dt.timedelta(hours=7))


# -- builders ------------------------------------------------------------------------------


def dossier_row(dossier_id: str, status: int = 1, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dossier_id": dossier_id, "dossier_code": None, "procedure_code": "1.001612",
        "agency_code": "H56.14", "channel": "ONLINE", "status": status,
        "received_at": dt.datetime(2020, 11, 6, 9, 15, tzinfo=HANOI),
        "due_at": dt.datetime(2020, 11, 13, 10, 0, 0, 123456, tzinfo=dt.UTC),
        "resolved_at": None, "on_time_state": None, "applicant_kind": "CITIZEN",
        "applicant_id_hmac": "ab" * 32,
        "updated_at": dt.datetime(2020, 11, 6, 2, 15, tzinfo=dt.UTC),
    }
    row.update(changes)
    return row


def procedure_rows(code: str, agencies: dict[str, str], version: int = 1) -> Rows:
    """A procedure's portal rows; `agencies` maps agency code → service level."""
    return {
        "procedures": [{
            "procedure_code": code, "name": "Cấp Giấy phép bán lẻ rượu", "sector_code": "G15",
            "levels": '["PROVINCE"]', "time_limit_value": 15, "time_limit_unit": "WORKING_DAY",
            "fee_vnd": 12_000_000_000, "documents": '[{"copies":0,"name":"Đơn","originals":1}]',
            "legal_bases": '["NĐ 105/2017"]', "decision_ref": "QĐ 1/2020",
            "effective_from": dt.date(2020, 1, 1), "version": version, "abolished_from": None,
        }],
        "procedure_agencies": [
            {"procedure_code": code, "agency_code": agency, "level": "PROVINCE",
             "service_level": level, "online_payment": agency.endswith("4"),
             "dvcqg_integrated": True, "effective_from": dt.date(2020, 1, 1), "active": True}
            for agency, level in agencies.items()
        ],
    }


def batch(
    rows: dict[AggregateKey, Rows],
    positions: dict[tuple[str, int], int],
    parked: list[ParkedRecord] | None = None,
    seq: int = 1,
) -> BatchResult:
    snapshots = {k: Snapshot(k, seq, None, f'{{"seq":{seq}}}') for k in rows}
    return BatchResult(snapshots=snapshots, rows=rows, parked=parked or [], positions=positions)


def parked_record(aggregate_id: str, seq: int, offset: int, partition: int = 0) -> ParkedRecord:
    source = SourceRecord(DOSSIERS, partition, offset, aggregate_id.encode(),
                          bytes([0, seq, 255]) + b"\x00avro", timestamp_ms=1_604_628_900_000)
    return ParkedRecord(source, (DOSSIERS, aggregate_id), seq)


def everything(store: ProjectionStore, engine: Engine) -> dict[str, Any]:
    """All a store holds for its projection version, to compare before/after."""
    with engine.begin() as conn:
        return {
            "rows": {name: store.read_rows(conn, name) for name in store.tables.views},
            "snapshots": sorted(
                tuple(r) for r in conn.execute(store.tables.snapshots.select()).all()
            ),
            "parked": store.parked(conn),
            "positions": store.positions(conn),
        }


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def new_store(engine: Engine) -> Iterator[Any]:
    """`new_store(version=1, projection=None)`: a created store, dropped afterwards."""
    made: list[ProjectionStore] = []
    name = f"t{uuid.uuid4().hex[:10]}"

    def make_store(version: int = 1, projection: str | None = None) -> ProjectionStore:
        store = ProjectionStore(engine, projection or name, version, specs=portal.TABLES)
        store.create()
        made.append(store)
        return store

    yield make_store
    for store in made:
        store.drop(force=True)


@pytest.fixture
def store(new_store: Any) -> ProjectionStore:
    result: ProjectionStore = new_store()
    return result


# -- schema --------------------------------------------------------------------------------


def test_create_is_idempotent_and_names_tables_by_projection_and_version(
    engine: Engine, store: ProjectionStore
) -> None:
    store.create()
    names = set(inspect(engine).get_table_names())
    prefix = f"{store.projection}_v1_"
    expected = {prefix + t for t in (*portal.TABLES, "snapshots", "parked")}
    assert expected <= names
    assert {"projection_positions", "projection_versions"} <= names


def test_workers_starting_at_once_create_the_tables_once(engine: Engine) -> None:
    name = f"t{uuid.uuid4().hex[:10]}"
    stores = [ProjectionStore(engine, name, 1, specs=portal.TABLES) for _ in range(4)]
    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(lambda s: s.create(), stores))  # re-raises any worker's error
    stores[0].drop()


def test_drop_removes_the_tables_and_positions(engine: Engine, new_store: Any) -> None:
    store = new_store()
    with engine.begin() as conn:
        store.claim(conn, [P0])
    store.drop()
    names = inspect(engine).get_table_names()
    assert not any(n.startswith(f"{store.projection}_v1_") for n in names)
    store.create()
    with engine.begin() as conn:
        assert store.positions(conn) == {}


def test_the_default_specs_are_the_views_tables(engine: Engine) -> None:
    store = ProjectionStore(engine, "stats", 900_000 + uuid.uuid4().int % 99_999)
    store.create()
    try:
        assert set(store.tables.views) == {
            "dossier_facts", "application_versions", "procedure_versions", "agency_facts",
            "sector_facts",
        }
    finally:
        store.drop()


# -- rows ----------------------------------------------------------------------------------


def test_written_rows_read_back_equal_to_the_input(engine: Engine, store: ProjectionStore) -> None:
    given = {
        (DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]},
        (DOSSIERS, "d2"): {"dossiers": [dossier_row("d2", 10, dossier_code="000.00.14.H56-1",
                                                    resolved_at=dt.datetime(2020, 11, 12, 3, 0,
                                                                            tzinfo=dt.UTC),
                                                    on_time_state="EARLY")]},
        (CATALOGUE, "1.001612"): procedure_rows("1.001612", {"H56.14": "FULL_ONLINE",
                                                             "H56.15": "PARTIAL_ONLINE"}),
    }
    with engine.begin() as conn:
        generation = store.claim(conn, [P0, (CATALOGUE, 0)])
        assert store.write(conn, batch(given, {P0: 2, (CATALOGUE, 0): 1}), generation)

    with engine.begin() as conn:
        dossiers = store.read_rows(conn, "dossiers")
        agencies = store.read_rows(conn, "procedure_agencies")
        procedures = store.read_rows(conn, "procedures")
        dump = store.dump(conn)

    assert dossiers == [given[(DOSSIERS, "d1")]["dossiers"][0],
                        given[(DOSSIERS, "d2")]["dossiers"][0]]
    assert all(v.tzinfo is dt.UTC for r in dossiers for v in r.values()
               if isinstance(v, dt.datetime))
    assert dossiers[0]["received_at"] == dt.datetime(2020, 11, 6, 2, 15, tzinfo=dt.UTC)
    assert procedures == given[(CATALOGUE, "1.001612")]["procedures"]
    assert agencies == given[(CATALOGUE, "1.001612")]["procedure_agencies"]
    assert [type(agencies[0][c]) for c in ("online_payment", "effective_from", "level")] == [
        bool, dt.date, str]
    assert dump == canonical_dump("portal", given.values())


def test_rewriting_an_aggregate_replaces_all_its_rows(
    engine: Engine, store: ProjectionStore
) -> None:
    first = {
        (CATALOGUE, "1.1"): procedure_rows("1.1", {"A1": "INFO", "A2": "INFO", "A3": "INFO"}),
        (CATALOGUE, "1.2"): procedure_rows("1.2", {"A1": "INFO"}),
    }
    second = {(CATALOGUE, "1.1"): procedure_rows("1.1", {"A2": "FULL_ONLINE"}, version=2)}
    third = {(CATALOGUE, "1.2"): {"procedures": [], "procedure_agencies": []}}
    with engine.begin() as conn:
        generation = store.claim(conn, [(CATALOGUE, 0)])
        store.write(conn, batch(first, {(CATALOGUE, 0): 2}), generation)
    with engine.begin() as conn:
        store.write(conn, batch(second, {(CATALOGUE, 0): 3}, seq=2), generation)
    with engine.begin() as conn:
        store.write(conn, batch(third, {(CATALOGUE, 0): 4}, seq=2), generation)

    with engine.begin() as conn:
        agencies = store.read_rows(conn, "procedure_agencies")
        procedures = store.read_rows(conn, "procedures")
    assert [(r["procedure_code"], r["agency_code"], r["service_level"]) for r in agencies] == [
        ("1.1", "A2", "FULL_ONLINE")]
    assert [(r["procedure_code"], r["version"]) for r in procedures] == [("1.1", 2)]


def test_rows_of_aggregates_the_writer_knows_to_be_new_are_inserted_without_a_delete(
    engine: Engine, store: ProjectionStore
) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    first = {(CATALOGUE, "1.1"): procedure_rows("1.1", {"A1": "INFO", "A2": "INFO"})}
    second = {(CATALOGUE, "1.1"): procedure_rows("1.1", {"A2": "FULL_ONLINE"}, version=2),
              (CATALOGUE, "1.2"): procedure_rows("1.2", {"A1": "INFO"})}
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.begin() as conn:
            generation = store.claim(conn, [(CATALOGUE, 0)])
            store.write(conn, batch(first, {(CATALOGUE, 0): 2}), generation,
                        new={(CATALOGUE, "1.1")})
        assert "DELETE" not in statements
        with engine.begin() as conn:  # 1.1 is rewritten (its rows deleted), 1.2 is new
            store.write(conn, batch(second, {(CATALOGUE, 0): 4}, seq=2), generation,
                        new={(CATALOGUE, "1.2")})
        deletes = [s for s in statements if s == "DELETE"]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(deletes) == 2  # one per table 1.1 owns rows in, none for 1.2
    with engine.begin() as conn:
        agencies = store.read_rows(conn, "procedure_agencies")
    assert [(r["procedure_code"], r["agency_code"], r["service_level"]) for r in agencies] == [
        ("1.1", "A2", "FULL_ONLINE"), ("1.2", "A1", "INFO")]


def test_snapshots_round_trip_and_unknown_aggregates_are_absent(
    engine: Engine, store: ProjectionStore
) -> None:
    keys = [(DOSSIERS, f"d{i:05}") for i in range(1200)] + [(CATALOGUE, "1.1")]
    snapshots = {k: Snapshot(k, 3, None if i % 3 else 2, None if i % 5 == 0 else '{"a":[1]}')
                 for i, k in enumerate(keys)}
    with engine.begin() as conn:
        generation = store.claim(conn, [P0])
        store.write(conn, BatchResult(snapshots=snapshots, positions={P0: 1}), generation)
    changed = Snapshot(keys[7], 4, None, '{"b":2}')
    with engine.begin() as conn:
        store.write(conn, BatchResult(snapshots={changed.key: changed}, positions={P0: 2}),
                    generation)

    with engine.begin() as conn:
        loaded = store.load_snapshots(conn, [*keys, (DOSSIERS, "nope"), (CATALOGUE, "d00001")])
    assert loaded == {**snapshots, changed.key: changed}


def test_rows_that_do_not_fit_their_table_are_refused_and_nothing_is_written(
    engine: Engine, store: ProjectionStore
) -> None:
    with engine.begin() as conn:
        generation = store.claim(conn, [P0])
    before = everything(store, engine)
    missing = dossier_row("d1")
    del missing["channel"]
    bad_batches = {
        "missing column": {(DOSSIERS, "d1"): {"dossiers": [missing]}},
        "unknown column": {(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1", colour="red")]}},
        "foreign owner": {(DOSSIERS, "d1"): {"dossiers": [dossier_row("d2")]}},
        "naive datetime": {(DOSSIERS, "d1"): {
            "dossiers": [dossier_row("d1", received_at=dt.datetime(2020, 1, 1))]}},
    }
    for reason, rows in bad_batches.items():
        with pytest.raises(InvalidRowsError), engine.begin() as conn:
            store.write(conn, batch(rows, {P0: 1}), generation)
        assert everything(store, engine) == before, reason
    with pytest.raises(UnknownTableError), engine.begin() as conn:
        store.write(conn, batch({(DOSSIERS, "d1"): {"nope": []}}, {P0: 1}), generation)
    with pytest.raises(UnknownTableError), engine.begin() as conn:
        store.read_rows(conn, "snapshots")
    assert everything(store, engine) == before


# -- positions and fencing ------------------------------------------------------------------


def test_claim_starts_new_partitions_at_zero_and_raises_the_generation(
    engine: Engine, store: ProjectionStore
) -> None:
    with engine.begin() as conn:
        first = store.claim(conn, [P0, P1])
        store.write(conn, batch({}, {P0: 7}), first)
        second = store.claim(conn, [P1, (DOSSIERS, 2)])
        third = store.claim(conn, [])
        assert store.positions(conn) == {P0: 7, P1: 0, (DOSSIERS, 2): 0}
    assert first < second < third


def test_positions_persist_across_engines(database_url: str, store: ProjectionStore) -> None:
    with store.engine.begin() as conn:
        generation = store.claim(conn, [P0, P1])
        store.write(conn, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}},
                                {P0: 41, P1: 3}), generation)
    store.engine.dispose()

    other = make_engine(database_url)
    try:
        again = ProjectionStore(other, store.projection, 1, specs=portal.TABLES)
        with other.begin() as conn:
            assert again.positions(conn) == {P0: 41, P1: 3}
            assert [r["dossier_id"] for r in again.read_rows(conn, "dossiers")] == ["d1"]
            # the old owner can still write: nobody claimed since
            assert again.write(conn, batch({}, {P0: 42}), generation)
    finally:
        other.dispose()


def test_a_stale_generation_is_fenced_and_leaves_nothing_written(
    engine: Engine, store: ProjectionStore
) -> None:
    with engine.begin() as conn:
        zombie = store.claim(conn, [P0, P1])
        store.write(conn, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}},
                                {P0: 10}), zombie)
    with engine.begin() as conn:
        successor = store.claim(conn, [P1])  # a rebalance moved P1 to another worker
    before = everything(store, engine)

    late = batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1", 2)]},
                  (DOSSIERS, "d9"): {"dossiers": [dossier_row("d9")]}},
                 {P0: 11, P1: 5}, parked=[parked_record("d8", 3, 4, partition=1)], seq=2)
    with pytest.raises(FencedError), engine.begin() as conn:
        store.write(conn, late, zombie)

    assert everything(store, engine) == before
    with engine.begin() as conn:  # the zombie still owns P0; the new owner writes P1
        assert store.write(conn, batch({}, {P0: 11}), zombie)
        assert store.write(conn, batch({}, {P1: 5}), successor)
        with pytest.raises(FencedError):
            store.write(conn, batch({}, {P0: 12}), successor)
    with engine.begin() as conn:
        assert store.positions(conn) == {P0: 11, P1: 5}


def test_the_guarded_position_update_fences_by_itself(
    engine: Engine, store: ProjectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the early check, the UPDATE ... WHERE generation = :g still stops the zombie,
    # after its rows went in: the rollback takes them out again.
    with engine.begin() as conn:
        zombie = store.claim(conn, [P0])
        store.claim(conn, [P0])
    before = everything(store, engine)
    monkeypatch.setattr(positions_module, "check", lambda *args: True)

    late = batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}}, {P0: 5},
                 parked=[parked_record("d2", 2, 4)])
    with pytest.raises(FencedError), engine.begin() as conn:
        store.write(conn, late, zombie)

    assert everything(store, engine) == before


def test_an_unclaimed_partition_is_fenced(engine: Engine, store: ProjectionStore) -> None:
    with engine.begin() as conn:
        generation = store.claim(conn, [P0])
    with pytest.raises(FencedError), engine.begin() as conn:
        store.write(conn, batch({}, {P0: 1, P1: 1}), generation)


def test_the_same_batch_written_twice_is_a_no_op(engine: Engine, store: ProjectionStore) -> None:
    result = batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}}, {P0: 3},
                   parked=[parked_record("d2", 5, 2)])
    with engine.begin() as conn:
        generation = store.claim(conn, [P0])
        assert store.write(conn, result, generation) is True
    after_first = everything(store, engine)

    with engine.begin() as conn:
        assert store.write(conn, result, generation) is False

    assert everything(store, engine) == after_first
    assert len(after_first["parked"]) == 1


def test_a_batch_may_leave_some_of_its_partitions_where_they_were(
    engine: Engine, store: ProjectionStore
) -> None:
    # e.g. apply_batch deferred the first record of P1: P1's position stays, P0's moves
    with engine.begin() as conn:
        generation = store.claim(conn, [P0, P1])
        store.write(conn, batch({}, {P0: 5, P1: 5}), generation)
        assert store.write(conn, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}},
                                       {P0: 9, P1: 5}), generation)
        assert store.positions(conn) == {P0: 9, P1: 5}
        assert len(store.read_rows(conn, "dossiers")) == 1


@pytest.mark.e2e
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_workers_on_different_partitions_do_not_block_each_other(
    engine: Engine, store: ProjectionStore
) -> None:
    with engine.begin() as conn:
        first = store.claim(conn, [P0])
    with engine.begin() as conn:
        second = store.claim(conn, [P1])
    with engine.connect() as busy:
        transaction = busy.begin()  # worker 1 is in the middle of a batch on P0
        store.write(busy, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}},
                                {P0: 3}), first)
        with engine.begin() as conn:  # worker 2 writes its own batch on P1 meanwhile
            conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            store.write(conn, batch({(DOSSIERS, "d2"): {"dossiers": [dossier_row("d2")]}},
                                    {P1: 4}), second)
        transaction.commit()
    with engine.begin() as conn:
        assert store.positions(conn) == {P0: 3, P1: 4}
        assert [r["dossier_id"] for r in store.read_rows(conn, "dossiers")] == ["d1", "d2"]


def test_positions_cannot_go_backwards(engine: Engine, store: ProjectionStore) -> None:
    with engine.begin() as conn:
        generation = store.claim(conn, [P0, P1])
        store.write(conn, batch({}, {P0: 10, P1: 10}), generation)
    before = everything(store, engine)

    older = batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}}, {P0: 11, P1: 9})
    with pytest.raises(PositionRegressedError), engine.begin() as conn:
        store.write(conn, older, generation)

    assert everything(store, engine) == before


def test_a_result_without_positions_is_written(engine: Engine, store: ProjectionStore) -> None:
    # e.g. `dlq release` applying parked records: nothing new was consumed
    with engine.begin() as conn:
        assert store.write(conn, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1")]}},
                                       {}), generation=0)
        assert len(store.read_rows(conn, "dossiers")) == 1


def test_instants_and_dates_compare_in_sql_as_they_do_in_python(
    engine: Engine, store: ProjectionStore
) -> None:
    # Readers (the portal API) filter and sort in SQL through Core: the stored form must
    # agree with the bound form on both back-ends.
    received = [dt.datetime(2020, 11, 6, 1, 59, 59, 999999, tzinfo=dt.UTC),
                dt.datetime(2020, 11, 6, 9, 0, tzinfo=HANOI),  # = 02:00 UTC
                dt.datetime(2020, 11, 6, 2, 0, 0, 1, tzinfo=dt.UTC)]
    rows = {(DOSSIERS, f"d{i}"): {"dossiers": [dossier_row(f"d{i}", received_at=r)]}
            for i, r in enumerate(received)}
    with engine.begin() as conn:
        store.write(conn, batch(rows, {}), 0)
    table = store.tables.views["dossiers"]
    two_utc = dt.datetime(2020, 11, 6, 2, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        at_or_after = conn.execute(select(table.c.dossier_id)
                                   .where(table.c.received_at >= two_utc)
                                   .order_by(table.c.received_at)).scalars().all()
        exactly = conn.execute(select(table.c.dossier_id)
                               .where(table.c.received_at == two_utc)).scalars().all()
    assert at_or_after == ["d1", "d2"]
    assert exactly == ["d1"]


# -- parked records -------------------------------------------------------------------------


def test_parked_records_round_trip_in_seq_order_and_release_deletes_them(
    engine: Engine, store: ProjectionStore
) -> None:
    stuck = [parked_record("d1", 5, 20), parked_record("d1", 3, 12), parked_record("d1", 4, 15)]
    other = parked_record("d0", 2, 13)
    with engine.begin() as conn:
        generation = store.claim(conn, [P0])
        store.write(conn, batch({}, {P0: 16}, parked=[*stuck[:2], other]), generation)
        store.write(conn, batch({}, {P0: 21}, parked=[stuck[2]]), generation)

    by_seq = sorted(stuck, key=lambda p: p.aggregate_seq)
    with engine.begin() as conn:
        assert store.parked(conn, (DOSSIERS, "d1")) == by_seq
        assert store.parked(conn) == [other, *by_seq]
        assert store.release_parked(conn, (DOSSIERS, "d1")) == by_seq
    with engine.begin() as conn:
        assert store.parked(conn, (DOSSIERS, "d1")) == []
        assert store.release_parked(conn, (DOSSIERS, "d1")) == []
        assert store.parked(conn) == [other]


def test_a_record_without_key_parks_too(engine: Engine, store: ProjectionStore) -> None:
    keyless = ParkedRecord(SourceRecord(DOSSIERS, 0, 0, None, b""), (DOSSIERS, "d1"), 1)
    with engine.begin() as conn:
        store.write(conn, batch({}, {}, parked=[keyless]), 0)
        assert store.parked(conn) == [keyless]


# -- versions -------------------------------------------------------------------------------


def test_two_versions_of_a_projection_coexist(engine: Engine, new_store: Any) -> None:
    v1, v2 = new_store(1), new_store(2)
    with engine.begin() as conn:
        g1 = v1.claim(conn, [P0])
        g2 = v2.claim(conn, [P0])
        v1.write(conn, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1", 4)]}},
                             {P0: 100}), g1)
        v2.write(conn, batch({(DOSSIERS, "d1"): {"dossiers": [dossier_row("d1", 9)]}},
                             {P0: 7}), g2)

    with engine.begin() as conn:
        assert [r["status"] for r in v1.read_rows(conn, "dossiers")] == [4]
        assert [r["status"] for r in v2.read_rows(conn, "dossiers")] == [9]
        assert (v1.positions(conn), v2.positions(conn)) == ({P0: 100}, {P0: 7})
    v2.drop()
    with engine.begin() as conn:
        assert [r["status"] for r in v1.read_rows(conn, "dossiers")] == [4]
        assert v1.positions(conn) == {P0: 100}


def test_set_live_version_swaps_the_version_readers_use(engine: Engine, new_store: Any) -> None:
    v1 = new_store(1)
    v2 = new_store(2)
    name = v1.projection
    with engine.begin() as conn:
        assert live_version(conn, name) is None
        set_live_version(conn, name, 1)
        set_building_version(conn, name, 2)
        assert (live_version(conn, name), building_version(conn, name)) == (1, 2)

    with pytest.raises(RuntimeError), engine.begin() as conn:  # a swap that fails part-way
        set_live_version(conn, name, 2)
        raise RuntimeError("verification failed")
    with engine.begin() as conn:
        assert live_version(conn, name) == 1

    with engine.begin() as conn:
        set_live_version(conn, name, 2)
    with engine.begin() as conn:
        assert (live_version(conn, name), building_version(conn, name)) == (2, None)
    with pytest.raises(VersionInUseError):
        v2.drop()
    v1.drop()


# -- the store under the real pure core ------------------------------------------------------


@pytest.mark.parametrize("projection", ["portal", "onestop", "stats"])
def test_batches_written_through_the_store_equal_the_reference_fold(
    engine: Engine, projection: str
) -> None:
    policy = build_policies(b"portal-secret")[projection]
    events = [*catalogue(),
              *dossier("d1", ev.DossierReceived, ev.DossierForwarded),
              *dossier("d2", ev.DossierReceived, ev.FinancialObligationRequested,
                       ev.PaymentCompleted, ev.DossierResolved, ev.ResultDelivered),
              *dossier("d3", ev.DossierReceived, ev.DossierWithdrawn),
              make(ev.ProcedureAmended, "1.001612", 4, name="Cấp Giấy phép bán buôn rượu")]
    given = records(events, partitions=2)
    store = ProjectionStore(engine, projection, 800_000 + uuid.uuid4().int % 99_999)
    store.create()
    try:
        with engine.begin() as conn:
            generation = store.claim(conn, {(d.source.topic, d.source.partition) for d in given})
        for start in range(0, len(given), 4):  # small batches: aggregates span several
            chunk = given[start:start + 4]
            with engine.begin() as conn:
                snapshots = store.load_snapshots(conn, snapshot_keys(chunk))
                known = store.load_snapshots(conn, {(CATALOGUE, c) for c in ("1.001612",
                                                                             "H56.14", "H56.15")})
                result = apply_batch(chunk, snapshots, catalogue_from_snapshots(known),
                                     projection, policy, max_record_bytes=1 << 20)
                assert not result.rejections
                store.write(conn, result, generation)
        with engine.begin() as conn:
            assert store.dump(conn) == reference_fold(given, projection, policy)
    finally:
        store.drop()


# -- SQLite settings ------------------------------------------------------------------------


def test_sqlite_engines_use_wal_and_wait_for_locks(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/sub/dir/store.db")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        engine.dispose()


def test_sqlite_engines_for_replays_do_not_wait_for_the_disk(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/store.db", durable=False)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 0  # OFF
    finally:
        engine.dispose()


def test_postgresql_urls_default_to_psycopg_3() -> None:
    engine = make_engine("postgresql://user@127.0.0.1:1/db")
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"
