"""`fold(state, event, policy) -> state`: the pure state-from-events function.

Dispatched on the event's type through `FOLDERS`, a dict of small named functions. Folding
never touches the clock, a session or the network, and never mutates its input.

The `Policy` matters only where a dossier is submitted (which applicant fields it keeps);
nothing later reads or changes them. So the state folded under a policy that keeps at least
as much (`can_derive`) gives the state another policy would fold by `derive_state`, which a
driver building several projections at once uses to fold each event once.

`fold` trusts `projections.sequencing.decide`: it is only called for events decided `Apply`.
Called otherwise (an illegal dossier transition, a change to an application that does not
exist) it raises `FoldError` — a programming error, not bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from projections.lifecycle import describe_status, next_status
from projections.localtime import local_date, utc
from projections.policy import Policy, applicant_hmac
from projections.state import (
    AgencyState,
    AggregateState,
    ApplicationState,
    ApplicationVersion,
    CalendarState,
    DossierState,
    ProcedureState,
    ProcedureVersion,
    SectorState,
)
from schemas import events as ev

__all__ = ["FOLDERS", "FoldError", "can_derive", "derive_state", "fold"]


class FoldError(ValueError):
    """`fold` was called with an event that `decide` would not have applied."""


Folder = Callable[[Any, Any, Policy], AggregateState]


def fold(state: AggregateState | None, event: ev.Event, policy: Policy) -> AggregateState:
    """The aggregate's state after `event` (None before its first event)."""
    folder = FOLDERS.get(type(event))
    if folder is None:
        raise FoldError(f"no fold for event type {type(event).__name__}")
    return folder(state, event, policy)


# --- catalogue -----------------------------------------------------------------------------


def _sector_defined(state: object, e: ev.SectorDefined, policy: Policy) -> SectorState:
    return SectorState(e.sector_code, e.name)


def _agency_registered(state: object, e: ev.AgencyRegistered, policy: Policy) -> AgencyState:
    if isinstance(state, AgencyState):
        return replace(state, name=e.name, kind=e.kind.value, parent_code=e.parent_code)
    return AgencyState(e.agency_code, e.name, e.kind.value, e.parent_code)


def _agency_dissolved(state: object, e: ev.AgencyDissolved, policy: Policy) -> AgencyState:
    if not isinstance(state, AgencyState):
        raise FoldError(f"agency {e.agency_code} dissolved before it was registered")
    return replace(state, dissolved_from=e.effective_from, successor_code=e.successor_code)


def _procedure_version(
    state: object, e: ev.ProcedurePublished | ev.ProcedureAmended, policy: Policy
) -> ProcedureState:
    """Published or amended: the full new version, in force (again) from `effective_from`."""
    prev = state if isinstance(state, ProcedureState) else None
    return ProcedureState(
        procedure_code=e.procedure_code,
        version=(prev.version if prev else 0) + 1,
        name=e.name,
        sector_code=e.sector_code,
        levels=tuple(level.value for level in e.levels),
        time_limit_value=e.time_limit.value,
        time_limit_unit=e.time_limit.unit.value,
        fee_vnd=e.fee_vnd,
        documents=tuple((d.name, d.originals, d.copies) for d in e.documents),
        legal_bases=tuple(e.legal_bases),
        decision_ref=e.decision_ref,
        effective_from=e.effective_from,
        abolished_from=None,
        applications=prev.applications if prev else {},
        application_versions=prev.application_versions if prev else (),
        procedure_versions=(*(prev.procedure_versions if prev else ()),
                            ProcedureVersion(e.aggregate_seq, e.effective_from,
                                             e.sector_code, True)),
    )


def _procedure(state: object, what: str) -> ProcedureState:
    if not isinstance(state, ProcedureState):
        raise FoldError(f"{what} before the procedure was published")
    return state


def _procedure_abolished(
    state: object, e: ev.ProcedureAbolished, policy: Policy
) -> ProcedureState:
    p = _procedure(state, "ProcedureAbolished")
    row = ProcedureVersion(e.aggregate_seq, e.effective_from, p.sector_code, False)
    return replace(p, abolished_from=e.effective_from,
                   procedure_versions=(*p.procedure_versions, row))


def _with_application(p: ProcedureState, seq: int, app: ApplicationState) -> ProcedureState:
    apps = dict(p.applications)
    apps[app.agency_code] = app
    return replace(p, applications=apps, application_versions=(
        *p.application_versions, ApplicationVersion(seq, app)))


def _applied(state: object, e: ev.ProcedureAppliedAtAgency, policy: Policy) -> ProcedureState:
    p = _procedure(state, "ProcedureAppliedAtAgency")
    app = ApplicationState(e.agency_code, e.level.value, e.service_level.value,
                           e.online_payment, e.dvcqg_integrated, e.effective_from, True)
    return _with_application(p, e.aggregate_seq, app)


def _application_change(**change: Callable[[Any], Any]) -> Folder:
    """A folder changing one field of an existing application (from the event)."""

    def folder(state: object, e: Any, policy: Policy) -> ProcedureState:
        p = _procedure(state, e.TYPE)
        app = p.applications.get(e.agency_code)
        if app is None:
            raise FoldError(f"{e.TYPE}: procedure {p.procedure_code} is not applied at "
                            f"agency {e.agency_code}")
        values = {name: get(e) for name, get in change.items()}
        new = replace(app, effective_from=e.effective_from, **values)
        return _with_application(p, e.aggregate_seq, new)

    return folder


def _calendar(state: object, e: ev.WorkingCalendarPublished, policy: Policy) -> CalendarState:
    return CalendarState(e.year, tuple(e.holidays), tuple(e.swapped_working_days))


# --- dossiers ------------------------------------------------------------------------------


def _submitted(state: object, e: ev.DossierSubmitted, policy: Policy) -> DossierState:
    if state is not None:
        raise FoldError(f"dossier {e.aggregate_id} submitted twice")
    a = e.applicant
    at = utc(e.occurred_at)
    keep = policy.keep_applicant
    id_hmac = None
    if not keep and policy.hmac_key is not None and a.id_number:
        id_hmac = applicant_hmac(policy.hmac_key, a.id_number)
    return DossierState(
        dossier_id=e.aggregate_id, procedure_code=e.procedure_code, agency_code=e.agency_code,
        channel=e.channel.value, inter_agency=e.inter_agency, status=1, submitted_at=at,
        updated_at=at, status_history=((local_date(at), 1),), hops=((e.agency_code, None),),
        applicant_kind=a.kind.value if keep or policy.keep_applicant_kind else None,
        applicant_name=a.name if keep else None,
        applicant_id_number=a.id_number if keep else None,
        applicant_phone=a.phone if keep else None,
        applicant_email=a.email if keep else None,
        applicant_id_hmac=id_hmac,
    )


def _hop(s: DossierState, to_agency: str, from_agency: str | None) -> dict[str, Any]:
    if to_agency == s.current_agency_code:
        return {}
    return {"hops": (*s.hops, (to_agency, from_agency))}


DossierChanges = Callable[[DossierState, Any], dict[str, Any]]


def _received(s: DossierState, e: ev.DossierReceived) -> dict[str, Any]:
    return {"dossier_code": e.dossier_code, "handling_agency_code": e.handling_agency_code,
            "received_at": utc(e.occurred_at), "due_at": utc(e.due_at) if e.due_at else None,
            **_hop(s, e.handling_agency_code, s.current_agency_code)}


def _supplement_received(s: DossierState, e: ev.SupplementReceived) -> dict[str, Any]:
    return {"due_at": utc(e.new_due_at)} if e.new_due_at is not None else {}


def _obligation(s: DossierState, e: ev.FinancialObligationRequested) -> dict[str, Any]:
    return {"status_before_payment": s.status,
            "obligation_on": (*s.obligation_on, local_date(e.occurred_at))}


def _paid(s: DossierState, e: ev.PaymentCompleted) -> dict[str, Any]:
    changes: dict[str, Any] = {"status_before_payment": None} if s.status == 6 else {}
    if e.method is ev.PaymentMethod.ONLINE and s.online_paid_on is None:
        changes["online_paid_on"] = local_date(e.occurred_at)
    return changes


def _forwarded(s: DossierState, e: ev.DossierForwarded) -> dict[str, Any]:
    return _hop(s, e.to_agency_code, e.from_agency_code)


def _withdrawn(s: DossierState, e: ev.DossierWithdrawn) -> dict[str, Any]:
    return {"withdrawn_at": utc(e.occurred_at)}


def _resolved(s: DossierState, e: ev.DossierResolved) -> dict[str, Any]:
    return {"resolved_at": utc(e.occurred_at), "outcome": e.outcome.value}


def _nothing(s: DossierState, e: Any) -> dict[str, Any]:
    return {}


def _dossier_step(changes: DossierChanges) -> Folder:
    """A folder for a dossier event after submission: status, history, `updated_at`, then
    the event's own `changes`."""

    def folder(state: object, e: ev.DossierEvent, policy: Policy) -> DossierState:
        if not isinstance(state, DossierState):
            raise FoldError(f"dossier {e.aggregate_id}: {e.TYPE} before DossierSubmitted")
        status = next_status(state.status, state.status_before_payment, e.TYPE)
        if status is None:
            raise FoldError(f"dossier {e.aggregate_id}: {e.TYPE} is not allowed in status "
                            f"{describe_status(state.status)}")
        values = changes(state, e)
        values["updated_at"] = utc(e.occurred_at)
        if status != state.status:
            values["status"] = status
            values["status_history"] = (
                *state.status_history, (local_date(e.occurred_at), status))
        return state.evolve(values)

    return folder


FOLDERS: dict[type[ev.Event], Folder] = {
    ev.SectorDefined: _sector_defined,
    ev.AgencyRegistered: _agency_registered,
    ev.AgencyDissolved: _agency_dissolved,
    ev.ProcedurePublished: _procedure_version,
    ev.ProcedureAmended: _procedure_version,
    ev.ProcedureAbolished: _procedure_abolished,
    ev.ProcedureAppliedAtAgency: _applied,
    ev.ServiceLevelChanged: _application_change(service_level=lambda e: e.to_level.value),
    ev.OnlinePaymentConfigured: _application_change(online_payment=lambda e: e.enabled),
    ev.DvcqgIntegrationChanged: _application_change(dvcqg_integrated=lambda e: e.integrated),
    ev.ProcedureWithdrawnFromAgency: _application_change(active=lambda e: False),
    ev.WorkingCalendarPublished: _calendar,
    ev.DossierSubmitted: _submitted,
    ev.DossierReceived: _dossier_step(_received),
    ev.DossierIntakeRefused: _dossier_step(_nothing),
    ev.DossierStepTransferred: _dossier_step(_nothing),
    ev.SupplementRequested: _dossier_step(_nothing),
    ev.SupplementReceived: _dossier_step(_supplement_received),
    ev.FinancialObligationRequested: _dossier_step(_obligation),
    ev.PaymentCompleted: _dossier_step(_paid),
    ev.DossierForwarded: _dossier_step(_forwarded),
    ev.DossierSuspended: _dossier_step(_nothing),
    ev.DossierResumed: _dossier_step(_nothing),
    ev.DossierWithdrawn: _dossier_step(_withdrawn),
    ev.DossierResolved: _dossier_step(_resolved),
    ev.ResultDelivered: _dossier_step(_nothing),
    ev.SatisfactionRated: _dossier_step(_nothing),
}


# --- one fold, several policies -------------------------------------------------------------


def _keeps_kind(policy: Policy) -> bool:
    return policy.keep_applicant or policy.keep_applicant_kind


def can_derive(source: Policy, target: Policy) -> bool:
    """Whether states folded under `source` hold everything `target` keeps (`derive_state`)."""
    if target.keep_applicant:
        return source.keep_applicant
    if _keeps_kind(target) and not _keeps_kind(source):
        return False
    if target.hmac_key is not None and not source.keep_applicant:
        return source.hmac_key == target.hmac_key
    return True


def derive_state(state: AggregateState, source: Policy, target: Policy) -> AggregateState:
    """The state `fold` gives under `target`, from the one it gave under `source` for the
    same events (`can_derive(source, target)` must hold). Only dossiers differ."""
    if not isinstance(state, DossierState) or source == target or target.keep_applicant:
        return state
    id_hmac = None
    if target.hmac_key is not None:
        if source.keep_applicant:
            number = state.applicant_id_number
            id_hmac = applicant_hmac(target.hmac_key, number) if number else None
        else:
            id_hmac = state.applicant_id_hmac
    return state._replace(
        applicant_kind=state.applicant_kind if _keeps_kind(target) else None,
        applicant_name=None, applicant_id_number=None, applicant_phone=None,
        applicant_email=None, applicant_id_hmac=id_hmac,
    )
