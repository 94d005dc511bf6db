"""Building blocks shared by the catalogue load and its in-year changes.

:class:`Clock` hands out strictly increasing record times; the ``*_fields`` functions give
an event's fields by contract name; :func:`new_version` draws a plausible procedure version.
"""

from __future__ import annotations

import random
from typing import Any

from connectors.workload import reference as ref
from connectors.workload.model import Application, Procedure, Record, Version
from connectors.workload.workdays import iso_date

__all__ = ["Clock", "applied_fields", "new_version", "published_fields"]

_WORKING_DAY_LIMITS = (1, 2, 3, 5, 7, 10, 12, 15, 20, 25, 30)
_WORKING_DAY_WEIGHTS = (5, 4, 10, 14, 10, 16, 6, 14, 10, 4, 7)


class Clock:
    """Appends records with strictly increasing local times."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.t = 0

    def emit(self, at_least: int, aggregate_id: str, type_: str, fields: dict[str, Any]) -> None:
        """Record one event at ``at_least`` or one second after the previous record."""
        self.t = max(self.t + 1, at_least)
        self.records.append(Record(self.t, aggregate_id, type_, fields))


def published_fields(proc: Procedure, version: Version) -> dict[str, Any]:
    """The fields of ProcedurePublished / ProcedureAmended for one version."""
    value, unit = version.time_limit
    return {
        "procedure_code": proc.code,
        "name": proc.name,
        "sector_code": proc.sector_code,
        "levels": list(proc.levels),
        "time_limit": {"value": value, "unit": unit},
        "fee_vnd": version.fee_vnd,
        "documents": version.documents,
        "legal_bases": version.legal_bases,
        "decision_ref": version.decision_ref,
        "effective_from": iso_date(version.effective_from),
    }


def applied_fields(app: Application) -> dict[str, Any]:
    """The fields of ProcedureAppliedAtAgency."""
    return {
        "procedure_code": app.procedure.code,
        "agency_code": app.agency.code,
        "level": app.level,
        "service_level": app.service_level,
        "online_payment": app.online_payment,
        "dvcqg_integrated": app.dvcqg_integrated,
        "effective_from": iso_date(app.effective_from),
    }


def _time_limit(rng: random.Random, commune: bool) -> tuple[int, str]:
    u = rng.random()
    if u < 0.03:
        return 0, "WORKING_DAY"
    if u < 0.08 or (commune and u < 0.2):
        return rng.choice((4, 8, 8, 12, 24)), "HOUR"
    if u < 0.14:
        return rng.choice((5, 7, 10, 15, 30, 45)), "CALENDAR_DAY"
    limit = rng.choices(_WORKING_DAY_LIMITS, _WORKING_DAY_WEIGHTS)[0]
    return (min(limit, 7) if commune else limit), "WORKING_DAY"


def new_version(
    rng: random.Random, sector: str, commune: bool, effective: int, decision: str
) -> Version:
    """A random version of a procedure of that sector."""
    documents: list[dict[str, Any]] = []
    for name in rng.sample(ref.DOCUMENTS, rng.randint(1, 6)):
        originals, copies = rng.choice((0, 1, 1, 1, 2)), rng.choice((0, 1))
        documents.append({"name": name, "originals": max(originals, 1 - copies), "copies": copies})
    laws = ref.LEGAL_BASES[sector]
    legal = [*rng.sample(laws, rng.randint(1, len(laws))), ref.ONE_STOP_DECREE]
    fee = rng.choice(ref.FEES)
    return Version(effective, _time_limit(rng, commune), fee, decision, documents, legal)
