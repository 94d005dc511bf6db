"""`decide(head, event, catalogue) -> Decision`: the CONTRACT's sequencing rule, per aggregate.

In this order:

1. `aggregate_seq <= last_seq` → `Duplicate` (skipped, counted, no effect).
2. the aggregate is parked → `Parked` (held back, in order, until an operator releases it).
3. `aggregate_seq != last_seq + 1` → `Reject("sequence_gap")`; the aggregate becomes parked.
4. the event is not allowed in the aggregate's state → `Reject("illegal_transition")`:
   a dossier transition outside the CONTRACT's table (`projections.lifecycle`), an event of
   one kind of aggregate sent to another kind, or a catalogue event without its predecessor
   in the *same* aggregate (`ProcedureAmended`, `ProcedureAbolished`,
   `ProcedureAppliedAtAgency` before `ProcedurePublished`; a change to an application that
   does not exist; `AgencyDissolved` before `AgencyRegistered`).
5. a dossier event referring to something the catalogue lacks → `Reject("unknown_reference")`
   if the catalogue has caught up, else `Deferred` (retry once it has; DESIGN principle 8).
   Checked: `DossierSubmitted` (the procedure is applied at `agency_code` and that
   application is active as of the submission's local date), `DossierReceived`
   (`handling_agency_code` is a known agency), `DossierForwarded` (`to_agency_code` known).
6. otherwise `Apply`.

Catalogue events are lenient across aggregates: their order across the catalogue topic's
partitions is not guaranteed, so a `ProcedureAppliedAtAgency` naming an agency that is not
registered yet, or a procedure naming an undefined sector, is applied. Within an aggregate
order is guaranteed, hence rule 4. A `ServiceLevelChanged.from_level` that differs from the
current level is not checked (the event states the new level in full).

Submissions dated before an application's first `effective_from` are accepted (catalogues
are often recorded after the fact); only "never applied here" or "withdrawn as of that
date" is a missing reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, NamedTuple, Protocol

from projections.lifecycle import describe_status, next_status
from projections.localtime import local_date
from projections.state import AgencyState, AggregateState, ApplicationState, ProcedureState
from schemas import events as ev

__all__ = [
    "APPLY",
    "EVENT_KINDS",
    "Apply",
    "CatalogueLookup",
    "Decision",
    "Deferred",
    "Duplicate",
    "Head",
    "MemoryCatalogue",
    "Parked",
    "Reject",
    "application_as_of",
    "decide",
]

SEQUENCE_GAP: Final = "sequence_gap"
ILLEGAL_TRANSITION: Final = "illegal_transition"
UNKNOWN_REFERENCE: Final = "unknown_reference"


class CatalogueLookup(Protocol):
    """The catalogue as far as a projection has consumed it."""

    @property
    def caught_up(self) -> bool:
        """True once the catalogue topic has been consumed up to its head."""

    def procedure(self, code: str) -> ProcedureState | None: ...

    def agency(self, code: str) -> AgencyState | None: ...


@dataclass(frozen=True, slots=True)
class MemoryCatalogue:
    """A `CatalogueLookup` over states held in memory (tests, the reference fold)."""

    procedures: dict[str, ProcedureState]
    agencies: dict[str, AgencyState]
    caught_up: bool = True

    def procedure(self, code: str) -> ProcedureState | None:
        return self.procedures.get(code)

    def agency(self, code: str) -> AgencyState | None:
        return self.agencies.get(code)


class Head(NamedTuple):
    """An aggregate as `decide` sees it: its sequencing position and current state.

    (A `NamedTuple`: one is built per record on the hot path.)
    """

    last_seq: int = 0
    parked_from_seq: int | None = None
    state: AggregateState | None = None


@dataclass(frozen=True, slots=True)
class Apply:
    """Fold the event."""


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Already applied (`aggregate_seq <= last_seq`): skip and count."""


@dataclass(frozen=True, slots=True)
class Parked:
    """The aggregate is parked: hold the event back, in order."""


@dataclass(frozen=True, slots=True)
class Reject:
    """Not applied: to the DLQ with `error_class` and a human `reason`; park the aggregate."""

    error_class: str
    reason: str


@dataclass(frozen=True, slots=True)
class Deferred:
    """Not yet: a reference is missing but the catalogue has not caught up."""

    reason: str


Decision = Apply | Duplicate | Parked | Reject | Deferred
APPLY: Final = Apply()
_DUPLICATE: Final = Duplicate()
_PARKED: Final = Parked()

_APPLICATION_CHANGES: Final = (
    ev.ServiceLevelChanged, ev.OnlinePaymentConfigured, ev.DvcqgIntegrationChanged,
    ev.ProcedureWithdrawnFromAgency,
)
EVENT_KINDS: Final[dict[type[ev.Event], str]] = {
    ev.SectorDefined: "sector",
    ev.AgencyRegistered: "agency",
    ev.AgencyDissolved: "agency",
    ev.ProcedurePublished: "procedure",
    ev.ProcedureAmended: "procedure",
    ev.ProcedureAbolished: "procedure",
    ev.ProcedureAppliedAtAgency: "procedure",
    **dict.fromkeys(_APPLICATION_CHANGES, "procedure"),
    ev.WorkingCalendarPublished: "calendar",
    **dict.fromkeys(ev.DOSSIER_EVENT_TYPES, "dossier"),
}
"""The kind of aggregate (`state.KIND`) each event type belongs to."""


def decide(head: Head, event: ev.Event, catalogue: CatalogueLookup) -> Decision:
    """What to do with `event` given its aggregate's `head` (see the module docstring)."""
    seq = event.aggregate_seq
    if seq <= head.last_seq:
        return _DUPLICATE
    if head.parked_from_seq is not None:
        return _PARKED
    kind = EVENT_KINDS.get(type(event), "aggregate")
    if seq != head.last_seq + 1:
        last = head.last_seq
        return Reject(SEQUENCE_GAP, f"{kind} {event.aggregate_id} seq {seq} after {last}: "
                                    f"events {last + 1}..{seq - 1} missing")
    problem = transition_problem(head.state, event, kind)
    if problem is not None:
        return Reject(ILLEGAL_TRANSITION, problem)
    if kind == "dossier":
        missing = missing_reference(event, catalogue)
        if missing is not None:
            return Reject(UNKNOWN_REFERENCE, missing) if catalogue.caught_up else Deferred(missing)
    return APPLY


def transition_problem(state: AggregateState | None, event: ev.Event, kind: str) -> str | None:
    """Why `event` cannot apply to `state` (rule 4), or None."""
    if kind == "aggregate":
        return f"{type(event).__name__} is not an event type of the contract"
    if state is not None and kind != state.KIND:
        return f"{event.TYPE} cannot apply to {state.KIND} {event.aggregate_id}"
    if kind == "dossier":
        status = getattr(state, "status", None)
        if next_status(status, getattr(state, "status_before_payment", None), event.TYPE) is None:
            if state is None:
                return f"{event.TYPE} is not allowed before DossierSubmitted"
            return f"{event.TYPE} is not allowed in status {describe_status(status)}"
        return None
    if isinstance(event, ev.AgencyDissolved) and state is None:
        return f"AgencyDissolved: agency {event.agency_code} was never registered"
    if isinstance(event, (ev.ProcedureAmended, ev.ProcedureAbolished,
                          ev.ProcedureAppliedAtAgency, *_APPLICATION_CHANGES)):
        if not isinstance(state, ProcedureState):
            return f"{event.TYPE}: procedure {event.procedure_code} was never published"
        if (isinstance(event, _APPLICATION_CHANGES)
                and event.agency_code not in state.applications):
            return (f"{event.TYPE}: procedure {event.procedure_code} is not applied at "
                    f"agency {event.agency_code}")
    return None


def missing_reference(event: ev.Event, catalogue: CatalogueLookup) -> str | None:
    """What a dossier event refers to that the catalogue lacks (rule 5), or None."""
    if isinstance(event, ev.DossierSubmitted):
        procedure = catalogue.procedure(event.procedure_code)
        if procedure is None:
            return f"procedure {event.procedure_code} is not in the catalogue"
        day = local_date(event.occurred_at)
        app = application_as_of(procedure, event.agency_code, day)
        if app is None:
            return f"procedure {event.procedure_code} is not applied at agency {event.agency_code}"
        if not app.active:
            return (f"procedure {event.procedure_code} is withdrawn from agency "
                    f"{event.agency_code} as of {day.isoformat()}")
        return None
    if isinstance(event, ev.DossierReceived):
        return _unknown_agency(catalogue, event.handling_agency_code, "handling_agency_code")
    if isinstance(event, ev.DossierForwarded):
        return _unknown_agency(catalogue, event.to_agency_code, "to_agency_code")
    return None


def _unknown_agency(catalogue: CatalogueLookup, code: str, field: str) -> str | None:
    if catalogue.agency(code) is None:
        return f"agency {code} ({field}) is not in the catalogue"
    return None


def application_as_of(
    procedure: ProcedureState, agency_code: str, day: date
) -> ApplicationState | None:
    """The application of `procedure` at `agency_code` in force on `day`, or None if the
    procedure was never applied there.

    The version in force is the one with the greatest (`effective_from`, `seq`) among those
    with `effective_from <= day`; before the first version takes effect, the first version.
    """
    current = procedure.applications.get(agency_code)
    if current is None:
        return None
    if current.active and current.effective_from <= day:
        return current  # the common case: no need to walk the history
    best: ApplicationState | None = None
    best_key: tuple[date, int] | None = None
    first: ApplicationState | None = None
    for version in procedure.application_versions:
        app = version.application
        if app.agency_code != agency_code:
            continue
        if first is None:
            first = app
        key = (app.effective_from, version.seq)
        if app.effective_from <= day and (best_key is None or key > best_key):
            best, best_key = app, key
    return best if best is not None else first
