"""The events of CONTRACT.md v1 as frozen, typed values with no behaviour.

Every event carries the envelope fields first (`Envelope`), then its own fields, in the
same order as its `.avsc` file in `schemas/avro/`. Times are timezone-aware UTC
`datetime`s with millisecond precision (Avro `timestamp-millis`); dates are `date`s
(Avro `date`); enums are `StrEnum`s whose values are the contract's symbols.

Serialisation lives elsewhere (`schemas.codec`, `schemas.jsonform`); this module only
names things.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

CATALOGUE_TOPIC = "catalogue.events"
DOSSIER_TOPIC = "dossier.events"
CATALOGUE_NAMESPACE = "vn.dvc.catalogue"
DOSSIER_NAMESPACE = "vn.dvc.dossier"


# --- enums -------------------------------------------------------------------------------


class GovLevel(StrEnum):
    PROVINCE = "PROVINCE"
    DISTRICT = "DISTRICT"
    COMMUNE = "COMMUNE"


class AgencyKind(StrEnum):
    DEPARTMENT = "DEPARTMENT"
    DISTRICT = "DISTRICT"
    COMMUNE = "COMMUNE"
    VERTICAL = "VERTICAL"


class ServiceLevel(StrEnum):
    """Online level; legacy levels 2, 3, 4 (Nghị định 42/2022: một phần / toàn trình)."""

    INFO = "INFO"
    PARTIAL_ONLINE = "PARTIAL_ONLINE"
    FULL_ONLINE = "FULL_ONLINE"


class TimeUnit(StrEnum):
    WORKING_DAY = "WORKING_DAY"
    CALENDAR_DAY = "CALENDAR_DAY"
    HOUR = "HOUR"


class Channel(StrEnum):
    IN_PERSON = "IN_PERSON"
    ONLINE = "ONLINE"
    POSTAL = "POSTAL"


class ApplicantKind(StrEnum):
    CITIZEN = "CITIZEN"
    BUSINESS = "BUSINESS"
    ORGANISATION = "ORGANISATION"
    STATE_AGENCY = "STATE_AGENCY"
    OTHER = "OTHER"


class PaymentMethod(StrEnum):
    ONLINE = "ONLINE"
    CASH = "CASH"
    TRANSFER = "TRANSFER"


class Outcome(StrEnum):
    APPROVED = "APPROVED"
    REFUSED = "REFUSED"


class DeliveryMethod(StrEnum):
    COUNTER = "COUNTER"
    POSTAL = "POSTAL"
    ONLINE = "ONLINE"


class ForwardMode(StrEnum):
    INTERNAL = "INTERNAL"
    INTER_AGENCY = "INTER_AGENCY"


class Rating(StrEnum):
    VERY_SATISFIED = "VERY_SATISFIED"
    SATISFIED = "SATISFIED"
    NEUTRAL = "NEUTRAL"
    DISSATISFIED = "DISSATISFIED"


# --- nested records ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeLimit:
    value: int
    unit: TimeUnit


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    originals: int
    copies: int


@dataclass(frozen=True, slots=True)
class Applicant:
    kind: ApplicantKind
    name: str
    id_number: str | None = None
    phone: str | None = None
    email: str | None = None


# --- envelope ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """The envelope: the first fields of every event."""

    TYPE: ClassVar[str] = ""
    NAMESPACE: ClassVar[str] = ""
    TOPIC: ClassVar[str] = ""

    event_id: str
    aggregate_id: str
    aggregate_seq: int
    occurred_at: datetime
    source_system: str
    province_code: str
    correlation_id: str | None = None


ENVELOPE_FIELDS: tuple[str, ...] = (
    "event_id",
    "aggregate_id",
    "aggregate_seq",
    "occurred_at",
    "source_system",
    "province_code",
    "correlation_id",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueEvent(Event):
    NAMESPACE: ClassVar[str] = CATALOGUE_NAMESPACE
    TOPIC: ClassVar[str] = CATALOGUE_TOPIC


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierEvent(Event):
    NAMESPACE: ClassVar[str] = DOSSIER_NAMESPACE
    TOPIC: ClassVar[str] = DOSSIER_TOPIC


# --- catalogue events --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SectorDefined(CatalogueEvent):
    TYPE: ClassVar[str] = "SectorDefined"
    sector_code: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgencyRegistered(CatalogueEvent):
    TYPE: ClassVar[str] = "AgencyRegistered"
    agency_code: str
    name: str
    kind: AgencyKind
    parent_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgencyDissolved(CatalogueEvent):
    TYPE: ClassVar[str] = "AgencyDissolved"
    agency_code: str
    successor_code: str | None
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedurePublished(CatalogueEvent):
    TYPE: ClassVar[str] = "ProcedurePublished"
    procedure_code: str
    name: str
    sector_code: str
    levels: tuple[GovLevel, ...]
    time_limit: TimeLimit
    fee_vnd: int
    documents: tuple[Document, ...]
    legal_bases: tuple[str, ...]
    decision_ref: str
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureAmended(CatalogueEvent):
    """The full new version of a procedure (same fields as `ProcedurePublished`)."""

    TYPE: ClassVar[str] = "ProcedureAmended"
    procedure_code: str
    name: str
    sector_code: str
    levels: tuple[GovLevel, ...]
    time_limit: TimeLimit
    fee_vnd: int
    documents: tuple[Document, ...]
    legal_bases: tuple[str, ...]
    decision_ref: str
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureAbolished(CatalogueEvent):
    TYPE: ClassVar[str] = "ProcedureAbolished"
    procedure_code: str
    decision_ref: str
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureAppliedAtAgency(CatalogueEvent):
    TYPE: ClassVar[str] = "ProcedureAppliedAtAgency"
    procedure_code: str
    agency_code: str
    level: GovLevel
    service_level: ServiceLevel
    online_payment: bool
    dvcqg_integrated: bool
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevelChanged(CatalogueEvent):
    TYPE: ClassVar[str] = "ServiceLevelChanged"
    procedure_code: str
    agency_code: str
    from_level: ServiceLevel
    to_level: ServiceLevel
    decision_ref: str
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlinePaymentConfigured(CatalogueEvent):
    TYPE: ClassVar[str] = "OnlinePaymentConfigured"
    procedure_code: str
    agency_code: str
    enabled: bool
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class DvcqgIntegrationChanged(CatalogueEvent):
    TYPE: ClassVar[str] = "DvcqgIntegrationChanged"
    procedure_code: str
    agency_code: str
    integrated: bool
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureWithdrawnFromAgency(CatalogueEvent):
    TYPE: ClassVar[str] = "ProcedureWithdrawnFromAgency"
    procedure_code: str
    agency_code: str
    effective_from: date


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingCalendarPublished(CatalogueEvent):
    TYPE: ClassVar[str] = "WorkingCalendarPublished"
    year: int
    holidays: tuple[date, ...]
    swapped_working_days: tuple[date, ...]


# --- dossier events ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierSubmitted(DossierEvent):
    TYPE: ClassVar[str] = "DossierSubmitted"
    procedure_code: str
    agency_code: str
    channel: Channel
    inter_agency: bool
    applicant: Applicant


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierReceived(DossierEvent):
    TYPE: ClassVar[str] = "DossierReceived"
    dossier_code: str
    handling_agency_code: str
    due_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierIntakeRefused(DossierEvent):
    TYPE: ClassVar[str] = "DossierIntakeRefused"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierStepTransferred(DossierEvent):
    TYPE: ClassVar[str] = "DossierStepTransferred"
    from_step: str
    to_step: str
    to_unit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementRequested(DossierEvent):
    TYPE: ClassVar[str] = "SupplementRequested"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementReceived(DossierEvent):
    TYPE: ClassVar[str] = "SupplementReceived"
    new_due_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FinancialObligationRequested(DossierEvent):
    TYPE: ClassVar[str] = "FinancialObligationRequested"
    amount_vnd: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentCompleted(DossierEvent):
    TYPE: ClassVar[str] = "PaymentCompleted"
    method: PaymentMethod
    amount_vnd: int
    transaction_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierForwarded(DossierEvent):
    TYPE: ClassVar[str] = "DossierForwarded"
    from_agency_code: str
    to_agency_code: str
    mode: ForwardMode


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierSuspended(DossierEvent):
    TYPE: ClassVar[str] = "DossierSuspended"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierResumed(DossierEvent):
    TYPE: ClassVar[str] = "DossierResumed"


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierWithdrawn(DossierEvent):
    TYPE: ClassVar[str] = "DossierWithdrawn"
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierResolved(DossierEvent):
    TYPE: ClassVar[str] = "DossierResolved"
    outcome: Outcome
    electronic_result: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultDelivered(DossierEvent):
    TYPE: ClassVar[str] = "ResultDelivered"
    method: DeliveryMethod


@dataclass(frozen=True, slots=True, kw_only=True)
class SatisfactionRated(DossierEvent):
    TYPE: ClassVar[str] = "SatisfactionRated"
    rating: Rating


CATALOGUE_EVENT_TYPES: tuple[type[CatalogueEvent], ...] = (
    SectorDefined,
    AgencyRegistered,
    AgencyDissolved,
    ProcedurePublished,
    ProcedureAmended,
    ProcedureAbolished,
    ProcedureAppliedAtAgency,
    ServiceLevelChanged,
    OnlinePaymentConfigured,
    DvcqgIntegrationChanged,
    ProcedureWithdrawnFromAgency,
    WorkingCalendarPublished,
)

DOSSIER_EVENT_TYPES: tuple[type[DossierEvent], ...] = (
    DossierSubmitted,
    DossierReceived,
    DossierIntakeRefused,
    DossierStepTransferred,
    SupplementRequested,
    SupplementReceived,
    FinancialObligationRequested,
    PaymentCompleted,
    DossierForwarded,
    DossierSuspended,
    DossierResumed,
    DossierWithdrawn,
    DossierResolved,
    ResultDelivered,
    SatisfactionRated,
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in (*CATALOGUE_EVENT_TYPES, *DOSSIER_EVENT_TYPES)
}


def full_name(event_type: type[Event]) -> str:
    """The Avro full name of an event type, e.g. `vn.dvc.dossier.DossierReceived`."""
    return f"{event_type.NAMESPACE}.{event_type.TYPE}"
