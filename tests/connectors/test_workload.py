"""The workload generator: determinism, contract shape, legal lifecycles, a realistic mix.

Every check here is written independently of the generator's internals: the transition
table, the catalogue replay and the working-day arithmetic are re-derived from
CONTRACT.md / DOMAIN.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import islice, pairwise
from typing import Any

import pytest

from connectors.workload import (
    WorkloadSpec,
    generate,
    generate_catalogue,
    generate_dossiers,
    spec_for_events,
    write_jsonl,
)

SMALL = WorkloadSpec(seed=7, departments=8, communes=6, procedures=150, dossiers=600)
MIX = WorkloadSpec(seed=11, dossiers=6000)
LOCAL = 7  # hours east of UTC

# status -> {event type: status after}; "back" = the status before 6, None = unchanged.
TRANSITIONS: dict[int, dict[str, int | str | None]] = {
    1: {"DossierReceived": 2, "DossierIntakeRefused": 3, "DossierWithdrawn": 7},
    5: {"SupplementReceived": 4, "DossierWithdrawn": 7},
    6: {"PaymentCompleted": "back", "DossierWithdrawn": 7},
    8: {"DossierResumed": 4, "DossierWithdrawn": 7},
    9: {"ResultDelivered": 10, "PaymentCompleted": None},
    10: {"SatisfactionRated": None},
    3: {},
    7: {},
}
TRANSITIONS[2] = TRANSITIONS[4] = {
    "DossierStepTransferred": 4,
    "DossierForwarded": 4,
    "SupplementRequested": 5,
    "FinancialObligationRequested": 6,
    "DossierSuspended": 8,
    "DossierWithdrawn": 7,
    "DossierResolved": 9,
}


@lru_cache(maxsize=4)
def events_of(spec: WorkloadSpec) -> tuple[dict[str, Any], ...]:
    return tuple(generate(spec))


def split(spec: WorkloadSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events = events_of(spec)
    catalogue = [e for e in events if e["source_system"] == "catalogue-admin"]
    return catalogue, [e for e in events if e["source_system"] != "catalogue-admin"]


def by_aggregate(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        groups[event["aggregate_id"]].append(event)
    return groups


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def local_day(text: str) -> date:
    return instant(text).date()  # the offset is +07:00, so this is the local date


class CatalogueReplay:
    """What is applied where, as of a date, from the catalogue events alone."""

    def __init__(self, catalogue: list[dict[str, Any]]) -> None:
        self.applied: dict[tuple[str, str], list[tuple[date, str]]] = defaultdict(list)
        self.ends: dict[tuple[str, str], date] = {}
        self.abolished: dict[str, date] = {}
        self.dissolved: dict[str, date] = {}
        self.procedures: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.off: set[date] = set()
        self.extra: set[date] = set()
        for e in catalogue:
            key = (e.get("procedure_code", ""), e.get("agency_code", ""))
            since = date.fromisoformat(e["effective_from"]) if "effective_from" in e else None
            if e["type"] == "ProcedureAppliedAtAgency":
                self.applied[key].append((since, e["service_level"]))
            elif e["type"] == "ServiceLevelChanged":
                assert self.level(key, since) == e["from_level"], e
                self.applied[key].append((since, e["to_level"]))
            elif e["type"] == "ProcedureWithdrawnFromAgency":
                self.ends[key] = since
            elif e["type"] == "ProcedureAbolished":
                self.abolished[e["procedure_code"]] = since
            elif e["type"] == "AgencyDissolved":
                self.dissolved[e["agency_code"]] = since
            elif e["type"] in ("ProcedurePublished", "ProcedureAmended"):
                self.procedures[e["procedure_code"]].append(e)
            elif e["type"] == "WorkingCalendarPublished":
                self.off.update(date.fromisoformat(d) for d in e["holidays"])
                self.extra.update(date.fromisoformat(d) for d in e["swapped_working_days"])

    def level(self, key: tuple[str, str], day: date) -> str | None:
        levels = sorted((since, lv) for since, lv in self.applied.get(key, []) if since <= day)
        return levels[-1][1] if levels else None

    def active(self, procedure: str, agency: str, day: date) -> bool:
        ends = (
            self.ends.get((procedure, agency)),
            self.abolished.get(procedure),
            self.dissolved.get(agency),
        )
        started = self.level((procedure, agency), day) is not None
        return started and all(end is None or day < end for end in ends)

    def version(self, procedure: str, day: date) -> dict[str, Any]:
        versions = self.procedures[procedure]
        current = [v for v in versions if date.fromisoformat(v["effective_from"]) <= day]
        return (current or versions)[-1]

    def working(self, day: date) -> bool:
        return day in self.extra or (day.weekday() < 5 and day not in self.off)


# --- determinism and shape -----------------------------------------------------------


def test_same_seed_same_output_and_another_seed_differs() -> None:
    first = list(generate(SMALL))
    assert first == list(generate(SMALL))
    other = WorkloadSpec(seed=8, departments=8, communes=6, procedures=150, dossiers=600)
    assert list(islice(generate(other), 3000)) != first[:3000]


def test_catalogue_comes_first_and_generate_is_the_concatenation() -> None:
    catalogue, dossiers = split(SMALL)
    assert list(events_of(SMALL)) == catalogue + dossiers
    assert catalogue == list(generate_catalogue(SMALL))
    assert dossiers == list(generate_dossiers(SMALL))


def test_envelope_and_json_form() -> None:
    for event in events_of(SMALL):
        assert "event_id" not in event
        assert event["province_code"] == "H56"
        assert isinstance(event["aggregate_seq"], int)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", event["occurred_at"])
        for key in ("effective_from", "due_at", "new_due_at"):
            if event.get(key) is not None:
                pattern = r"\d{4}-\d\d-\d\d" if key == "effective_from" else r".+\+07:00"
                assert re.fullmatch(pattern, event[key]), event
    _, dossiers = split(SMALL)
    for event in dossiers:
        if event["type"] == "DossierSubmitted":
            assert event["source_system"] == f"motcua.{event['agency_code']}"


def test_every_aggregate_is_numbered_from_one_without_gaps_in_increasing_time() -> None:
    for events in by_aggregate(list(events_of(SMALL))).values():
        assert [e["aggregate_seq"] for e in events] == list(range(1, len(events) + 1))
        times = [instant(e["occurred_at"]) for e in events]
        assert all(a < b for a, b in pairwise(times))


def test_dossier_stream_is_in_live_time_order() -> None:
    _, dossiers = split(SMALL)
    keys = [(instant(e["occurred_at"]), e["aggregate_id"], e["aggregate_seq"]) for e in dossiers]
    assert keys == sorted(keys)
    assert max(k[0] for k in keys) < datetime(2026, 1, 1, tzinfo=keys[0][0].tzinfo)


# --- lifecycles ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SMALL, MIX], ids=["small", "province"])
def test_every_dossier_follows_the_allowed_transitions(spec: WorkloadSpec) -> None:
    _, dossiers = split(spec)
    for events in by_aggregate(dossiers).values():
        assert events[0]["type"] == "DossierSubmitted"
        status, before_six = 1, 0
        for event in events[1:]:
            allowed = TRANSITIONS[status]
            assert event["type"] in allowed, (status, event)
            after = allowed[event["type"]]
            if after == "back":
                status = before_six
            elif isinstance(after, int):
                if after == 6:
                    before_six = status
                status = after


def test_dossiers_use_procedures_applied_at_their_agency_and_online_only_when_offered() -> None:
    catalogue, dossiers = split(MIX)
    replay = CatalogueReplay(catalogue)
    for event in dossiers:
        if event["type"] != "DossierSubmitted":
            continue
        day, key = local_day(event["occurred_at"]), (event["procedure_code"], event["agency_code"])
        assert replay.active(*key, day), event
        if event["channel"] == "ONLINE":
            assert replay.level(key, day) != "INFO", event


def test_due_dates_count_working_days_and_holidays() -> None:
    catalogue, dossiers = split(MIX)
    replay = CatalogueReplay(catalogue)
    submitted: dict[str, dict[str, Any]] = {}
    checked = 0
    for event in dossiers:
        if event["type"] == "DossierSubmitted":
            submitted[event["aggregate_id"]] = event
        if event["type"] != "DossierReceived" or event["due_at"] is None:
            continue
        sub = submitted[event["aggregate_id"]]
        limit = replay.version(sub["procedure_code"], local_day(sub["occurred_at"]))["time_limit"]
        due = instant(event["due_at"])
        if limit["unit"] != "WORKING_DAY":
            continue
        day, left = local_day(event["occurred_at"]), limit["value"]
        while left:
            day += timedelta(days=1)
            left -= replay.working(day)
        assert (due.date(), due.hour, due.minute) == (day, 17, 0), (event, limit)
        checked += 1
    assert checked > 1000


def test_dossier_codes_are_unique_and_well_formed() -> None:
    _, dossiers = split(MIX)
    codes = [e["dossier_code"] for e in dossiers if e["type"] == "DossierReceived"]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"000\.\d\d\.\d\d\.H56-\d{6}-\d{4}", code), code


def test_applicants_look_vietnamese() -> None:
    _, dossiers = split(MIX)
    applicants = [e["applicant"] for e in dossiers if e["type"] == "DossierSubmitted"]
    citizens = [a for a in applicants if a["kind"] == "CITIZEN"]
    assert all(re.fullmatch(r"\d{12}", a["id_number"]) for a in citizens)
    families = Counter(a["name"].split()[0] for a in citizens)
    assert families.most_common(1)[0][0] == "Nguyễn"
    assert any(a["email"] is None for a in applicants)
    assert any(a["kind"] == "BUSINESS" for a in applicants)


# --- the mix -------------------------------------------------------------------------


def dossier_summary(spec: WorkloadSpec) -> dict[str, float]:
    _, dossiers = split(spec)
    groups = by_aggregate(dossiers)
    types = Counter(e["type"] for e in dossiers)
    channels = Counter(g[0]["channel"] for g in groups.values())
    resolved = late = 0
    for events in groups.values():
        due = None
        for event in events:
            if event["type"] == "DossierReceived":
                due = event["due_at"]
            elif event["type"] == "SupplementReceived":
                due = event["new_due_at"]
            elif event["type"] == "DossierResolved" and due is not None:
                resolved += 1
                late += local_day(event["occurred_at"]) > local_day(due)
    n = len(groups)
    return {
        "online": channels["ONLINE"] / n,
        "refused": types["DossierIntakeRefused"] / n,
        "withdrawn": types["DossierWithdrawn"] / n,
        "supplemented": types["SupplementRequested"] / n,
        "late": late / resolved,
        "per_dossier": len(dossiers) / n,
        "max_events": max(len(g) for g in groups.values()),
        "forwards": sum(e.get("mode") == "INTER_AGENCY" for e in dossiers),
        "online_payments": sum(
            e.get("method") == "ONLINE" and e["type"] == "PaymentCompleted" for e in dossiers
        ),
        "suspended": types["DossierSuspended"],
        "refused_outcome": sum(e.get("outcome") == "REFUSED" for e in dossiers),
        "rated": types["SatisfactionRated"],
        "open": sum(
            g[-1]["type"] in ("DossierReceived", "DossierStepTransferred") for g in groups.values()
        ),
    }


def test_the_dossier_mix_is_realistic() -> None:
    mix = dossier_summary(MIX)
    assert 0.80 <= mix["online"] <= 0.90  # spec.online_share = 0.85
    assert 0.02 <= mix["refused"] <= 0.045
    assert 0.008 <= mix["withdrawn"] <= 0.04
    assert 0.10 <= mix["supplemented"] <= 0.30
    assert 0.06 <= mix["late"] <= 0.15  # spec.late_share = 0.10
    assert 8 <= mix["per_dossier"] <= 15
    assert mix["max_events"] >= 20
    for key in ("forwards", "online_payments", "suspended", "refused_outcome", "rated", "open"):
        assert mix[key] > 0, key


def test_online_share_follows_the_spec() -> None:
    low = WorkloadSpec(
        seed=3, departments=8, communes=6, procedures=150, dossiers=3000, online_share=0.70
    )
    assert 0.64 <= dossier_summary(low)["online"] <= 0.76


def test_submissions_peak_at_month_and_quarter_ends() -> None:
    _, dossiers = split(MIX)
    per_day = Counter(
        local_day(e["occurred_at"]) for e in dossiers if e["type"] == "DossierSubmitted"
    )
    average = sum(per_day.values()) / 365
    assert max(per_day.values()) >= 3 * average
    assert per_day[date(2025, 3, 31)] > 3 * average  # last working day of Q1
    in_hours = sum(
        7.5 <= instant(e["occurred_at"]).hour + instant(e["occurred_at"]).minute / 60 < 17
        for e in dossiers
        if e["type"] == "DossierSubmitted"
    )
    assert in_hours / sum(per_day.values()) > 0.8


# --- the catalogue -------------------------------------------------------------------


def test_catalogue_has_calendar_sectors_agencies_and_unique_procedures() -> None:
    catalogue, _ = split(MIX)
    types = Counter(e["type"] for e in catalogue)
    calendar = next(e for e in catalogue if e["type"] == "WorkingCalendarPublished")
    assert calendar["aggregate_id"] == "calendar-2025"
    assert {"2025-01-01", "2025-01-29", "2025-04-30", "2025-05-01", "2025-09-02"} <= set(
        calendar["holidays"]
    )
    assert calendar["swapped_working_days"] == ["2025-04-26"]
    assert 15 <= types["SectorDefined"] <= 20
    agencies = [e for e in catalogue if e["type"] == "AgencyRegistered"]
    kinds = Counter(e["kind"] for e in agencies)
    assert kinds["COMMUNE"] == 100 and kinds["VERTICAL"] >= 1
    assert {f"H56.{i:02d}" for i in range(1, 21)} <= {e["agency_code"] for e in agencies}
    codes = [e["procedure_code"] for e in catalogue if e["type"] == "ProcedurePublished"]
    assert len(codes) == len(set(codes)) == 2000
    assert all(re.fullmatch(r"\d\.\d{6}", code) for code in codes)
    assert types["ProcedureAppliedAtAgency"] > 20_000
    for kind in (
        "ServiceLevelChanged",
        "OnlinePaymentConfigured",
        "DvcqgIntegrationChanged",
        "ProcedureAmended",
        "ProcedureAbolished",
        "ProcedureWithdrawnFromAgency",
        "AgencyDissolved",
    ):
        assert types[kind] >= 1, kind


def test_catalogue_service_level_mix_per_entry() -> None:
    catalogue, _ = split(MIX)
    entries: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in catalogue:
        if e["type"] == "ProcedureAppliedAtAgency":
            entries[(e["procedure_code"], e["level"])].add(e["service_level"])
    mix = Counter(
        max(levels, key=["INFO", "PARTIAL_ONLINE", "FULL_ONLINE"].index)
        for levels in entries.values()
    )
    total = sum(mix.values())
    assert abs(mix["INFO"] / total - 0.30) < 0.05
    assert abs(mix["PARTIAL_ONLINE"] / total - 0.35) < 0.05
    assert abs(mix["FULL_ONLINE"] / total - 0.35) < 0.05


@pytest.mark.parametrize("communes", [4, 30])
def test_commune_level_procedures_apply_at_every_commune(communes: int) -> None:
    spec = WorkloadSpec(seed=5, departments=5, communes=communes, procedures=200, dossiers=0)
    catalogue = list(generate_catalogue(spec))
    commune_level = {
        e["procedure_code"]
        for e in catalogue
        if e["type"] == "ProcedurePublished" and "COMMUNE" in e["levels"]
    }
    applied = [
        e for e in catalogue if e["type"] == "ProcedureAppliedAtAgency" and e["level"] == "COMMUNE"
    ]
    assert commune_level
    assert len(applied) == len(commune_level) * communes


# --- sizing and writing --------------------------------------------------------------


@pytest.mark.parametrize("target", [5_000, 40_000])
def test_spec_for_events_hits_the_target_within_ten_percent(target: int) -> None:
    spec = spec_for_events(target, seed=9)
    assert abs(sum(1 for _ in generate(spec)) - target) <= target * 0.10


def test_write_jsonl_writes_compact_utf8_lines(tmp_path: Any) -> None:
    path = tmp_path / "province.jsonl"
    count = write_jsonl(generate(SMALL), path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert count == len(lines) == len(events_of(SMALL))
    assert json.loads(lines[0]) == events_of(SMALL)[0]
    assert "Tư pháp" in path.read_text(encoding="utf-8")
    assert ", " not in lines[0] and '": ' not in lines[0]
