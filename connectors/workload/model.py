"""The generator's in-memory province: agencies, procedures, applications and their history.

Built once by :mod:`connectors.workload.catalogue` (and :mod:`.changes`), then read by the
dossier generator to know, for any date, what is applied where and how far online.
Dates are ordinals, times are local seconds (see :mod:`.workdays`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.workload.spec import WorkloadSpec
from connectors.workload.workdays import WorkCalendar

__all__ = ["Agency", "Application", "Catalogue", "Procedure", "Record", "Version"]


@dataclass(eq=False)
class Agency:
    """An agency (cơ quan) that may apply procedures."""

    code: str
    name: str
    kind: str
    parent_code: str | None
    weight: float = 1.0  # relative demand (population) for commune-level procedures
    dissolved_from: int | None = None

    @property
    def dossier_prefix(self) -> str:
        """The agency id used in dossier codes: ``H56.14`` -> ``000.00.14.H56``."""
        parts = self.code.split(".")
        lower = parts[2] if len(parts) > 2 else "00"
        middle = parts[1] if len(parts) > 1 else "00"
        return f"000.{lower}.{middle}.{parts[0]}"


@dataclass
class Version:
    """One published version of a procedure (ProcedurePublished / ProcedureAmended)."""

    effective_from: int
    time_limit: tuple[int, str]  # (value, TimeUnit); value 0 = no deadline
    fee_vnd: int
    decision_ref: str
    documents: list[dict[str, Any]]
    legal_bases: list[str]


@dataclass(eq=False)
class Procedure:
    """An administrative procedure (TTHC) with its versions and demand."""

    code: str
    name: str
    sector_code: str
    levels: list[str]
    versions: list[Version]
    inter_agency: bool = False
    popularity: float = 1.0
    complexity: int = 0
    abolished_from: int | None = None

    def version_at(self, ordinal: int) -> Version:
        """The version in force on that date (the first one before publication)."""
        current = self.versions[0]
        for version in self.versions[1:]:
            if version.effective_from <= ordinal:
                current = version
        return current


@dataclass(eq=False)
class Application:
    """A procedure applied at an agency (ProcedureAppliedAtAgency) and its later changes."""

    procedure: Procedure
    agency: Agency
    level: str
    service_level: str
    online_payment: bool
    dvcqg_integrated: bool
    effective_from: int
    partner: bool = False  # applied for inter-agency (liên thông) work, rarely a front desk
    withdrawn_from: int | None = None
    level_changes: list[tuple[int, str]] = field(default_factory=list)
    payment_changes: list[tuple[int, bool]] = field(default_factory=list)

    def active_at(self, ordinal: int) -> bool:
        """Whether a dossier may be submitted for it on that date."""
        if ordinal < self.effective_from:
            return False
        withdrawn, dissolved = self.withdrawn_from, self.agency.dissolved_from
        abolished = self.procedure.abolished_from
        return (
            (withdrawn is None or ordinal < withdrawn)
            and (abolished is None or ordinal < abolished)
            and (dissolved is None or ordinal < dissolved)
        )

    def service_level_at(self, ordinal: int) -> str:
        """Service level in force on that date."""
        level = self.service_level
        for since, value in self.level_changes:
            if since <= ordinal:
                level = value
        return level

    def online_payment_at(self, ordinal: int) -> bool:
        """Whether online payment is configured on that date."""
        enabled = self.online_payment
        for since, value in self.payment_changes:
            if since <= ordinal:
                enabled = value
        return enabled


@dataclass
class Record:
    """One catalogue event before the envelope: time, aggregate, type, fields."""

    t: int
    aggregate_id: str
    type: str
    fields: dict[str, Any]


@dataclass
class Catalogue:
    """The whole generated catalogue: model plus the ordered catalogue records."""

    spec: WorkloadSpec
    calendar: WorkCalendar
    agencies: dict[str, Agency]
    procedures: list[Procedure]
    applications: dict[str, list[Application]]  # by procedure code
    records: list[Record] = field(default_factory=list)

    @property
    def communes(self) -> list[Agency]:
        """The communes, in code order."""
        return [a for a in self.agencies.values() if a.kind == "COMMUNE"]
