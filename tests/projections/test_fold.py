"""`fold` and the states it builds: lifecycle facts, policies, catalogue history, JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from projection_events import (
    AGENCY,
    APPLICANT,
    OTHER_AGENCY,
    PROCEDURE,
    SECTOR,
    T0,
    catalogue,
    dossier,
    make,
)

from projections.fold import FOLDERS, FoldError, can_derive, derive_state, fold
from projections.localtime import local_date
from projections.policy import Policy, applicant_hmac, build_policies
from projections.state import (
    AggregateState,
    DossierState,
    ProcedureState,
    state_from_json,
)
from schemas import events as ev

KEY = b"portal-secret"
POLICIES = build_policies(KEY)


def fold_all(events: list[ev.Event], policy: Policy = POLICIES["onestop"]) -> AggregateState:
    state: AggregateState | None = None
    for e in events:
        state = fold(state, e, policy)
    assert state is not None
    return state


def fold_dossier(events: list[ev.Event], policy: Policy = POLICIES["onestop"]) -> DossierState:
    state = fold_all(events, policy)
    assert isinstance(state, DossierState)
    return state


def test_every_event_type_has_a_folder() -> None:
    assert set(FOLDERS) == set(ev.EVENT_TYPES.values())


def test_a_dossier_keeps_its_lifecycle_facts() -> None:
    given = dossier("d1", ev.DossierReceived, ev.DossierStepTransferred, ev.DossierResolved,
                    ev.ResultDelivered, ev.SatisfactionRated)
    when = fold_dossier(given)
    assert when.status == 10
    assert when.procedure_code == PROCEDURE and when.agency_code == AGENCY
    assert when.handling_agency_code == AGENCY
    assert when.dossier_code == "000.00.14.H56-201106-0001"
    assert when.received_at == T0 + timedelta(hours=1)
    assert when.due_at == T0 + timedelta(days=7)
    assert when.resolved_at == T0 + timedelta(hours=3) and when.outcome == "APPROVED"
    assert when.updated_at == given[-1].occurred_at
    # one history entry per change of status: 4 -> 4 and 10 -> 10 add nothing
    assert [s for _, s in when.status_history] == [1, 2, 4, 9, 10]
    assert all(d == date(2020, 11, 6) for d, _ in when.status_history)


def test_history_dates_are_local_dates() -> None:
    late_evening_utc = datetime(2020, 11, 5, 17, 30, tzinfo=UTC)  # 00:30 on the 6th locally
    when = fold_dossier(dossier("d1", start=late_evening_utc))
    assert when.status_history == ((date(2020, 11, 6), 1),)
    assert local_date(datetime(2020, 11, 6, 0, 30, tzinfo=timezone(timedelta(hours=7)))) == \
        date(2020, 11, 6)


@pytest.mark.parametrize(("before", "path"), [
    (2, (ev.DossierReceived,)),
    (4, (ev.DossierReceived, ev.DossierStepTransferred)),
])
def test_payment_returns_to_the_status_before_the_obligation(
        before: int, path: tuple[type[ev.Event], ...]) -> None:
    when = fold_dossier(dossier("d1", *path, ev.FinancialObligationRequested, ev.PaymentCompleted))
    assert when.status == before
    assert when.status_before_payment is None
    assert when.obligation_on == (date(2020, 11, 6),)
    assert when.online_paid_on == date(2020, 11, 6)


def test_a_payment_after_resolution_leaves_9_and_only_the_first_online_payment_counts() -> None:
    given = dossier("d1", ev.DossierReceived, ev.FinancialObligationRequested,
                    ev.PaymentCompleted, ev.DossierResolved, ev.PaymentCompleted,
                    PaymentCompleted={"method": ev.PaymentMethod.CASH})
    cash_first = fold_dossier(given)
    assert cash_first.status == 9 and cash_first.online_paid_on is None
    online_later = make(ev.PaymentCompleted, "d1", 7, at=T0 + timedelta(days=2))
    assert fold_dossier([*given, online_later]).online_paid_on == date(2020, 11, 8)


def test_a_supplement_replaces_the_due_date_only_when_it_gives_one() -> None:
    new_due = T0 + timedelta(days=20)
    given = dossier("d1", ev.DossierReceived, ev.SupplementRequested, ev.SupplementReceived)
    assert fold_dossier(given).due_at == T0 + timedelta(days=7)
    moved = make(ev.SupplementReceived, "d1", 4, new_due_at=new_due)
    assert fold_dossier([*given[:3], moved]).due_at == new_due


def test_forwards_record_every_agency_in_order() -> None:
    given = dossier("d1", ev.DossierReceived, ev.DossierForwarded)
    when = fold_dossier(given)
    assert when.hops == ((AGENCY, None), (OTHER_AGENCY, AGENCY))
    assert when.current_agency_code == OTHER_AGENCY
    assert when.handling_agency_code == AGENCY  # the receiving agency stays for statistics


def test_withdrawal_is_an_end() -> None:
    when = fold_dossier(dossier("d1", ev.DossierReceived, ev.DossierWithdrawn))
    assert when.status == 7 and when.withdrawn_at == T0 + timedelta(hours=2)


def test_onestop_keeps_the_applicant() -> None:
    when = fold_dossier(dossier("d1"), POLICIES["onestop"])
    assert (when.applicant_kind, when.applicant_name, when.applicant_id_number,
            when.applicant_phone, when.applicant_email) == (
        "CITIZEN", APPLICANT.name, APPLICANT.id_number, APPLICANT.phone, APPLICANT.email)
    assert when.applicant_id_hmac is None


def test_the_portal_keeps_only_the_kind_and_a_keyed_hmac_of_the_id() -> None:
    when = fold_dossier(dossier("d1"), POLICIES["portal"])
    assert when.applicant_kind == "CITIZEN"
    assert when.applicant_id_hmac == applicant_hmac(KEY, "001190012345")
    assert when.applicant_id_hmac != applicant_hmac(b"other key", "001190012345")
    assert when.applicant_name is None and when.applicant_id_number is None
    assert when.applicant_phone is None and when.applicant_email is None
    assert APPLICANT.id_number not in when.to_json()


def test_the_portal_without_a_key_keeps_no_id_at_all() -> None:
    when = fold_dossier(dossier("d1"), build_policies(None)["portal"])
    assert when.applicant_id_hmac is None and when.applicant_id_number is None


def test_statistics_keep_no_applicant_at_all() -> None:
    when = fold_dossier(dossier("d1"), POLICIES["stats"])
    assert not any(v for k, v in _fields(when).items() if k.startswith("applicant"))


def test_the_hmac_ignores_blanks_and_case() -> None:
    assert applicant_hmac(KEY, " ab123 ") == applicant_hmac(KEY, "AB123")


def test_policy_repr_never_shows_the_key() -> None:
    assert "portal-secret" not in repr(POLICIES["portal"])


def test_folding_an_illegal_event_is_a_programming_error() -> None:
    state = fold_dossier(dossier("d1"))
    with pytest.raises(FoldError, match="not allowed in status 1"):
        fold(state, make(ev.DossierResolved, "d1", 2), POLICIES["onestop"])


def test_a_procedure_keeps_versions_and_application_history() -> None:
    given = [
        *[e for e in catalogue() if e.aggregate_id == PROCEDURE],
        make(ev.ServiceLevelChanged, PROCEDURE, 4),
        make(ev.ProcedureAmended, PROCEDURE, 5, name="Tên mới", effective_from=date(2021, 1, 1)),
        make(ev.ProcedureWithdrawnFromAgency, PROCEDURE, 6, agency_code=OTHER_AGENCY),
        make(ev.ProcedureAbolished, PROCEDURE, 7, effective_from=date(2022, 1, 1)),
    ]
    when = fold_all(given)
    assert isinstance(when, ProcedureState)
    assert when.version == 2 and when.name == "Tên mới"
    assert when.abolished_from == date(2022, 1, 1)
    assert when.applications[AGENCY].service_level == "FULL_ONLINE"
    assert when.applications[AGENCY].effective_from == date(2020, 12, 1)
    assert when.applications[AGENCY].online_payment is False  # other fields carried over
    assert when.applications[OTHER_AGENCY].active is False
    assert [(v.seq, v.application.agency_code) for v in when.application_versions] == [
        (2, AGENCY), (3, OTHER_AGENCY), (4, AGENCY), (6, OTHER_AGENCY)]
    assert [(v.seq, v.valid_from, v.sector_code, v.active) for v in when.procedure_versions] == [
        (1, date(2020, 1, 1), SECTOR, True), (5, date(2021, 1, 1), SECTOR, True),
        (7, date(2022, 1, 1), SECTOR, False)]


def test_agencies_sectors_and_calendars() -> None:
    agency = fold_all([make(ev.AgencyRegistered, AGENCY, 1),
                       make(ev.AgencyDissolved, AGENCY, 2, successor_code="H56.20")])
    assert agency.to_json() == state_from_json(agency.to_json()).to_json()
    assert getattr(agency, "dissolved_from", None) == date(2025, 7, 1)
    calendar = fold_all([make(ev.WorkingCalendarPublished, "calendar-2020", 1)])
    assert state_from_json(calendar.to_json()) == calendar


def _every_state_kind() -> list[AggregateState]:
    by_id: dict[str, AggregateState] = {}
    for e in catalogue():
        by_id[e.aggregate_id] = fold(by_id.get(e.aggregate_id), e, POLICIES["onestop"])
    full = dossier("d1", ev.DossierReceived, ev.FinancialObligationRequested,
                   ev.PaymentCompleted, ev.DossierForwarded, ev.SupplementRequested,
                   ev.SupplementReceived, ev.DossierResolved)
    for name, policy in POLICIES.items():
        by_id[f"d-{name}"] = fold_all(full, policy)
    return list(by_id.values())


@pytest.mark.parametrize("state", _every_state_kind(), ids=lambda s: type(s).__name__)
def test_states_round_trip_through_deterministic_tagged_json(state: AggregateState) -> None:
    text = state.to_json()
    again = state_from_json(text)
    assert again == state
    assert again.to_json() == text
    canonical = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    assert text == canonical  # compact, sorted keys


def test_unknown_state_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not an aggregate state"):
        state_from_json('{"k": "spaceship"}')


def _fields(state: DossierState) -> dict[str, object]:
    return {name: getattr(state, name) for name in DossierState._fields}


# --- one fold, several policies -------------------------------------------------------------

_WALK = (ev.DossierReceived, ev.FinancialObligationRequested, ev.PaymentCompleted,
         ev.DossierForwarded, ev.DossierResolved)
_NO_KEY = build_policies(None)


@pytest.mark.parametrize("applicant", [
    APPLICANT,
    ev.Applicant(kind=ev.ApplicantKind.BUSINESS, name="Công ty \"A\" \\ B\n", id_number=None,
                 phone=None, email=None),
    ev.Applicant(kind=ev.ApplicantKind.OTHER, name="x", id_number="", phone="", email=""),
], ids=["full", "awkward", "empty"])
def test_each_policys_fold_is_derived_from_a_policy_keeping_at_least_as_much(
    applicant: ev.Applicant,
) -> None:
    events = dossier("d1", *_WALK)
    events[0] = make(ev.DossierSubmitted, "d1", 1, applicant=applicant)
    policies = [*POLICIES.values(), *_NO_KEY.values(),
                Policy(keep_applicant=False, hmac_key=b"other-key")]
    checked = 0
    for source in policies:
        folded = fold_all(events, source)
        for target in policies:
            if can_derive(source, target):
                assert derive_state(folded, source, target) == fold_all(events, target)
                checked += 1
    assert checked >= 12
    assert all(can_derive(POLICIES["onestop"], p) for p in policies)


def test_what_a_policy_dropped_cannot_be_derived_back() -> None:
    onestop, portal, stats = POLICIES["onestop"], POLICIES["portal"], POLICIES["stats"]
    assert can_derive(portal, stats) and not can_derive(stats, portal)
    assert not can_derive(portal, onestop) and not can_derive(stats, onestop)
    assert not can_derive(portal, Policy(keep_applicant=False, hmac_key=b"other-key"))
    assert not can_derive(_NO_KEY["portal"], portal)  # no ID number, no HMAC to give


def test_catalogue_states_do_not_depend_on_the_policy() -> None:
    procedure = fold_all([e for e in catalogue() if e.aggregate_id == PROCEDURE])
    assert isinstance(procedure, ProcedureState) and procedure.applications
    assert derive_state(procedure, POLICIES["onestop"], POLICIES["stats"]) is procedure


@pytest.mark.parametrize("applicant", [
    APPLICANT,
    ev.Applicant(kind=ev.ApplicantKind.BUSINESS, name="Công ty \"A\" \\ B\n\t\u0001 🏛",
                 id_number=None, phone=None, email="a\u2028b@example.vn"),
], ids=["full", "awkward"])
@pytest.mark.parametrize("walk", [(), _WALK, (ev.DossierWithdrawn,),
                                  (ev.DossierReceived, ev.DossierForwarded, ev.DossierForwarded)])
def test_the_dossier_json_written_directly_is_the_generic_encoders_text(
    applicant: ev.Applicant, walk: tuple[type[ev.Event], ...],
) -> None:
    events = dossier("d1", *walk)
    events[0] = make(ev.DossierSubmitted, "d1", 1, applicant=applicant)
    for policy in POLICIES.values():
        state = fold_dossier(events, policy)
        assert state.to_json() == state.dict_json()
        assert state_from_json(state.to_json()) == state
