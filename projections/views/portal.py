"""The portal view: catalogue search, dossier lookup, public figures.

PII is minimised (DESIGN principle 9): no applicant names, phones or emails; the ID number
only as a keyed HMAC (`applicant_id_hmac`, see `projections.policy.applicant_hmac`).
"""

from __future__ import annotations

from projections.localtime import local_date
from projections.records import Rows
from projections.state import AgencyState, AggregateState, DossierState, ProcedureState, SectorState
from projections.views import TableSpec, json_text, table

__all__ = ["TABLES", "render"]

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        table("sectors", "sector_code:str", "name:str",
              primary_key=("sector_code",), owner="sector_code"),
        table("agencies", "agency_code:str", "name:str", "kind:str", "parent_code:str?",
              "dissolved_from:date?", "successor_code:str?",
              primary_key=("agency_code",), owner="agency_code"),
        table("procedures", "procedure_code:str", "name:str", "sector_code:str",
              "levels:json", "time_limit_value:int", "time_limit_unit:str", "fee_vnd:int",
              "documents:json", "legal_bases:json", "decision_ref:str", "effective_from:date",
              "version:int", "abolished_from:date?",
              primary_key=("procedure_code",), owner="procedure_code",
              indexes=(("sector_code",),)),
        table("procedure_agencies", "procedure_code:str", "agency_code:str", "level:str",
              "service_level:str", "online_payment:bool", "dvcqg_integrated:bool",
              "effective_from:date", "active:bool",
              primary_key=("procedure_code", "agency_code"), owner="procedure_code",
              indexes=(("agency_code",),)),
        table("dossiers", "dossier_id:str", "dossier_code:str?", "procedure_code:str",
              "agency_code:str", "channel:str", "status:int", "received_at:datetime?",
              "due_at:datetime?", "resolved_at:datetime?", "on_time_state:str?",
              "applicant_kind:str?", "applicant_id_hmac:str?", "updated_at:datetime",
              primary_key=("dossier_id",), owner="dossier_id",
              indexes=(("dossier_code",), ("applicant_id_hmac",))),
    )
}


def on_time_state(state: DossierState) -> str | None:
    """`EARLY` / `ON_TIME` / `LATE` by local dates once resolved (no due date = on time)."""
    if state.resolved_at is None:
        return None
    if state.due_at is None:
        return "ON_TIME"
    end, due = local_date(state.resolved_at), local_date(state.due_at)
    return "EARLY" if end < due else "ON_TIME" if end == due else "LATE"


def _dossier(s: DossierState) -> Rows:
    return {"dossiers": [{
        "dossier_id": s.dossier_id, "dossier_code": s.dossier_code,
        "procedure_code": s.procedure_code, "agency_code": s.current_agency_code,
        "channel": s.channel, "status": s.status, "received_at": s.received_at,
        "due_at": s.due_at, "resolved_at": s.resolved_at, "on_time_state": on_time_state(s),
        "applicant_kind": s.applicant_kind, "applicant_id_hmac": s.applicant_id_hmac,
        "updated_at": s.updated_at,
    }]}


def _procedure(p: ProcedureState) -> Rows:
    return {
        "procedures": [{
            "procedure_code": p.procedure_code, "name": p.name, "sector_code": p.sector_code,
            "levels": json_text(list(p.levels)), "time_limit_value": p.time_limit_value,
            "time_limit_unit": p.time_limit_unit, "fee_vnd": p.fee_vnd,
            "documents": json_text([{"name": n, "originals": o, "copies": c}
                                    for n, o, c in p.documents]),
            "legal_bases": json_text(list(p.legal_bases)), "decision_ref": p.decision_ref,
            "effective_from": p.effective_from, "version": p.version,
            "abolished_from": p.abolished_from,
        }],
        "procedure_agencies": [{
            "procedure_code": p.procedure_code, "agency_code": a.agency_code,
            "level": a.level, "service_level": a.service_level,
            "online_payment": a.online_payment, "dvcqg_integrated": a.dvcqg_integrated,
            "effective_from": a.effective_from, "active": a.active,
        } for _, a in sorted(p.applications.items())],
    }


def render(state: AggregateState) -> Rows:
    """The portal rows `state`'s aggregate owns (calendars own none)."""
    if isinstance(state, DossierState):
        return _dossier(state)
    if isinstance(state, ProcedureState):
        return _procedure(state)
    if isinstance(state, AgencyState):
        return {"agencies": [{
            "agency_code": state.agency_code, "name": state.name, "kind": state.kind,
            "parent_code": state.parent_code, "dissolved_from": state.dissolved_from,
            "successor_code": state.successor_code,
        }]}
    if isinstance(state, SectorState):
        return {"sectors": [{"sector_code": state.sector_code, "name": state.name}]}
    return {}
