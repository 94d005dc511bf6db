"""The views render exactly the tables of docs/projections.md, with the right PII."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from projection_events import AGENCY, OTHER_AGENCY, PII, T0, catalogue, dossier, make

from projections.fold import fold
from projections.policy import applicant_hmac, build_policies
from projections.records import Rows
from projections.state import AggregateState, DossierState
from projections.views import TableSpec, onestop, portal, stats
from schemas import events as ev

KEY = b"portal-secret"
POLICIES = build_policies(KEY)
VIEWS: dict[str, tuple[dict[str, TableSpec], Callable[[AggregateState], Rows]]] = {
    "portal": (portal.TABLES, portal.render),
    "onestop": (onestop.TABLES, onestop.render),
    "stats": (stats.TABLES, stats.render),
}
DOC_TABLES = {
    "portal": {"sectors", "agencies", "procedures", "procedure_agencies", "dossiers"},
    "onestop": {"agency_procedures", "agency_dossiers"},
    "stats": {"dossier_facts", "application_versions", "procedure_versions", "agency_facts",
              "sector_facts"},
}
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "bool": (bool,), "date": (date,), "datetime": (datetime,),
    "json": (str,),
}


def states(projection: str, events: list[ev.Event]) -> list[AggregateState]:
    by_id: dict[str, AggregateState] = {}
    for e in events:
        by_id[e.aggregate_id] = fold(by_id.get(e.aggregate_id), e, POLICIES[projection])
    return list(by_id.values())


FULL = dossier("d1", ev.DossierReceived, ev.FinancialObligationRequested, ev.PaymentCompleted,
               ev.DossierForwarded, ev.SupplementRequested, ev.SupplementReceived,
               ev.DossierResolved, ev.ResultDelivered)
EVERYTHING = [*catalogue(), make(ev.AgencyDissolved, OTHER_AGENCY, 2), *FULL]


def rendered(projection: str, events: list[ev.Event] = EVERYTHING) -> list[Rows]:
    _, render = VIEWS[projection]
    return [render(s) for s in states(projection, events)]


def all_rows(
    projection: str, events: list[ev.Event] = EVERYTHING
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rows in rendered(projection, events):
        for table, table_rows in rows.items():
            out.setdefault(table, []).extend(table_rows)
    return out


@pytest.mark.parametrize("projection", list(VIEWS))
def test_the_tables_are_the_documented_ones(projection: str) -> None:
    tables, _ = VIEWS[projection]
    assert set(tables) == DOC_TABLES[projection]
    assert set(all_rows(projection)) == DOC_TABLES[projection]


@pytest.mark.parametrize("projection", list(VIEWS))
def test_rows_have_exactly_the_columns_and_value_types_of_their_table(projection: str) -> None:
    tables, _ = VIEWS[projection]
    for table, rows in all_rows(projection).items():
        spec = tables[table]
        for row in rows:
            assert tuple(row) == spec.column_names
            for col in spec.columns:
                value = row[col.name]
                if value is None:
                    assert col.nullable, f"{table}.{col.name} is null"
                    continue
                assert isinstance(value, PYTHON_TYPES[col.type]), f"{table}.{col.name}"
                if col.type == "int":
                    assert not isinstance(value, bool)
                if col.type == "date":
                    assert not isinstance(value, datetime)
                if col.type == "datetime":
                    assert value.utcoffset() == timedelta(0)
                if col.type == "json":
                    assert json.dumps(json.loads(value), sort_keys=True,
                                      separators=(",", ":"), ensure_ascii=False) == value


@pytest.mark.parametrize("projection", list(VIEWS))
def test_primary_keys_are_unique(projection: str) -> None:
    tables, _ = VIEWS[projection]
    for table, rows in all_rows(projection).items():
        keys = [tuple(r[c] for c in tables[table].primary_key) for r in rows]
        assert len(keys) == len(set(keys)), table


def test_the_portal_never_holds_names_phones_emails_or_raw_ids() -> None:
    rows = all_rows("portal")
    text = repr(rows)
    for secret in PII:
        assert secret not in text
    (row,) = rows["dossiers"]
    assert row["applicant_kind"] == "CITIZEN"
    assert row["applicant_id_hmac"] == applicant_hmac(KEY, "001190012345")


def test_statistics_hold_no_applicant_data_at_all() -> None:
    rows = all_rows("stats")
    text = repr(rows)
    for secret in PII:
        assert secret not in text
    assert not any(col.startswith("applicant") for spec in stats.TABLES.values()
                   for col in spec.column_names)


def test_onestop_keeps_the_applicant_for_the_department() -> None:
    rows = all_rows("onestop")["agency_dossiers"]
    assert {r["applicant_name"] for r in rows} == {PII[0]}
    assert {r["applicant_id_number"] for r in rows} == {PII[1]}


def test_a_forward_gives_current_and_previous_rows_in_onestop() -> None:
    given = dossier("d1", ev.DossierReceived, ev.DossierForwarded)
    (rows,) = rendered("onestop", given)
    by_agency = {r["agency_code"]: r for r in rows["agency_dossiers"]}
    assert by_agency[AGENCY]["role"] == "PREVIOUS" and by_agency[AGENCY]["forwarded_from"] is None
    assert by_agency[OTHER_AGENCY]["role"] == "CURRENT"
    assert by_agency[OTHER_AGENCY]["forwarded_from"] == AGENCY
    (portal_rows,) = rendered("portal", given)
    assert portal_rows["dossiers"][0]["agency_code"] == OTHER_AGENCY
    (facts,) = rendered("stats", given)
    assert facts["dossier_facts"][0]["handling_agency_code"] == AGENCY


def test_a_dossier_sent_back_to_an_earlier_agency_is_current_there_again() -> None:
    given = [*dossier("d1", ev.DossierReceived, ev.DossierForwarded),
             make(ev.DossierForwarded, "d1", 4, from_agency_code=OTHER_AGENCY,
                  to_agency_code=AGENCY)]
    (rows,) = rendered("onestop", given)
    roles = {r["agency_code"]: (r["role"], r["forwarded_from"]) for r in rows["agency_dossiers"]}
    assert roles == {AGENCY: ("CURRENT", OTHER_AGENCY), OTHER_AGENCY: ("PREVIOUS", AGENCY)}


def test_a_dossier_is_visible_to_its_agency_before_receipt() -> None:
    (rows,) = rendered("onestop", dossier("d1"))
    (row,) = rows["agency_dossiers"]
    assert (row["agency_code"], row["role"], row["status"]) == (AGENCY, "CURRENT", 1)


@pytest.mark.parametrize(("resolved_after", "expected"), [
    (timedelta(days=3), "EARLY"), (timedelta(days=7), "ON_TIME"), (timedelta(days=8), "LATE")])
def test_on_time_state_compares_local_dates(resolved_after: timedelta, expected: str) -> None:
    resolved = make(ev.DossierResolved, "d1", 3, at=T0 + resolved_after)
    (rows,) = rendered("portal", [*dossier("d1", ev.DossierReceived), resolved])
    assert rows["dossiers"][0]["on_time_state"] == expected


def test_the_statistics_facts_of_a_dossier() -> None:
    (rows,) = rendered("stats", FULL)
    (row,) = rows["dossier_facts"]
    assert row["received_on"] == date(2020, 11, 6)
    assert row["due_on"] == date(2020, 11, 13)
    assert (row["end_on"], row["end_kind"], row["outcome"]) == (
        date(2020, 11, 6), "RESOLVED", "APPROVED")
    assert json.loads(row["status_history"]) == [
        ["2020-11-06", s] for s in (1, 2, 6, 2, 4, 5, 4, 9, 10)]
    assert json.loads(row["obligation_on"]) == ["2020-11-06"]
    assert row["online_paid_on"] == date(2020, 11, 6)


def test_a_withdrawn_dossier_ends_withdrawn() -> None:
    (rows,) = rendered("stats", dossier("d1", ev.DossierReceived, ev.DossierWithdrawn))
    assert rows["dossier_facts"][0]["end_kind"] == "WITHDRAWN"


def test_catalogue_rows() -> None:
    rows = all_rows("stats")
    assert [(r["agency_code"], r["seq"], r["active"]) for r in rows["application_versions"]] == [
        (AGENCY, 2, True), (OTHER_AGENCY, 3, True)]
    assert [(r["seq"], r["active"]) for r in rows["procedure_versions"]] == [(1, True)]
    dissolved = {r["agency_code"]: r["dissolved_from"] for r in rows["agency_facts"]}
    assert dissolved == {AGENCY: None, OTHER_AGENCY: date(2025, 7, 1)}
    (procedure,) = all_rows("portal")["procedures"]
    assert json.loads(procedure["documents"]) == [
        {"copies": 0, "name": "Đơn đề nghị", "originals": 1}]
    assert procedure["version"] == 1 and procedure["abolished_from"] is None


@pytest.mark.parametrize("projection", list(VIEWS))
def test_calendars_render_nothing(projection: str) -> None:
    calendar = states(projection, [make(ev.WorkingCalendarPublished, "calendar-2020", 1)])
    assert VIEWS[projection][1](calendar[0]) == {}


def test_instants_are_rendered_in_utc() -> None:
    hanoi = timezone(timedelta(hours=7))
    submitted = make(ev.DossierSubmitted, "d1", 1, at=datetime(2020, 11, 6, 9, 0, tzinfo=hanoi))
    (state,) = states("portal", [submitted])
    assert isinstance(state, DossierState)
    updated_at = portal.render(state)["dossiers"][0]["updated_at"]
    assert updated_at.tzinfo is UTC and updated_at == datetime(2020, 11, 6, 2, 0, tzinfo=UTC)
