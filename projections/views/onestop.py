"""The one-stop view: the slice each department's electronic one-stop system reads.

It keeps the applicant (the department must process the dossier). A dossier has one row
per agency that handled it: `CURRENT` for the agency handling it now, `PREVIOUS` for an
agency that passed it on (`forwarded_from` = the agency that passed it to that row's agency).
"""

from __future__ import annotations

from projections.records import Rows
from projections.state import AggregateState, DossierState, ProcedureState
from projections.views import TableSpec, table

__all__ = ["TABLES", "render"]

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        table("agency_procedures", "agency_code:str", "procedure_code:str",
              "procedure_name:str", "sector_code:str", "level:str", "service_level:str",
              "online_payment:bool", "dvcqg_integrated:bool", "effective_from:date",
              "active:bool",
              primary_key=("agency_code", "procedure_code"), owner="procedure_code",
              indexes=(("procedure_code",),)),
        table("agency_dossiers", "agency_code:str", "dossier_id:str", "role:str",
              "dossier_code:str?", "procedure_code:str", "status:int", "received_at:datetime?",
              "due_at:datetime?", "forwarded_from:str?", "applicant_kind:str",
              "applicant_name:str", "applicant_id_number:str?", "applicant_phone:str?",
              "applicant_email:str?", "channel:str", "updated_at:datetime",
              primary_key=("agency_code", "dossier_id"), owner="dossier_id",
              indexes=(("dossier_id",),)),
    )
}


def _dossier(s: DossierState) -> Rows:
    current = s.current_agency_code
    forwarded_from = dict(s.hops)  # an agency held it more than once: its latest hop counts
    return {"agency_dossiers": [{
        "agency_code": agency, "dossier_id": s.dossier_id,
        "role": "CURRENT" if agency == current else "PREVIOUS",
        "dossier_code": s.dossier_code, "procedure_code": s.procedure_code,
        "status": s.status, "received_at": s.received_at, "due_at": s.due_at,
        "forwarded_from": source, "applicant_kind": s.applicant_kind,
        "applicant_name": s.applicant_name, "applicant_id_number": s.applicant_id_number,
        "applicant_phone": s.applicant_phone, "applicant_email": s.applicant_email,
        "channel": s.channel, "updated_at": s.updated_at,
    } for agency, source in sorted(forwarded_from.items())]}


def _procedure(p: ProcedureState) -> Rows:
    return {"agency_procedures": [{
        "agency_code": a.agency_code, "procedure_code": p.procedure_code,
        "procedure_name": p.name, "sector_code": p.sector_code, "level": a.level,
        "service_level": a.service_level, "online_payment": a.online_payment,
        "dvcqg_integrated": a.dvcqg_integrated, "effective_from": a.effective_from,
        "active": a.active,
    } for _, a in sorted(p.applications.items())]}


def render(state: AggregateState) -> Rows:
    """The one-stop rows `state`'s aggregate owns (only dossiers and procedures own any)."""
    if isinstance(state, DossierState):
        return _dossier(state)
    if isinstance(state, ProcedureState):
        return _procedure(state)
    return {}
