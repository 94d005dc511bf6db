"""Builders for the pure projection tests: real event dataclasses, records, a catalogue.

`make(ev.DossierReceived, "d1", 2)` builds an event with a deterministic envelope and the
defaults below; keyword arguments override fields. `records(events)` lays events out on
partitions (by a stable hash of the aggregate id, like Kafka's keyed partitioning) with
consecutive offsets, as `Decoded` records.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from projections.records import Decoded, SourceRecord
from schemas import events as ev

T0 = datetime(2020, 11, 6, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
PROCEDURE = "1.001612"
AGENCY = "H56.14"
OTHER_AGENCY = "H56.15"
SECTOR = "G15"
APPLICANT = ev.Applicant(
    kind=ev.ApplicantKind.CITIZEN,
    name="Nguyễn Thị Hoa",
    id_number="001190012345",
    phone="0912345678",
    email="hoa.nguyen@example.vn",
)
PII = ("Nguyễn Thị Hoa", "001190012345", "0912345678", "hoa.nguyen@example.vn")

DEFAULTS: dict[type[ev.Event], dict[str, Any]] = {
    ev.SectorDefined: {"name": "Công thương"},
    ev.AgencyRegistered: {"name": "Sở Công thương", "kind": ev.AgencyKind.DEPARTMENT},
    ev.AgencyDissolved: {"successor_code": None, "effective_from": date(2025, 7, 1)},
    ev.ProcedurePublished: {
        "name": "Cấp Giấy phép bán lẻ rượu",
        "sector_code": SECTOR,
        "levels": (ev.GovLevel.PROVINCE,),
        "time_limit": ev.TimeLimit(15, ev.TimeUnit.WORKING_DAY),
        "fee_vnd": 1_200_000,
        "documents": (ev.Document("Đơn đề nghị", 1, 0),),
        "legal_bases": ("Nghị định 105/2017/NĐ-CP",),
        "decision_ref": "QĐ 1/2020",
        "effective_from": date(2020, 1, 1),
    },
    ev.ProcedureAbolished: {"decision_ref": "QĐ 9/2021", "effective_from": date(2021, 1, 1)},
    ev.ProcedureAppliedAtAgency: {
        "agency_code": AGENCY,
        "level": ev.GovLevel.PROVINCE,
        "service_level": ev.ServiceLevel.PARTIAL_ONLINE,
        "online_payment": False,
        "dvcqg_integrated": True,
        "effective_from": date(2020, 1, 1),
    },
    ev.ServiceLevelChanged: {
        "agency_code": AGENCY,
        "from_level": ev.ServiceLevel.PARTIAL_ONLINE,
        "to_level": ev.ServiceLevel.FULL_ONLINE,
        "decision_ref": "QĐ 2/2020",
        "effective_from": date(2020, 12, 1),
    },
    ev.OnlinePaymentConfigured: {
        "agency_code": AGENCY, "enabled": True, "effective_from": date(2020, 12, 1),
    },
    ev.DvcqgIntegrationChanged: {
        "agency_code": AGENCY, "integrated": False, "effective_from": date(2020, 12, 1),
    },
    ev.ProcedureWithdrawnFromAgency: {"agency_code": AGENCY, "effective_from": date(2021, 1, 1)},
    ev.WorkingCalendarPublished: {
        "year": 2020,
        "holidays": (date(2020, 9, 2),),
        "swapped_working_days": (),
    },
    ev.DossierSubmitted: {
        "procedure_code": PROCEDURE,
        "agency_code": AGENCY,
        "channel": ev.Channel.ONLINE,
        "inter_agency": False,
        "applicant": APPLICANT,
    },
    ev.DossierReceived: {
        "dossier_code": "000.00.14.H56-201106-0001",
        "handling_agency_code": AGENCY,
        "due_at": T0 + timedelta(days=7),
    },
    ev.DossierIntakeRefused: {"reason": "thiếu giấy tờ"},
    ev.DossierStepTransferred: {"from_step": "tiep_nhan", "to_step": "tham_dinh"},
    ev.SupplementRequested: {"reason": "bổ sung bản sao"},
    ev.SupplementReceived: {"new_due_at": None},
    ev.FinancialObligationRequested: {"amount_vnd": 100_000},
    ev.PaymentCompleted: {"method": ev.PaymentMethod.ONLINE, "amount_vnd": 100_000},
    ev.DossierForwarded: {
        "from_agency_code": AGENCY, "to_agency_code": OTHER_AGENCY,
        "mode": ev.ForwardMode.INTER_AGENCY,
    },
    ev.DossierSuspended: {"reason": "chờ xác minh"},
    ev.DossierResumed: {},
    ev.DossierWithdrawn: {"reason": None},
    ev.DossierResolved: {"outcome": ev.Outcome.APPROVED, "electronic_result": True},
    ev.ResultDelivered: {"method": ev.DeliveryMethod.ONLINE},
    ev.SatisfactionRated: {"rating": ev.Rating.SATISFIED},
}
DEFAULTS[ev.ProcedureAmended] = {**DEFAULTS[ev.ProcedurePublished], "decision_ref": "QĐ 5/2020"}

_ID_FIELD = {"sector": "sector_code", "agency": "agency_code", "procedure": "procedure_code"}


def make(cls: type[ev.Event], aggregate_id: str, seq: int, at: datetime | None = None,
         **fields: Any) -> Any:
    """An event of type `cls` for aggregate `aggregate_id` at `aggregate_seq` = `seq`."""
    values = dict(DEFAULTS[cls])
    if issubclass(cls, ev.CatalogueEvent) and cls is not ev.WorkingCalendarPublished:
        kind = ("sector" if cls is ev.SectorDefined
                else "agency" if cls.TYPE.startswith("Agency") else "procedure")
        values[_ID_FIELD[kind]] = aggregate_id
    values.update(fields)
    source = "catalogue-admin" if issubclass(cls, ev.CatalogueEvent) else "motcua.H56.14"
    return cls(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}/{aggregate_id}/{seq}/{cls.TYPE}")),
        aggregate_id=aggregate_id,
        aggregate_seq=seq,
        occurred_at=at if at is not None else T0 + timedelta(hours=seq),
        source_system=source,
        province_code="H56",
        **values,
    )


def dossier(dossier_id: str, *types: type[ev.Event], start: datetime = T0,
            **overrides: dict[str, Any]) -> list[ev.Event]:
    """A dossier's events: `DossierSubmitted` then `types`, one hour apart, seq 1, 2, ...

    `overrides` maps an event type name to field overrides for every event of that type.
    """
    out: list[ev.Event] = []
    for seq, cls in enumerate((ev.DossierSubmitted, *types), start=1):
        out.append(make(cls, dossier_id, seq, start + timedelta(hours=seq - 1),
                        **overrides.get(cls.TYPE, {})))
    return out


def catalogue() -> list[ev.Event]:
    """A small catalogue: one sector, two agencies, one procedure applied at both."""
    return [
        make(ev.SectorDefined, SECTOR, 1),
        make(ev.AgencyRegistered, AGENCY, 1),
        make(ev.AgencyRegistered, OTHER_AGENCY, 1, name="UBND huyện"),
        make(ev.ProcedurePublished, PROCEDURE, 1),
        make(ev.ProcedureAppliedAtAgency, PROCEDURE, 2),
        make(ev.ProcedureAppliedAtAgency, PROCEDURE, 3, agency_code=OTHER_AGENCY),
        make(ev.WorkingCalendarPublished, "calendar-2020", 1),
    ]


def partition_of(aggregate_id: str, partitions: int) -> int:
    return zlib.crc32(aggregate_id.encode()) % partitions


def records(events: Iterable[ev.Event | Decoded], partitions: int = 12,
            start: dict[tuple[str, int], int] | None = None) -> list[Decoded]:
    """`events` as decoded records, partitioned by aggregate id, offsets consecutive.

    `start` gives (and is updated with) the next offset per (topic, partition), so several
    calls can continue one log.
    """
    offsets = start if start is not None else {}
    out: list[Decoded] = []
    for item in events:
        if isinstance(item, Decoded):
            out.append(item)
            continue
        n = partitions if item.TOPIC == ev.DOSSIER_TOPIC else 3
        tp = (item.TOPIC, partition_of(item.aggregate_id, n))
        offset = offsets.get(tp, 0)
        offsets[tp] = offset + 1
        out.append(Decoded(SourceRecord(tp[0], tp[1], offset, item.aggregate_id.encode(),
                                        b"v" * 64), item))
    return out


def undecodable(topic: str, partition: int, offset: int, error_class: str = "schema_unknown",
                size: int = 16) -> Decoded:
    return Decoded(SourceRecord(topic, partition, offset, None, b"\0" * size), None,
                   error_class, "schema id 99 is not registered")


def flatten(chunks: Sequence[Sequence[ev.Event]]) -> list[ev.Event]:
    return [e for chunk in chunks for e in chunk]
