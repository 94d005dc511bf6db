"""The statistics view: facts only, no applicant data at all (DESIGN principles 6 and 9).

`projections.statistics` computes the CONTRACT's figures from these rows at query time.
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
        table("dossier_facts", "dossier_id:str", "procedure_code:str", "agency_code:str",
              "handling_agency_code:str?", "channel:str", "received_on:date?", "due_on:date?",
              "end_on:date?", "end_kind:str?", "outcome:str?", "status:int",
              "status_history:json", "obligation_on:json", "online_paid_on:date?",
              primary_key=("dossier_id",), owner="dossier_id",
              indexes=(("received_on",), ("end_on",))),
        table("application_versions", "procedure_code:str", "agency_code:str", "seq:int",
              "valid_from:date", "level:str", "service_level:str", "online_payment:bool",
              "dvcqg_integrated:bool", "active:bool",
              primary_key=("procedure_code", "agency_code", "seq"), owner="procedure_code"),
        table("procedure_versions", "procedure_code:str", "seq:int", "valid_from:date",
              "sector_code:str", "active:bool",
              primary_key=("procedure_code", "seq"), owner="procedure_code"),
        table("agency_facts", "agency_code:str", "kind:str", "parent_code:str?",
              "dissolved_from:date?", "successor_code:str?",
              primary_key=("agency_code",), owner="agency_code"),
        table("sector_facts", "sector_code:str", "name:str",
              primary_key=("sector_code",), owner="sector_code"),
    )
}


def _dossier(s: DossierState) -> Rows:
    end_at = s.resolved_at or s.withdrawn_at
    end_kind = "RESOLVED" if s.resolved_at else "WITHDRAWN" if s.withdrawn_at else None
    return {"dossier_facts": [{
        "dossier_id": s.dossier_id, "procedure_code": s.procedure_code,
        "agency_code": s.agency_code, "handling_agency_code": s.handling_agency_code,
        "channel": s.channel,
        "received_on": local_date(s.received_at) if s.received_at else None,
        "due_on": local_date(s.due_at) if s.due_at else None,
        "end_on": local_date(end_at) if end_at else None, "end_kind": end_kind,
        "outcome": s.outcome, "status": s.status,
        "status_history": json_text([[d.isoformat(), st] for d, st in s.status_history]),
        "obligation_on": json_text([d.isoformat() for d in s.obligation_on]),
        "online_paid_on": s.online_paid_on,
    }]}


def _procedure(p: ProcedureState) -> Rows:
    return {
        "application_versions": [{
            "procedure_code": p.procedure_code, "agency_code": v.application.agency_code,
            "seq": v.seq, "valid_from": v.application.effective_from,
            "level": v.application.level, "service_level": v.application.service_level,
            "online_payment": v.application.online_payment,
            "dvcqg_integrated": v.application.dvcqg_integrated, "active": v.application.active,
        } for v in p.application_versions],
        "procedure_versions": [{
            "procedure_code": p.procedure_code, "seq": v.seq, "valid_from": v.valid_from,
            "sector_code": v.sector_code, "active": v.active,
        } for v in p.procedure_versions],
    }


def render(state: AggregateState) -> Rows:
    """The statistics rows `state`'s aggregate owns (calendars own none)."""
    if isinstance(state, DossierState):
        return _dossier(state)
    if isinstance(state, ProcedureState):
        return _procedure(state)
    if isinstance(state, AgencyState):
        return {"agency_facts": [{
            "agency_code": state.agency_code, "kind": state.kind,
            "parent_code": state.parent_code, "dissolved_from": state.dissolved_from,
            "successor_code": state.successor_code,
        }]}
    if isinstance(state, SectorState):
        return {"sector_facts": [{"sector_code": state.sector_code, "name": state.name}]}
    return {}
