"""Aggregate states: frozen values with a deterministic, tagged JSON form.

One state per aggregate — a sector, an agency, a procedure (with its per-agency
applications and their history), a working calendar, or a dossier. Folding them is
`projections.fold`'s job; storing them is the store's: it saves `state.to_json()` and gets
the value back with `state_from_json(text)`, without knowing kinds (the JSON is tagged with
`"k"`). The JSON is compact with sorted keys, so equal states give equal text.

Fields holding a `dict` (`ProcedureState.applications`) are never mutated after
construction: a fold builds a new dict.

JSON encodings: dates `YYYY-MM-DD`; instants ISO 8601 in UTC (`...+00:00`); enums by symbol.
"""

from __future__ import annotations

import json
import json.encoder
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "AgencyState",
    "AggregateState",
    "ApplicationState",
    "ApplicationVersion",
    "CalendarState",
    "DossierState",
    "ProcedureState",
    "ProcedureVersion",
    "SectorState",
    "state_from_json",
]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
_js: Any = json.encoder.encode_basestring  # the C encoder's, as with ensure_ascii=False


def _jo(value: str | None) -> str:
    return "null" if value is None else str(_js(value))


def _ji(value: int | None) -> str:
    return "null" if value is None else repr(int(value))


def _jd(value: date | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


def _jt(value: datetime | None) -> str:
    return "null" if value is None else f'"{value.isoformat()}"'


def _d(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _pd(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _pt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class SectorState:
    KIND: ClassVar[str] = "sector"
    sector_code: str
    name: str

    def to_json(self) -> str:
        return _dumps({"k": self.KIND, "sector_code": self.sector_code, "name": self.name})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SectorState:
        return cls(d["sector_code"], d["name"])


@dataclass(frozen=True, slots=True)
class AgencyState:
    KIND: ClassVar[str] = "agency"
    agency_code: str
    name: str
    kind: str
    parent_code: str | None = None
    dissolved_from: date | None = None
    successor_code: str | None = None

    def to_json(self) -> str:
        return _dumps({
            "k": self.KIND, "agency_code": self.agency_code, "name": self.name,
            "kind": self.kind, "parent_code": self.parent_code,
            "dissolved_from": _d(self.dissolved_from), "successor_code": self.successor_code,
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgencyState:
        return cls(d["agency_code"], d["name"], d["kind"], d["parent_code"],
                   _pd(d["dissolved_from"]), d["successor_code"])


@dataclass(frozen=True, slots=True)
class ApplicationState:
    """A procedure applied at one agency, as of its latest change."""

    agency_code: str
    level: str
    service_level: str
    online_payment: bool
    dvcqg_integrated: bool
    effective_from: date
    active: bool

    def to_list(self) -> list[Any]:
        return [self.agency_code, self.level, self.service_level, self.online_payment,
                self.dvcqg_integrated, self.effective_from.isoformat(), self.active]

    @classmethod
    def from_list(cls, v: list[Any]) -> ApplicationState:
        return cls(v[0], v[1], v[2], v[3], v[4], date.fromisoformat(v[5]), v[6])


@dataclass(frozen=True, slots=True)
class ApplicationVersion:
    """One change of an application: `seq` is the procedure event's `aggregate_seq`;
    it holds from `application.effective_from`."""

    seq: int
    application: ApplicationState


@dataclass(frozen=True, slots=True)
class ProcedureVersion:
    """One change of a procedure's sector or activity (published, amended, abolished)."""

    seq: int
    valid_from: date
    sector_code: str
    active: bool


@dataclass(frozen=True, slots=True)
class ProcedureState:
    """A procedure: its current version, and its applications at agencies with history.

    `version` is 1 once published, +1 per amendment.
    """

    KIND: ClassVar[str] = "procedure"
    procedure_code: str
    version: int
    name: str
    sector_code: str
    levels: tuple[str, ...]
    time_limit_value: int
    time_limit_unit: str
    fee_vnd: int
    documents: tuple[tuple[str, int, int], ...]
    """(name, originals, copies) per document."""
    legal_bases: tuple[str, ...]
    decision_ref: str
    effective_from: date
    abolished_from: date | None = None
    applications: dict[str, ApplicationState] = field(default_factory=dict)
    application_versions: tuple[ApplicationVersion, ...] = ()
    procedure_versions: tuple[ProcedureVersion, ...] = ()

    def to_json(self) -> str:
        return _dumps({
            "k": self.KIND, "procedure_code": self.procedure_code, "version": self.version,
            "name": self.name, "sector_code": self.sector_code, "levels": list(self.levels),
            "time_limit": [self.time_limit_value, self.time_limit_unit],
            "fee_vnd": self.fee_vnd, "documents": [list(d) for d in self.documents],
            "legal_bases": list(self.legal_bases), "decision_ref": self.decision_ref,
            "effective_from": self.effective_from.isoformat(),
            "abolished_from": _d(self.abolished_from),
            "applications": {a: s.to_list() for a, s in self.applications.items()},
            "application_versions": [[v.seq, *v.application.to_list()]
                                     for v in self.application_versions],
            "procedure_versions": [[v.seq, v.valid_from.isoformat(), v.sector_code, v.active]
                                   for v in self.procedure_versions],
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProcedureState:
        return cls(
            d["procedure_code"], d["version"], d["name"], d["sector_code"], tuple(d["levels"]),
            d["time_limit"][0], d["time_limit"][1], d["fee_vnd"],
            tuple((n, o, c) for n, o, c in d["documents"]), tuple(d["legal_bases"]),
            d["decision_ref"], date.fromisoformat(d["effective_from"]),
            _pd(d["abolished_from"]),
            {a: ApplicationState.from_list(v) for a, v in d["applications"].items()},
            tuple(ApplicationVersion(v[0], ApplicationState.from_list(v[1:]))
                  for v in d["application_versions"]),
            tuple(ProcedureVersion(s, date.fromisoformat(f), sc, a)
                  for s, f, sc, a in d["procedure_versions"]),
        )


@dataclass(frozen=True, slots=True)
class CalendarState:
    KIND: ClassVar[str] = "calendar"
    year: int
    holidays: tuple[date, ...]
    swapped_working_days: tuple[date, ...]

    def to_json(self) -> str:
        return _dumps({
            "k": self.KIND, "year": self.year,
            "holidays": [d.isoformat() for d in self.holidays],
            "swapped_working_days": [d.isoformat() for d in self.swapped_working_days],
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CalendarState:
        return cls(d["year"], tuple(date.fromisoformat(x) for x in d["holidays"]),
                   tuple(date.fromisoformat(x) for x in d["swapped_working_days"]))


class _DossierFields(NamedTuple):
    dossier_id: str
    procedure_code: str
    agency_code: str
    channel: str
    inter_agency: bool
    status: int
    submitted_at: datetime
    updated_at: datetime
    status_history: tuple[tuple[date, int], ...]
    hops: tuple[tuple[str, str | None], ...]
    status_before_payment: int | None = None
    handling_agency_code: str | None = None
    dossier_code: str | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    resolved_at: datetime | None = None
    withdrawn_at: datetime | None = None
    outcome: str | None = None
    obligation_on: tuple[date, ...] = ()
    online_paid_on: date | None = None
    applicant_kind: str | None = None
    applicant_name: str | None = None
    applicant_id_number: str | None = None
    applicant_phone: str | None = None
    applicant_email: str | None = None
    applicant_id_hmac: str | None = None


class DossierState(_DossierFields):
    """A dossier's facts, as far as the projection's `Policy` lets it keep them.

    `agency_code` is where it was submitted; `handling_agency_code` the agency of its
    `DossierReceived`; `hops` every agency that held it, in order, as
    (agency_code, forwarded_from) — the last hop is the agency handling it now.
    `status_history` has one (local date, status) per status change.

    A `NamedTuple` rather than a frozen dataclass: it is just as immutable, and building
    one is ~6x faster (a frozen dataclass pays `object.__setattr__` per field), which is
    most of the cost of folding a dossier event on the hot path. `evolve` is its `replace`.
    """

    __slots__ = ()
    KIND: ClassVar[str] = "dossier"

    @property
    def current_agency_code(self) -> str:
        return self.hops[-1][0]

    def evolve(self, changes: dict[str, Any]) -> DossierState:
        """A copy with `changes` (field name -> value) applied."""
        values = list(self)
        for name, value in changes.items():
            values[_DOSSIER_INDEX[name]] = value
        return DossierState._make(values)

    def to_json(self) -> str:
        """The same text as `_dumps` of the dict below (`dict_json`), written directly: this
        runs for every changed dossier of every batch (the keys are in sorted order)."""
        s = _js
        hops = ",".join(f"[{s(a)},{_jo(f)}]" for a, f in self.hops)
        obligations = ",".join(f'"{d.isoformat()}"' for d in self.obligation_on)
        history = ",".join(f'["{d.isoformat()}",{int(st)!r}]' for d, st in self.status_history)
        return (
            f'{{"agency_code":{s(self.agency_code)},'
            f'"applicant_email":{_jo(self.applicant_email)},'
            f'"applicant_id_hmac":{_jo(self.applicant_id_hmac)},'
            f'"applicant_id_number":{_jo(self.applicant_id_number)},'
            f'"applicant_kind":{_jo(self.applicant_kind)},'
            f'"applicant_name":{_jo(self.applicant_name)},'
            f'"applicant_phone":{_jo(self.applicant_phone)},'
            f'"channel":{s(self.channel)},'
            f'"dossier_code":{_jo(self.dossier_code)},'
            f'"dossier_id":{s(self.dossier_id)},'
            f'"due_at":{_jt(self.due_at)},'
            f'"handling_agency_code":{_jo(self.handling_agency_code)},'
            f'"hops":[{hops}],'
            f'"inter_agency":{"true" if self.inter_agency else "false"},'
            f'"k":"dossier",'
            f'"obligation_on":[{obligations}],'
            f'"online_paid_on":{_jd(self.online_paid_on)},'
            f'"outcome":{_jo(self.outcome)},'
            f'"procedure_code":{s(self.procedure_code)},'
            f'"received_at":{_jt(self.received_at)},'
            f'"resolved_at":{_jt(self.resolved_at)},'
            f'"status":{int(self.status)!r},'
            f'"status_before_payment":{_ji(self.status_before_payment)},'
            f'"status_history":[{history}],'
            f'"submitted_at":"{self.submitted_at.isoformat()}",'
            f'"updated_at":"{self.updated_at.isoformat()}",'
            f'"withdrawn_at":{_jt(self.withdrawn_at)}}}'
        )

    def dict_json(self) -> str:
        """`to_json` the generic way (the reference its fast path is tested against)."""
        return _dumps({
            "k": "dossier", "dossier_id": self.dossier_id, "procedure_code": self.procedure_code,
            "agency_code": self.agency_code, "channel": self.channel,
            "inter_agency": self.inter_agency, "status": self.status,
            "submitted_at": self.submitted_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "status_history": [[d.isoformat(), s] for d, s in self.status_history],
            "hops": [list(h) for h in self.hops],
            "status_before_payment": self.status_before_payment,
            "handling_agency_code": self.handling_agency_code,
            "dossier_code": self.dossier_code, "received_at": _t(self.received_at),
            "due_at": _t(self.due_at), "resolved_at": _t(self.resolved_at),
            "withdrawn_at": _t(self.withdrawn_at), "outcome": self.outcome,
            "obligation_on": [d.isoformat() for d in self.obligation_on],
            "online_paid_on": _d(self.online_paid_on),
            "applicant_kind": self.applicant_kind, "applicant_name": self.applicant_name,
            "applicant_id_number": self.applicant_id_number,
            "applicant_phone": self.applicant_phone, "applicant_email": self.applicant_email,
            "applicant_id_hmac": self.applicant_id_hmac,
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DossierState:
        return cls(
            d["dossier_id"], d["procedure_code"], d["agency_code"], d["channel"],
            d["inter_agency"], d["status"], datetime.fromisoformat(d["submitted_at"]),
            datetime.fromisoformat(d["updated_at"]),
            tuple((date.fromisoformat(x), s) for x, s in d["status_history"]),
            tuple((a, f) for a, f in d["hops"]), d["status_before_payment"],
            d["handling_agency_code"], d["dossier_code"], _pt(d["received_at"]),
            _pt(d["due_at"]), _pt(d["resolved_at"]), _pt(d["withdrawn_at"]), d["outcome"],
            tuple(date.fromisoformat(x) for x in d["obligation_on"]), _pd(d["online_paid_on"]),
            d["applicant_kind"], d["applicant_name"], d["applicant_id_number"],
            d["applicant_phone"], d["applicant_email"], d["applicant_id_hmac"],
        )


_DOSSIER_INDEX: dict[str, int] = {name: i for i, name in enumerate(DossierState._fields)}

AggregateState = SectorState | AgencyState | ProcedureState | CalendarState | DossierState

_KINDS: dict[str, Any] = {
    cls.KIND: cls for cls in (SectorState, AgencyState, ProcedureState, CalendarState, DossierState)
}


def state_from_json(text: str) -> AggregateState:
    """The state serialised by any state's `to_json()` (dispatched on its `"k"` tag)."""
    data = json.loads(text)
    try:
        cls = _KINDS[data["k"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not an aggregate state: {text[:80]!r}") from exc
    state: AggregateState = cls.from_dict(data)
    return state
