"""One realistic sample event per contract event type (Phú Yên, province code H56).

Shared test data: other suites may import `sample_events`; keep it stable (add, don't
change). Every sample is valid under the contract and the JSON form: UTC times with
millisecond precision, lower-case UUIDs, dossier `aggregate_id`s that are UUIDs and
catalogue `aggregate_id`s equal to their key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.events import (
    EVENT_TYPES,
    AgencyDissolved,
    AgencyKind,
    AgencyRegistered,
    Applicant,
    ApplicantKind,
    Channel,
    DeliveryMethod,
    Document,
    DossierForwarded,
    DossierIntakeRefused,
    DossierReceived,
    DossierResolved,
    DossierResumed,
    DossierStepTransferred,
    DossierSubmitted,
    DossierSuspended,
    DossierWithdrawn,
    DvcqgIntegrationChanged,
    Event,
    FinancialObligationRequested,
    ForwardMode,
    GovLevel,
    OnlinePaymentConfigured,
    Outcome,
    PaymentCompleted,
    PaymentMethod,
    ProcedureAbolished,
    ProcedureAmended,
    ProcedureAppliedAtAgency,
    ProcedurePublished,
    ProcedureWithdrawnFromAgency,
    Rating,
    ResultDelivered,
    SatisfactionRated,
    SectorDefined,
    ServiceLevel,
    ServiceLevelChanged,
    SupplementReceived,
    SupplementRequested,
    TimeLimit,
    TimeUnit,
    WorkingCalendarPublished,
)

__all__ = ["DOSSIER_ID", "sample_events"]

PROVINCE = "H56"
CATALOGUE_ADMIN = "catalogue-admin"
ONESTOP_TUPHAP = "motcua.H56.14"  # Sở Tư pháp's one-stop system
DOSSIER_ID = "8d3c2a4e-5b1f-4c6d-9e7a-0f1b2c3d4e5f"
PROCEDURE = "1.001193"  # Đăng ký khai sinh (illustrative)
SECTOR = "G14-TP"


def _utc(y: int, mo: int, d: int, h: int, mi: int, s: int = 0, ms: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)


def _eid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _catalogue() -> list[Event]:
    documents = (
        Document(name="Tờ khai đăng ký khai sinh theo mẫu", originals=1, copies=0),
        Document(name="Giấy chứng sinh", originals=1, copies=0),
        Document(name="Giấy tờ tùy thân của người đi đăng ký (CCCD)", originals=0, copies=1),
    )
    published: dict[str, Any] = {
        "procedure_code": PROCEDURE,
        "name": "Đăng ký khai sinh",
        "sector_code": SECTOR,
        "levels": (GovLevel.COMMUNE,),
        "time_limit": TimeLimit(value=1, unit=TimeUnit.WORKING_DAY),
        "fee_vnd": 0,
        "documents": documents,
        "legal_bases": ("Luật Hộ tịch số 60/2014/QH13", "Nghị định 123/2015/NĐ-CP"),
    }
    env: dict[str, Any] = {"source_system": CATALOGUE_ADMIN, "province_code": PROVINCE}
    return [
        SectorDefined(
            event_id=_eid(1), aggregate_id=SECTOR, aggregate_seq=1,
            occurred_at=_utc(2020, 1, 2, 1, 0), **env,
            sector_code=SECTOR, name="Hộ tịch",
        ),
        AgencyRegistered(
            event_id=_eid(2), aggregate_id="H56.14", aggregate_seq=1,
            occurred_at=_utc(2020, 1, 2, 1, 5), **env,
            agency_code="H56.14", name="Sở Tư pháp tỉnh Phú Yên",
            kind=AgencyKind.DEPARTMENT, parent_code="H56",
        ),
        AgencyDissolved(
            event_id=_eid(3), aggregate_id="H56.30.5", aggregate_seq=4,
            occurred_at=_utc(2020, 2, 28, 9, 30), **env,
            agency_code="H56.30.5", successor_code="H56.30.6",
            effective_from=date(2020, 3, 1),
        ),
        ProcedurePublished(
            event_id=_eid(4), aggregate_id=PROCEDURE, aggregate_seq=1,
            occurred_at=_utc(2020, 3, 10, 2, 0), **env, **published,
            decision_ref="1234/QĐ-UBND", effective_from=date(2020, 3, 15),
        ),
        ProcedureAmended(
            event_id=_eid(5), aggregate_id=PROCEDURE, aggregate_seq=2,
            occurred_at=_utc(2020, 9, 1, 2, 0, 0, 250), correlation_id="qd-2001-2020", **env,
            **{**published, "levels": (GovLevel.COMMUNE, GovLevel.DISTRICT), "fee_vnd": 8_000},
            decision_ref="2001/QĐ-UBND", effective_from=date(2020, 9, 15),
        ),
        ProcedureAbolished(
            event_id=_eid(6), aggregate_id="2.000908", aggregate_seq=3,
            occurred_at=_utc(2020, 10, 5, 3, 0), **env,
            procedure_code="2.000908", decision_ref="2150/QĐ-UBND",
            effective_from=date(2020, 10, 20),
        ),
        ProcedureAppliedAtAgency(
            event_id=_eid(7), aggregate_id=PROCEDURE, aggregate_seq=3,
            occurred_at=_utc(2020, 9, 16, 1, 0), **env,
            procedure_code=PROCEDURE, agency_code="H56.30.1", level=GovLevel.COMMUNE,
            service_level=ServiceLevel.PARTIAL_ONLINE, online_payment=False,
            dvcqg_integrated=True, effective_from=date(2020, 9, 16),
        ),
        ServiceLevelChanged(
            event_id=_eid(8), aggregate_id=PROCEDURE, aggregate_seq=4,
            occurred_at=_utc(2020, 11, 2, 2, 0), **env,
            procedure_code=PROCEDURE, agency_code="H56.30.1",
            from_level=ServiceLevel.PARTIAL_ONLINE, to_level=ServiceLevel.FULL_ONLINE,
            decision_ref="2345/QĐ-UBND", effective_from=date(2020, 11, 5),
        ),
        OnlinePaymentConfigured(
            event_id=_eid(9), aggregate_id=PROCEDURE, aggregate_seq=5,
            occurred_at=_utc(2020, 11, 2, 2, 30), **env,
            procedure_code=PROCEDURE, agency_code="H56.30.1", enabled=True,
            effective_from=date(2020, 11, 5),
        ),
        DvcqgIntegrationChanged(
            event_id=_eid(10), aggregate_id=PROCEDURE, aggregate_seq=6,
            occurred_at=_utc(2020, 11, 2, 3, 0), **env,
            procedure_code=PROCEDURE, agency_code="H56.30.1", integrated=False,
            effective_from=date(2020, 11, 6),
        ),
        ProcedureWithdrawnFromAgency(
            event_id=_eid(11), aggregate_id=PROCEDURE, aggregate_seq=7,
            occurred_at=_utc(2020, 12, 1, 2, 0), **env,
            procedure_code=PROCEDURE, agency_code="H56.30.1",
            effective_from=date(2021, 1, 1),
        ),
        WorkingCalendarPublished(
            event_id=_eid(12), aggregate_id="calendar-2021", aggregate_seq=1,
            occurred_at=_utc(2020, 12, 15, 2, 0), **env,
            year=2021,
            holidays=(date(2021, 1, 1), date(2021, 2, 10), date(2021, 2, 11),
                      date(2021, 2, 12), date(2021, 2, 15), date(2021, 2, 16),
                      date(2021, 4, 21), date(2021, 4, 30), date(2021, 5, 3),
                      date(2021, 9, 2), date(2021, 9, 3)),
            swapped_working_days=(date(2021, 2, 20),),
        ),
    ]  # fmt: skip


def _dossier() -> list[Event]:
    env: dict[str, Any] = {
        "aggregate_id": DOSSIER_ID,
        "source_system": ONESTOP_TUPHAP,
        "province_code": PROVINCE,
    }
    return [
        DossierSubmitted(
            event_id=_eid(101), aggregate_seq=1, occurred_at=_utc(2020, 11, 6, 1, 2, 3, 456),
            **env,
            procedure_code=PROCEDURE, agency_code="H56.14", channel=Channel.ONLINE,
            inter_agency=False,
            applicant=Applicant(
                kind=ApplicantKind.CITIZEN, name="Nguyễn Thị Hồng Nhung",
                id_number="054190001234", phone="0905123456", email="nhung.nth@gmail.com",
            ),
        ),
        DossierReceived(
            event_id=_eid(102), aggregate_seq=2, occurred_at=_utc(2020, 11, 6, 2, 15),
            **env,
            dossier_code="000.00.14.H56-201106-0001", handling_agency_code="H56.14",
            due_at=_utc(2020, 11, 13, 10, 0),
        ),
        DossierIntakeRefused(
            event_id=_eid(103), aggregate_seq=2, occurred_at=_utc(2020, 11, 6, 2, 20),
            **env, reason="Hồ sơ không thuộc thẩm quyền giải quyết của cơ quan",
        ),
        DossierStepTransferred(
            event_id=_eid(104), aggregate_seq=3, occurred_at=_utc(2020, 11, 6, 3, 0),
            **env, from_step="Tiếp nhận", to_step="Thẩm định", to_unit="Phòng Hành chính tư pháp",
        ),
        SupplementRequested(
            event_id=_eid(105), aggregate_seq=4, occurred_at=_utc(2020, 11, 9, 4, 0),
            **env, reason="Bổ sung bản sao Giấy chứng nhận kết hôn của cha mẹ",
        ),
        SupplementReceived(
            event_id=_eid(106), aggregate_seq=5, occurred_at=_utc(2020, 11, 10, 2, 0),
            **env, new_due_at=_utc(2020, 11, 16, 10, 0),
        ),
        FinancialObligationRequested(
            event_id=_eid(107), aggregate_seq=6, occurred_at=_utc(2020, 11, 11, 2, 0),
            **env, amount_vnd=8_000,
        ),
        PaymentCompleted(
            event_id=_eid(108), aggregate_seq=7, occurred_at=_utc(2020, 11, 11, 2, 45, 10, 7),
            correlation_id="payment-platform-7731", **env,
            method=PaymentMethod.ONLINE, amount_vnd=8_000, transaction_ref="PAYGOV-201111-000731",
        ),
        DossierForwarded(
            event_id=_eid(109), aggregate_seq=8, occurred_at=_utc(2020, 11, 12, 1, 0),
            **env, from_agency_code="H56.14", to_agency_code="H56.30.1",
            mode=ForwardMode.INTER_AGENCY,
        ),
        DossierSuspended(
            event_id=_eid(110), aggregate_seq=9, occurred_at=_utc(2020, 11, 12, 8, 0),
            **env, reason="Chờ kết quả xác minh của UBND xã An Phú",
        ),
        DossierResumed(
            event_id=_eid(111), aggregate_seq=10, occurred_at=_utc(2020, 11, 13, 1, 30), **env,
        ),
        DossierWithdrawn(
            event_id=_eid(112), aggregate_seq=11, occurred_at=_utc(2020, 11, 13, 2, 0),
            **env, reason="Công dân xin rút hồ sơ để nộp lại",
        ),
        DossierResolved(
            event_id=_eid(113), aggregate_seq=11, occurred_at=_utc(2020, 11, 13, 9, 0),
            **env, outcome=Outcome.APPROVED, electronic_result=True,
        ),
        ResultDelivered(
            event_id=_eid(114), aggregate_seq=12, occurred_at=_utc(2020, 11, 16, 2, 0),
            **env, method=DeliveryMethod.POSTAL,
        ),
        SatisfactionRated(
            event_id=_eid(115), aggregate_seq=13, occurred_at=_utc(2020, 11, 16, 5, 0),
            **env, rating=Rating.VERY_SATISFIED,
        ),
    ]  # fmt: skip


def sample_events() -> list[Event]:
    """One event per contract event type, catalogue types first, in `EVENT_TYPES` order.

    The samples are independent values, not one consistent history (the dossier has both
    an intake refusal and a resolution, for instance).
    """
    events = _catalogue() + _dossier()
    assert [type(e) for e in events] == list(EVENT_TYPES.values())
    return events
