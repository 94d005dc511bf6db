"""The reference fold and the canonical dump the store tests compare against."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from projection_events import PII, catalogue, dossier, make, records, undecodable

from projections.batch import apply_batch
from projections.policy import build_policies
from projections.records import AggregateKey, Rows, Snapshot
from projections.reference import (
    VIEW_TABLES,
    canonical_dump,
    canonical_rows,
    canonical_value,
    catalogue_from_snapshots,
    dump_digest,
    reference_fold,
)
from projections.views import table
from schemas import events as ev

POLICIES = build_policies(b"k")
DOSSIERS = [
    *dossier("d1", ev.DossierReceived, ev.DossierForwarded, ev.DossierResolved),
    *dossier("d2", ev.DossierReceived, ev.FinancialObligationRequested, ev.PaymentCompleted),
    *dossier("d3", ev.DossierIntakeRefused),
]
EVENTS = [*catalogue(), *DOSSIERS]


@pytest.mark.parametrize("projection", ["portal", "onestop", "stats"])
def test_the_dump_does_not_depend_on_cross_topic_order(projection: str) -> None:
    catalogue_first = reference_fold(records(EVENTS), projection, POLICIES[projection])
    dossiers_first = reference_fold(records([*DOSSIERS, *catalogue()]), projection,
                                    POLICIES[projection])
    assert catalogue_first == dossiers_first
    assert dump_digest(catalogue_first) == dump_digest(dossiers_first)


@pytest.mark.parametrize("projection", ["portal", "onestop", "stats"])
def test_the_dump_equals_applying_the_log_in_small_batches(projection: str) -> None:
    recs = records(EVENTS)
    snapshots: dict[AggregateKey, Snapshot] = {}
    rows: dict[AggregateKey, Rows] = {}
    for i in range(0, len(recs), 3):
        result = apply_batch(recs[i:i + 3], snapshots, catalogue_from_snapshots(snapshots),
                             projection, POLICIES[projection], max_record_bytes=1 << 20)
        snapshots.update(result.snapshots)
        rows.update(result.rows)
    assert canonical_dump(projection, rows.values()) == reference_fold(
        recs, projection, POLICIES[projection])


def test_the_dump_has_every_table_sorted_by_primary_key_in_normal_form() -> None:
    dump = reference_fold(records(EVENTS), "stats", POLICIES["stats"])
    assert list(dump) == sorted(VIEW_TABLES["stats"])
    facts = dump["dossier_facts"]
    assert [row[0] for row in facts] == ["d1", "d2", "d3"]
    for rows in dump.values():
        for row in rows:
            assert all(v is None or type(v) in (str, int) for v in row)


def test_rejected_and_undecodable_records_leave_no_rows() -> None:
    recs = records([*EVENTS, make(ev.DossierSubmitted, "d9", 1, agency_code="H56.99")])
    dump = reference_fold([*recs, undecodable(ev.DOSSIER_TOPIC, 0, 999)], "portal",
                          POLICIES["portal"])
    assert [row[0] for row in dump["dossiers"]] == ["d1", "d2", "d3"]


def test_the_portal_dump_holds_no_pii() -> None:
    text = repr(reference_fold(records(EVENTS), "portal", POLICIES["portal"]))
    assert not [secret for secret in PII if secret in text]


SPEC = table("t", "id:str", "at:datetime?", "on:date?", "ok:bool", "doc:json", "n:int",
             primary_key=("id",), owner="id")


def test_canonical_rows_normalise_what_a_database_returns() -> None:
    from_core = [{"id": "b", "at": datetime(2020, 11, 6, 2, 15, tzinfo=UTC),
                  "on": date(2020, 11, 6), "ok": True, "doc": '{"a":1,"b":[1,2]}', "n": 3},
                 {"id": "a", "at": None, "on": None, "ok": False, "doc": "[]", "n": 0}]
    from_sql = [{"id": "a", "at": None, "on": None, "ok": 0, "doc": [], "n": 0},
                {"id": "b", "at": datetime(2020, 11, 6, 9, 15,
                                           tzinfo=timezone(timedelta(hours=7))),
                 "on": "2020-11-06", "ok": 1, "doc": '{ "b": [1, 2], "a": 1 }', "n": 3}]
    naive_utc = [{**from_sql[0]}, {**from_sql[1], "at": datetime(2020, 11, 6, 2, 15)}]
    expected = [("a", None, None, 0, "[]", 0),
                ("b", "2020-11-06T02:15:00.000000+00:00", "2020-11-06", 1,
                 '{"a":1,"b":[1,2]}', 3)]
    assert canonical_rows(SPEC, from_core) == expected
    assert canonical_rows(SPEC, from_sql) == expected
    assert canonical_rows(SPEC, naive_utc) == expected


def test_a_datetime_in_a_date_column_is_refused() -> None:
    with pytest.raises(TypeError):
        canonical_value("date", datetime(2020, 1, 1, tzinfo=UTC))


def test_the_digest_changes_with_any_value() -> None:
    dump = reference_fold(records(EVENTS), "stats", POLICIES["stats"])
    changed = {**dump, "sector_facts": [("G15", "Công thương!")]}
    assert dump_digest(dump) == dump_digest(dict(reversed(list(dump.items()))))
    assert dump_digest(dump) != dump_digest(changed)
