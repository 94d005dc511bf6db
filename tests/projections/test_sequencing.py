"""`decide`: duplicates, parking, gaps, illegal transitions and references, with reasons."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from projection_events import AGENCY, OTHER_AGENCY, PROCEDURE, T0, catalogue, dossier, make

from projections.fold import fold
from projections.policy import build_policies
from projections.sequencing import (
    APPLY,
    Deferred,
    Duplicate,
    Head,
    MemoryCatalogue,
    Parked,
    Reject,
    decide,
)
from projections.state import AgencyState, AggregateState, ProcedureState
from schemas import events as ev

POLICY = build_policies(b"k")["onestop"]


def caught_up_catalogue(
    events: list[ev.Event] | None = None, caught_up: bool = True
) -> MemoryCatalogue:
    states: dict[str, AggregateState] = {}
    for e in events if events is not None else catalogue():
        states[e.aggregate_id] = fold(states.get(e.aggregate_id), e, POLICY)
    return MemoryCatalogue(
        {k: s for k, s in states.items() if isinstance(s, ProcedureState)},
        {k: s for k, s in states.items() if isinstance(s, AgencyState)},
        caught_up,
    )


CATALOGUE = caught_up_catalogue()
BEHIND = caught_up_catalogue([], caught_up=False)


def head_after(events: list[ev.Event]) -> Head:
    state = None
    for e in events:
        assert decide(Head(e.aggregate_seq - 1, None, state), e, CATALOGUE) == APPLY
        state = fold(state, e, POLICY)
    return Head(events[-1].aggregate_seq if events else 0, None, state)


def test_an_event_at_or_below_last_seq_is_a_duplicate() -> None:
    given = head_after(dossier("d1", ev.DossierReceived, ev.DossierStepTransferred))
    for seq in (1, 2, 3):
        assert isinstance(decide(given, make(ev.DossierResumed, "d1", seq), CATALOGUE), Duplicate)


def test_a_parked_aggregate_holds_the_next_events_back() -> None:
    given = Head(last_seq=5, parked_from_seq=7)
    when = decide(given, make(ev.DossierResumed, "d1", 8), CATALOGUE)
    assert isinstance(when, Parked)


def test_a_duplicate_of_a_parked_aggregate_is_still_a_duplicate() -> None:
    assert isinstance(decide(Head(5, 7), make(ev.DossierResumed, "d1", 5), CATALOGUE), Duplicate)


def test_a_gap_is_rejected_with_the_missing_range() -> None:
    given = head_after(dossier("8d3c", ev.DossierReceived, ev.DossierStepTransferred,
                               ev.SupplementRequested, ev.SupplementReceived))
    when = decide(given, make(ev.DossierStepTransferred, "8d3c", 7), CATALOGUE)
    assert when == Reject("sequence_gap", "dossier 8d3c seq 7 after 5: events 6..6 missing")


def test_a_catalogue_gap_is_rejected_too() -> None:
    when = decide(Head(1), make(ev.ProcedureAmended, PROCEDURE, 4), CATALOGUE)
    assert when == Reject("sequence_gap",
                          f"procedure {PROCEDURE} seq 4 after 1: events 2..3 missing")


def test_an_illegal_transition_names_the_event_and_the_status() -> None:
    given = head_after(dossier("d1", ev.DossierReceived, ev.SupplementRequested))
    when = decide(given, make(ev.DossierResolved, "d1", 4), CATALOGUE)
    assert when == Reject("illegal_transition",
                          "DossierResolved is not allowed in status 5 (Yêu cầu bổ sung)")


def test_a_dossier_must_start_with_its_submission() -> None:
    when = decide(Head(), make(ev.DossierReceived, "d1", 1), CATALOGUE)
    assert when == Reject("illegal_transition",
                          "DossierReceived is not allowed before DossierSubmitted")


def test_a_second_submission_is_illegal() -> None:
    given = head_after(dossier("d1"))
    when = decide(given, make(ev.DossierSubmitted, "d1", 2), CATALOGUE)
    assert when == Reject("illegal_transition",
                          "DossierSubmitted is not allowed in status 1 (Mới đăng ký)")


def test_a_dossier_event_sent_to_a_procedure_is_illegal() -> None:
    given = head_after([make(ev.ProcedurePublished, PROCEDURE, 1)])
    when = decide(given, make(ev.DossierResumed, PROCEDURE, 2), CATALOGUE)
    assert when == Reject("illegal_transition",
                          f"DossierResumed cannot apply to procedure {PROCEDURE}")


def test_submission_to_an_agency_without_the_procedure_is_an_unknown_reference() -> None:
    when = decide(Head(), make(ev.DossierSubmitted, "d1", 1, agency_code="H56.99"), CATALOGUE)
    assert when == Reject("unknown_reference",
                          f"procedure {PROCEDURE} is not applied at agency H56.99")


def test_an_unknown_reference_is_deferred_while_the_catalogue_is_behind() -> None:
    when = decide(Head(), make(ev.DossierSubmitted, "d1", 1), BEHIND)
    assert when == Deferred(f"procedure {PROCEDURE} is not in the catalogue")


def test_receipt_and_forwarding_need_known_agencies() -> None:
    given = head_after(dossier("d1"))
    received = make(ev.DossierReceived, "d1", 2, handling_agency_code="H56.99")
    assert decide(given, received, CATALOGUE) == Reject(
        "unknown_reference", "agency H56.99 (handling_agency_code) is not in the catalogue")
    given = head_after(dossier("d1", ev.DossierReceived))
    forwarded = make(ev.DossierForwarded, "d1", 3, to_agency_code="H56.98")
    assert decide(given, forwarded, CATALOGUE) == Reject(
        "unknown_reference", "agency H56.98 (to_agency_code) is not in the catalogue")
    assert decide(given, make(ev.DossierForwarded, "d1", 3), CATALOGUE) == APPLY


def test_a_submission_is_checked_against_the_application_as_of_its_date() -> None:
    withdrawn = caught_up_catalogue([
        *catalogue(),
        make(ev.ProcedureWithdrawnFromAgency, PROCEDURE, 4, effective_from=date(2021, 1, 1)),
    ])
    before = make(ev.DossierSubmitted, "d1", 1, at=T0)
    after = make(ev.DossierSubmitted, "d2", 1, at=datetime(2020, 12, 31, 17, 0, tzinfo=T0.tzinfo))
    assert decide(Head(), before, withdrawn) == APPLY
    assert decide(Head(), after, withdrawn) == Reject(
        "unknown_reference",
        f"procedure {PROCEDURE} is withdrawn from agency {AGENCY} as of 2021-01-01")
    elsewhere = make(ev.DossierSubmitted, "d3", 1, agency_code=OTHER_AGENCY, at=after.occurred_at)
    assert decide(Head(), elsewhere, withdrawn) == APPLY


def test_a_submission_before_the_first_application_takes_effect_is_accepted() -> None:
    early = make(ev.DossierSubmitted, "d1", 1, at=datetime(2019, 6, 1, tzinfo=T0.tzinfo))
    assert decide(Head(), early, CATALOGUE) == APPLY


def test_catalogue_events_are_lenient_across_aggregates() -> None:
    given = head_after([make(ev.ProcedurePublished, PROCEDURE, 1)])
    applied_at_unknown_agency = make(ev.ProcedureAppliedAtAgency, PROCEDURE, 2,
                                     agency_code="H56.77")
    assert decide(given, applied_at_unknown_agency, BEHIND) == APPLY


def test_catalogue_events_need_their_predecessor_in_the_same_aggregate() -> None:
    published = head_after([make(ev.ProcedurePublished, PROCEDURE, 1)])
    change = make(ev.ServiceLevelChanged, PROCEDURE, 2, agency_code="H56.77")
    assert decide(published, change, CATALOGUE) == Reject(
        "illegal_transition",
        f"ServiceLevelChanged: procedure {PROCEDURE} is not applied at agency H56.77")
    assert decide(Head(), make(ev.ProcedureAmended, PROCEDURE, 1), CATALOGUE) == Reject(
        "illegal_transition", f"ProcedureAmended: procedure {PROCEDURE} was never published")
    assert decide(Head(), make(ev.AgencyDissolved, AGENCY, 1), CATALOGUE) == Reject(
        "illegal_transition", f"AgencyDissolved: agency {AGENCY} was never registered")


def test_the_next_event_in_order_is_applied() -> None:
    given = head_after(dossier("d1", ev.DossierReceived))
    later = make(ev.DossierStepTransferred, "d1", 3, at=T0 + timedelta(days=1))
    assert decide(given, later, BEHIND) == APPLY  # no reference to check
