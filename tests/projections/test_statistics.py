"""`projections.statistics`: the CONTRACT's statistics from the `stats` fact rows.

Hand-computed scenarios for every key, the rounding rule, the row parsing, and Hypothesis
properties against a literal transcription of DOMAIN.md's definitions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.statistics import (
    CATALOGUE_KEYS,
    DOSSIER_KEYS,
    AgencyFact,
    ApplicationVersion,
    DossierFact,
    Period,
    ProcedureVersion,
    SectorFact,
    StatsFacts,
    compute_statistics,
    half_up,
    parse_period,
)

D = date.fromisoformat
NOVEMBER = parse_period("2020-11")

CONTRACT_CATALOGUE = [
    "entries_total", "by_service_level", "online_services", "full_online_share_pct",
    "online_share_pct", "online_with_dossiers", "online_with_dossiers_pct",
]  # fmt: skip
CONTRACT_DOSSIERS = [
    "received_total", "carried_over", "new_total", "new_online", "new_direct_postal",
    "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
    "in_process_total", "in_process_within", "in_process_late",
    "withdrawn", "waiting_supplement_or_suspended",
    "on_time_rate_pct", "online_share_pct", "online_resolved_share_pct",
    "online_payment_share_pct", "progress_score_766",
]  # fmt: skip
COUNT_KEYS = [k for k in CONTRACT_DOSSIERS if not k.endswith(("_pct", "_766"))]


def dossier(
    dossier_id: str,
    history: Sequence[tuple[str, int]],
    *,
    channel: str = "ONLINE",
    due: str | None = None,
    procedure: str = "1.000001",
    agency: str = "H56.14",
    handling: str | None = None,
    obligations: Sequence[str] = (),
    paid_online: str | None = None,
) -> DossierFact:
    """A dossier fact whose dates are derived from its status history, as the fold does."""
    steps = [(D(day), status) for day, status in history]
    received = next((day for day, status in steps if status == 2), None)
    end = next(((day, s) for day, s in steps if s in (7, 9)), None)
    return DossierFact(
        dossier_id=dossier_id,
        procedure_code=procedure,
        agency_code=agency,
        handling_agency_code=(handling or agency) if received else None,
        channel=channel,
        received_on=received,
        due_on=D(due) if due else None,
        end_on=end[0] if end else None,
        end_kind=None if end is None else ("RESOLVED" if end[1] == 9 else "WITHDRAWN"),
        outcome="APPROVED" if end and end[1] == 9 else None,
        status=steps[-1][1],
        status_history=tuple(steps),
        obligation_on=tuple(D(o) for o in obligations),
        online_paid_on=D(paid_online) if paid_online else None,
    )


def app(
    procedure: str, agency: str, seq: int, valid_from: str, level: str, service: str,
    active: bool = True,
) -> ApplicationVersion:  # fmt: skip
    return ApplicationVersion(
        procedure, agency, seq, D(valid_from), level, service, False, False, active
    )


def proc(procedure: str, seq: int, valid_from: str, sector: str, active: bool = True) -> Any:
    return ProcedureVersion(procedure, seq, D(valid_from), sector, active)


def agency_fact(code: str, dissolved: str | None = None) -> AgencyFact:
    return AgencyFact(code, "DEPARTMENT", "H56", D(dissolved) if dissolved else None, None)


# --- the dossier block, every key by hand ------------------------------------------------

NOVEMBER_DOSSIERS = [
    # carried over (received in October), resolved early on 11-05 (due 11-10), in person
    dossier("A", [("2020-10-19", 1), ("2020-10-20", 2), ("2020-11-05", 9)],
            channel="IN_PERSON", due="2020-11-10"),
    # carried over, still in process at `to`, due 12-05: within; online but not new
    dossier("B", [("2020-10-25", 1), ("2020-10-25", 2), ("2020-10-26", 4)], due="2020-12-05"),
    # received and resolved before the period: not counted at all
    dossier("C", [("2020-10-01", 1), ("2020-10-01", 2), ("2020-10-15", 9), ("2020-10-16", 10)],
            due="2020-10-20"),
    # new online, resolved on the due date: on time; result delivered after `to`
    dossier("D", [("2020-11-02", 1), ("2020-11-02", 2), ("2020-11-10", 9), ("2020-12-01", 10)],
            due="2020-11-10"),
    # new by post, resolved after its due date: late
    dossier("E", [("2020-11-03", 1), ("2020-11-03", 2), ("2020-11-12", 9)],
            channel="POSTAL", due="2020-11-09"),
    # new online, no due date, resolved: on time
    dossier("F", [("2020-11-04", 1), ("2020-11-04", 2), ("2020-11-20", 9)]),
    # new online, withdrawn
    dossier("G", [("2020-11-05", 1), ("2020-11-05", 2), ("2020-11-15", 7)], due="2020-11-20"),
    # new in person, waiting for a supplement at `to` (due already past: still waiting)
    dossier("H", [("2020-11-05", 1), ("2020-11-05", 2), ("2020-11-20", 5)],
            channel="IN_PERSON", due="2020-11-25"),
    # new online, paid online after the obligation, in process and late (due 11-29 < to)
    dossier("I", [("2020-11-06", 1), ("2020-11-06", 2), ("2020-11-10", 6), ("2020-11-12", 4)],
            due="2020-11-29", obligations=["2020-11-10"], paid_online="2020-11-12"),
    # new online, obligation in P, paid online only after `to`: waiting (status 6) at `to`
    dossier("J", [("2020-11-07", 1), ("2020-11-07", 2), ("2020-11-20", 6), ("2020-12-02", 4)],
            due="2020-12-20", obligations=["2020-11-20"], paid_online="2020-12-02"),
    # received after the period: not counted (nor is its obligation)
    dossier("K", [("2020-11-30", 1), ("2020-12-01", 2), ("2020-12-03", 6)],
            obligations=["2020-12-03"]),
    # submitted but never received; refused at intake; withdrawn before receipt
    dossier("L", [("2020-11-10", 1)]),
    dossier("M", [("2020-11-10", 1), ("2020-11-11", 3)]),
    dossier("M2", [("2020-11-10", 1), ("2020-11-11", 7)]),
    # new in person, in process with due date = `to`: within
    dossier("N", [("2020-11-20", 1), ("2020-11-20", 2), ("2020-11-21", 4)],
            channel="IN_PERSON", due="2020-11-30"),
    # new in person, resolved only after `to`: in process (status 4 at `to`), within
    dossier("O", [("2020-11-25", 1), ("2020-11-25", 2), ("2020-11-26", 4), ("2020-12-03", 9)],
            channel="IN_PERSON", due="2020-12-10"),
    # new by post, suspended on 11-15 and resumed after `to`: waiting at `to`
    dossier("P", [("2020-11-01", 1), ("2020-11-01", 2), ("2020-11-15", 8), ("2020-12-01", 4)],
            channel="POSTAL", due="2020-11-28"),
    # carried over, waiting for a supplement since October
    dossier("Q", [("2020-10-28", 1), ("2020-10-28", 2), ("2020-10-29", 5)], due="2020-11-05"),
    # carried over, online, paid online in October for an October obligation, resolved late
    dossier("R", [("2020-10-15", 1), ("2020-10-15", 2), ("2020-10-20", 6), ("2020-10-22", 4),
                  ("2020-11-03", 9)],
            due="2020-11-01", obligations=["2020-10-20"], paid_online="2020-10-22"),
]  # fmt: skip


def test_dossier_block_every_key_by_hand() -> None:
    # given the November dossiers above, when the statistics are computed for 2020-11
    result = compute_statistics(StatsFacts(dossiers=NOVEMBER_DOSSIERS), NOVEMBER)

    # then each key is what DOMAIN.md's definitions give, counted by hand
    assert result["dossiers"] == {
        "received_total": 14,  # A B Q R + the 10 new
        "carried_over": 4,  # A B Q R (C ended before `from`)
        "new_total": 10,  # D E F G H I J N O P
        "new_online": 5,  # D F G I J
        "new_direct_postal": 5,  # E H N O P
        "resolved_total": 5,  # A D E F R
        "resolved_early": 1,  # A
        "resolved_on_time": 2,  # D (end = due), F (no due date)
        "resolved_late": 2,  # E R
        "in_process_total": 4,  # B I N O
        "in_process_within": 3,  # B N (due = to) O
        "in_process_late": 1,  # I
        "withdrawn": 1,  # G
        "waiting_supplement_or_suspended": 4,  # H (5) J (6) P (8) Q (5)
        "on_time_rate_pct": 60.0,  # 3 / 5
        "online_share_pct": 50.0,  # 5 / 10
        "online_resolved_share_pct": 60.0,  # D F R of 5
        "online_payment_share_pct": 50.0,  # I of {I, J}
        "progress_score_766": 8.57,  # 20 × (1 + 2 + 3) / 14 = 8.5714…
    }
    d = result["dossiers"]
    assert d["received_total"] == (
        d["resolved_total"] + d["withdrawn"] + d["in_process_total"]
        + d["waiting_supplement_or_suspended"]
    )  # fmt: skip


def test_the_same_dossiers_seen_from_october() -> None:
    # K's, D's and others' later events do not leak into an earlier period
    result = compute_statistics(StatsFacts(dossiers=NOVEMBER_DOSSIERS), parse_period("2020-10"))
    d = result["dossiers"]
    assert (d["received_total"], d["carried_over"], d["new_total"]) == (5, 0, 5)  # A B C Q R
    assert (d["resolved_total"], d["resolved_early"]) == (1, 1)  # C: 10-15 < due 10-20
    assert (d["in_process_total"], d["in_process_within"]) == (3, 3)  # A (2), B (4), R (4)
    assert d["waiting_supplement_or_suspended"] == 1  # Q
    assert (d["new_online"], d["online_share_pct"]) == (4, 80.0)  # B C Q R of 5
    assert d["online_payment_share_pct"] == 100.0  # R: obligation 10-20, paid online 10-22


def test_status_on_a_day_is_the_last_change_up_to_that_day() -> None:
    p = NOVEMBER_DOSSIERS[16]  # P: 1, 2 on 11-01, 8 on 11-15, 4 on 12-01
    assert p.dossier_id == "P"
    assert p.status_on(D("2020-10-31")) is None
    assert p.status_on(D("2020-11-01")) == 2
    assert p.status_on(D("2020-11-30")) == 8
    assert p.status_on(D("2020-12-01")) == 4


def test_online_payment_counts_an_online_payment_made_before_the_period() -> None:
    # DOMAIN: "had a PaymentCompleted with method ONLINE on or before `to`" — the fact keeps
    # the first online payment, which may precede this period's obligation.
    d = dossier("S", [("2020-10-01", 1), ("2020-10-01", 2), ("2020-10-02", 6),
                      ("2020-10-03", 4), ("2020-11-10", 6)],
                obligations=["2020-10-02", "2020-11-10"], paid_online="2020-10-03")  # fmt: skip
    result = compute_statistics(StatsFacts(dossiers=[d]), NOVEMBER)
    assert result["dossiers"]["online_payment_share_pct"] == 100.0
    assert result["dossiers"]["waiting_supplement_or_suspended"] == 1


def test_empty_sets_give_null_ratios_and_zero_counts() -> None:
    result = compute_statistics(StatsFacts(), NOVEMBER, as_of="2020-12-01T00:00:00Z")
    assert result["as_of"] == "2020-12-01T00:00:00Z"
    assert result["period"] == {"from": "2020-11-01", "to": "2020-11-30"}
    assert all(result["dossiers"][k] == 0 for k in COUNT_KEYS)
    assert all(result["dossiers"][k] is None for k in CONTRACT_DOSSIERS if k not in COUNT_KEYS)
    assert result["catalogue"] == {
        "entries_total": 0,
        "by_service_level": {"INFO": 0, "PARTIAL_ONLINE": 0, "FULL_ONLINE": 0},
        "online_services": 0,
        "full_online_share_pct": None,
        "online_share_pct": None,
        "online_with_dossiers": 0,
        "online_with_dossiers_pct": None,
    }
    assert result["by_sector"] == [] and result["by_agency"] == []


def test_only_some_ratios_are_null() -> None:
    # one carried-over dossier still in process: nothing new, nothing resolved, no obligation
    only = dossier("B", [("2020-10-25", 1), ("2020-10-25", 2)], due="2020-12-05")
    d = compute_statistics(StatsFacts(dossiers=[only]), NOVEMBER)["dossiers"]
    assert d["on_time_rate_pct"] is None and d["online_resolved_share_pct"] is None
    assert d["online_share_pct"] is None and d["online_payment_share_pct"] is None
    assert d["progress_score_766"] == 20.0


def test_the_output_has_exactly_the_contract_keys_in_order() -> None:
    facts = catalogue_scenario()
    result = compute_statistics(facts, NOVEMBER, as_of="x")
    assert list(result) == ["as_of", "period", "catalogue", "dossiers", "by_sector", "by_agency"]
    assert list(result["catalogue"]) == CONTRACT_CATALOGUE == list(CATALOGUE_KEYS)
    assert list(result["dossiers"]) == CONTRACT_DOSSIERS == list(DOSSIER_KEYS)
    for row in result["by_sector"]:
        assert list(row) == ["sector_code", "catalogue", "dossiers"]
        assert list(row["catalogue"]) == CONTRACT_CATALOGUE
        assert list(row["dossiers"]) == CONTRACT_DOSSIERS
    for row in result["by_agency"]:
        assert list(row) == ["agency_code", "catalogue", "dossiers"]
    for block in (result["catalogue"], result["dossiers"]):
        for key, value in block.items():
            if key.endswith("_pct") or key == "progress_score_766":
                assert value is None or type(value) is float
            elif key != "by_service_level":
                assert type(value) is int


def test_no_breakdowns_keeps_the_keys() -> None:
    result = compute_statistics(catalogue_scenario(), NOVEMBER, breakdowns=False)
    assert result["by_sector"] == [] and result["by_agency"] == []
    assert result["catalogue"]["entries_total"] == 6


# --- the catalogue block ------------------------------------------------------------------


def catalogue_scenario() -> StatsFacts:
    """The province as of 2020-11-30 (see `test_catalogue_as_of_to` for the reading)."""
    procedures = [
        proc("1.000001", 1, "2020-01-01", "CT"),
        proc("1.000002", 1, "2020-01-01", "CT"),
        proc("1.000002", 2, "2020-11-20", "CT", active=False),  # abolished before `to`
        proc("1.000003", 1, "2020-01-01", "GT"),
        proc("1.000003", 2, "2020-12-15", "GT", active=False),  # abolished after `to`
        proc("1.000004", 1, "2020-12-05", "GT"),  # published effective after `to`
        proc("1.000005", 1, "2020-01-01", "GT"),
        proc("1.000005", 2, "2020-06-01", "TP"),  # amended: now in sector TP
        proc("1.000006", 1, "2020-01-01", "TP"),
    ]
    applications = [
        app("1.000001", "H56.14", 2, "2020-01-01", "PROVINCE", "PARTIAL_ONLINE"),
        app("1.000001", "H56.14", 9, "2020-12-01", "PROVINCE", "FULL_ONLINE"),  # after `to`
        app("1.000001", "X01", 3, "2020-01-01", "COMMUNE", "INFO"),
        app("1.000001", "X02", 4, "2020-01-01", "COMMUNE", "INFO"),
        app("1.000001", "X02", 5, "2020-06-01", "COMMUNE", "FULL_ONLINE"),  # upgraded
        app("1.000002", "H56.14", 2, "2020-01-01", "PROVINCE", "FULL_ONLINE"),
        app("1.000003", "H56.15", 2, "2020-01-01", "PROVINCE", "FULL_ONLINE"),
        app("1.000003", "H56.20", 3, "2020-01-01", "DISTRICT", "PARTIAL_ONLINE"),
        app("1.000003", "H56.21", 4, "2020-01-01", "DISTRICT", "INFO"),
        app("1.000004", "H56.15", 2, "2020-12-05", "PROVINCE", "FULL_ONLINE"),
        app("1.000005", "H56.15", 2, "2020-01-01", "PROVINCE", "PARTIAL_ONLINE"),
        app("1.000005", "H56.15", 4, "2020-11-10", "PROVINCE", "PARTIAL_ONLINE", active=False),
        app("1.000005", "X01", 3, "2020-01-01", "COMMUNE", "PARTIAL_ONLINE"),
        # two changes on the same day: the greater seq wins
        app("1.000006", "H56.14", 3, "2020-11-30", "PROVINCE", "PARTIAL_ONLINE"),
        app("1.000006", "H56.14", 2, "2020-11-30", "PROVINCE", "INFO"),
        app("1.000006", "X02", 2, "2020-12-01", "COMMUNE", "FULL_ONLINE"),  # after `to`
    ]
    agencies = [
        agency_fact("H56.14"),
        agency_fact("H56.15"),
        agency_fact("H56.20", dissolved="2020-11-15"),  # dissolved within the period
        agency_fact("H56.21", dissolved="2020-12-01"),  # dissolved after `to`
        agency_fact("H56.30", dissolved="2020-06-01"),  # gone before the period
        agency_fact("X01"),
        agency_fact("X02"),
    ]
    sectors = [SectorFact(code, code) for code in ("CT", "GT", "TP", "YT")]
    dossiers = [
        # online at commune X01 (an INFO application) of an entry that is FULL_ONLINE
        dossier("c1", [("2020-11-10", 1), ("2020-11-10", 2)], agency="X01"),
        # online at H56.15, received by H56.14: the catalogue follows where it was submitted
        dossier("c2", [("2020-11-12", 1), ("2020-11-12", 2)], procedure="1.000003",
                agency="H56.15", handling="H56.14"),
        # online at H56.15 for an application withdrawn on 11-10: its entry (P5, PROVINCE)
        # does not exist as of `to`
        dossier("c3", [("2020-11-05", 1), ("2020-11-05", 2)], procedure="1.000005",
                agency="H56.15"),
        # in person: never makes an entry "online with dossiers"
        dossier("c4", [("2020-11-20", 1), ("2020-11-20", 2)], procedure="1.000006",
                channel="IN_PERSON"),
        # online but received before the period
        dossier("c5", [("2020-10-15", 1), ("2020-10-15", 2)]),
        # a procedure the catalogue does not know
        dossier("c6", [("2020-11-03", 1), ("2020-11-03", 2)], procedure="9.999999"),
    ]  # fmt: skip
    return StatsFacts(dossiers, applications, procedures, agencies, sectors)


def block(
    info: int, partial: int, full: int, with_dossiers: int
) -> dict[str, Any]:  # the expected catalogue block, ratios from half_up (tested separately)
    total, online = info + partial + full, partial + full
    return {
        "entries_total": total,
        "by_service_level": {"INFO": info, "PARTIAL_ONLINE": partial, "FULL_ONLINE": full},
        "online_services": online,
        "full_online_share_pct": half_up(full, total),
        "online_share_pct": half_up(online, total),
        "online_with_dossiers": with_dossiers,
        "online_with_dossiers_pct": half_up(with_dossiers, online),
    }


def test_catalogue_as_of_to() -> None:
    # entries as of 2020-11-30:
    #   (P1, PROVINCE) PARTIAL  — its upgrade to FULL takes effect on 12-01
    #   (P1, COMMUNE)  FULL     — X01 INFO + X02 FULL: one entry, the highest level
    #   (P3, PROVINCE) FULL     — abolished only from 12-15
    #   (P3, DISTRICT) INFO     — H56.20 dissolved 11-15 drops out; H56.21 (12-01) stays
    #   (P5, COMMUNE)  PARTIAL  — H56.15 withdrew on 11-10
    #   (P6, PROVINCE) PARTIAL  — two same-day versions, the later seq wins
    # not counted: P2 (abolished 11-20), P4 (effective 12-05), P6@X02 (effective 12-01)
    result = compute_statistics(catalogue_scenario(), NOVEMBER)
    assert result["catalogue"] == {
        "entries_total": 6,
        "by_service_level": {"INFO": 1, "PARTIAL_ONLINE": 3, "FULL_ONLINE": 2},
        "online_services": 5,
        "full_online_share_pct": 33.33,
        "online_share_pct": 83.33,
        "online_with_dossiers": 2,  # (P1, COMMUNE) via c1, (P3, PROVINCE) via c2
        "online_with_dossiers_pct": 40.0,
    }


def test_catalogue_effective_dates_move_with_to() -> None:
    # as of 2020-12-31: P1@H56.14 is FULL, P2 and P3 abolished, P4 in force, H56.21 gone,
    # P6@X02 added, P3's entries gone
    result = compute_statistics(catalogue_scenario(), parse_period("2020-12"))
    assert result["catalogue"]["by_service_level"] == {
        "INFO": 0, "PARTIAL_ONLINE": 2, "FULL_ONLINE": 4,
    }  # fmt: skip
    # (P1,PROVINCE) F, (P1,COMMUNE) F, (P4,PROVINCE) F, (P5,COMMUNE) P, (P6,PROVINCE) P,
    # (P6,COMMUNE) F
    assert result["catalogue"]["online_with_dossiers"] == 0  # no online dossier in December


def test_catalogue_by_sector() -> None:
    rows = {r["sector_code"]: r for r in compute_statistics(catalogue_scenario(), NOVEMBER)[
        "by_sector"]}  # fmt: skip
    assert list(rows) == ["CT", "GT", "TP", "UNKNOWN", "YT"]  # defined + unknown, sorted
    assert rows["CT"]["catalogue"] == block(0, 1, 1, 1)
    assert rows["GT"]["catalogue"] == block(1, 0, 1, 1)
    assert rows["TP"]["catalogue"] == block(0, 2, 0, 0)  # P5 moved to TP by its amendment
    assert rows["UNKNOWN"]["catalogue"] == block(0, 0, 0, 0)
    assert rows["YT"]["catalogue"] == block(0, 0, 0, 0)
    received = {code: r["dossiers"]["received_total"] for code, r in rows.items()}
    assert received == {"CT": 2, "GT": 1, "TP": 2, "UNKNOWN": 1, "YT": 0}


def test_catalogue_by_agency_counts_applications() -> None:
    rows = {r["agency_code"]: r for r in compute_statistics(catalogue_scenario(), NOVEMBER)[
        "by_agency"]}  # fmt: skip
    # H56.30 was dissolved before the period; H56.20 existed on `from`, so it is listed
    assert list(rows) == ["H56.14", "H56.15", "H56.20", "H56.21", "X01", "X02"]
    assert rows["H56.14"]["catalogue"] == block(0, 2, 0, 0)  # P1, P6; c2 was not submitted here
    assert rows["H56.15"]["catalogue"] == block(0, 0, 1, 1)  # P3 with c2 submitted here
    assert rows["H56.20"]["catalogue"] == block(0, 0, 0, 0)
    assert rows["H56.21"]["catalogue"] == block(1, 0, 0, 0)
    assert rows["X01"]["catalogue"] == block(1, 1, 0, 0)  # c1 came in via an INFO application
    assert rows["X02"]["catalogue"] == block(0, 0, 1, 0)
    # dossiers go to the agency that received them
    received = {code: r["dossiers"]["received_total"] for code, r in rows.items()}
    assert received == {"H56.14": 4, "H56.15": 1, "H56.20": 0, "H56.21": 0, "X01": 1, "X02": 0}


def test_agency_filter() -> None:
    result = compute_statistics(catalogue_scenario(), NOVEMBER, agency="H56.15")
    assert result["catalogue"] == block(0, 0, 1, 1)
    assert result["dossiers"]["received_total"] == 1  # c3 (c2 was received by H56.14)
    assert [r["agency_code"] for r in result["by_agency"]] == ["H56.15"]
    assert result["by_agency"][0]["catalogue"] == result["catalogue"]
    assert result["by_agency"][0]["dossiers"] == result["dossiers"]
    sectors = {r["sector_code"]: r for r in result["by_sector"]}
    assert sectors["GT"]["catalogue"] == block(0, 0, 1, 1)
    assert sectors["TP"]["dossiers"]["received_total"] == 1
    assert sectors["CT"]["catalogue"] == block(0, 0, 0, 0)


def test_sector_filter() -> None:
    result = compute_statistics(catalogue_scenario(), NOVEMBER, sector="CT")
    assert result["catalogue"] == block(0, 1, 1, 1)
    assert result["dossiers"]["received_total"] == 2  # c1, c5
    assert [r["sector_code"] for r in result["by_sector"]] == ["CT"]
    agencies = {r["agency_code"]: r for r in result["by_agency"]}
    assert agencies["H56.14"]["catalogue"] == block(0, 1, 0, 0)
    assert agencies["X01"]["catalogue"] == block(1, 0, 0, 0)
    assert agencies["X02"]["catalogue"] == block(0, 0, 1, 0)
    assert agencies["H56.15"]["catalogue"] == block(0, 0, 0, 0)
    assert {c: r["dossiers"]["received_total"] for c, r in agencies.items() if
            r["dossiers"]["received_total"]} == {"H56.14": 1, "X01": 1}  # fmt: skip


def test_both_filters_and_an_unknown_code() -> None:
    result = compute_statistics(catalogue_scenario(), NOVEMBER, agency="X01", sector="TP")
    assert result["catalogue"] == block(0, 1, 0, 0)
    assert result["dossiers"]["received_total"] == 0
    nobody = compute_statistics(catalogue_scenario(), NOVEMBER, agency="H99")
    assert nobody["catalogue"]["entries_total"] == 0
    assert [r["agency_code"] for r in nobody["by_agency"]] == ["H99"]
    unknown = compute_statistics(catalogue_scenario(), NOVEMBER, sector="UNKNOWN")
    assert unknown["dossiers"]["received_total"] == 1  # c6


# --- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "scale", "expected"),
    [
        (1, 8, 100, 12.5),
        (2, 3, 100, 66.67),
        (1, 3, 100, 33.33),
        (1, 800, 100, 0.13),  # 0.125 → up
        (3, 800, 100, 0.38),  # 0.375 → up
        (1, 20000, 100, 0.01),  # 0.005 → up
        (1, 40000, 100, 0.0),  # 0.0025 → down
        (201, 20000, 100, 1.01),  # 1.005: binary float rounding would give 1.0
        (5 * 10**30 - 1, 10**35, 100, 0.0),  # 0.00499…9 (33 digits): no double rounding
        (0, 5, 100, 0.0),
        (5, 5, 100, 100.0),
        (3, 7, 20, 8.57),
        (1, 16, 20, 1.25),
        (1, 160, 20, 0.13),  # progress 0.125 → up
        (1, 1, 20, 20.0),
    ],
)
def test_half_up(numerator: int, denominator: int, scale: int, expected: float) -> None:
    assert half_up(numerator, denominator, scale) == expected


def test_half_up_over_nothing_is_null() -> None:
    assert half_up(0, 0) is None and half_up(3, 0, scale=20) is None


def test_rounding_reaches_the_output() -> None:
    # 8 resolved, 1 early → on-time 12.5; 2 of 3 new online → 66.67
    resolved = [
        dossier(f"r{i}", [("2020-11-02", 1), ("2020-11-02", 2), ("2020-11-09", 9)],
                channel="IN_PERSON", due="2020-11-10" if i == 0 else "2020-11-05")
        for i in range(8)
    ]  # fmt: skip
    d = compute_statistics(StatsFacts(dossiers=resolved), NOVEMBER)["dossiers"]
    assert d["on_time_rate_pct"] == 12.5
    online = [
        dossier(f"o{i}", [("2020-11-02", 1), ("2020-11-02", 2)],
                channel="ONLINE" if i < 2 else "POSTAL")
        for i in range(3)
    ]  # fmt: skip
    assert compute_statistics(StatsFacts(dossiers=online), NOVEMBER)["dossiers"][
        "online_share_pct"] == 66.67  # fmt: skip


@given(st.integers(0, 10**12), st.integers(1, 10**12), st.sampled_from([20, 100]))
def test_half_up_equals_exact_decimal(numerator: int, denominator: int, scale: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        exact = (Decimal(scale) * numerator / denominator).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    assert half_up(numerator, denominator, scale) == float(exact)


# --- rows ---------------------------------------------------------------------------------


def test_from_row_accepts_the_stores_forms() -> None:
    row = {
        "dossier_id": "8d3c", "procedure_code": "1.000001", "agency_code": "H56.14",
        "handling_agency_code": "H56.14", "channel": "ONLINE", "received_on": "2020-11-06",
        "due_on": date(2020, 11, 13), "end_on": "2020-11-12", "end_kind": "RESOLVED",
        "outcome": "APPROVED", "status": 10,
        "status_history": '[["2020-11-06",1],["2020-11-06",2],["2020-11-12",9],'
                          '["2020-11-13",10]]',
        "obligation_on": '["2020-11-07"]', "online_paid_on": None,
    }  # fmt: skip
    fact = DossierFact.from_row(row)
    assert fact.received_on == date(2020, 11, 6) and fact.due_on == date(2020, 11, 13)
    assert fact.status_history[-1] == (date(2020, 11, 13), 10)
    assert fact.obligation_on == (date(2020, 11, 7),)
    # decoded JSON works too, and a missing optional column is null
    decoded = {**row, "status_history": [["2020-11-06", 1]], "obligation_on": []}
    del decoded["online_paid_on"]
    assert DossierFact.from_row(decoded).status_history == ((date(2020, 11, 6), 1),)

    version = ApplicationVersion.from_row({
        "procedure_code": "1.000001", "agency_code": "H56.14", "seq": 3,
        "valid_from": "2020-01-01", "level": "PROVINCE", "service_level": "FULL_ONLINE",
        "online_payment": 1, "dvcqg_integrated": 0, "active": True,
    })  # fmt: skip
    assert version.online_payment is True and version.dvcqg_integrated is False
    facts = StatsFacts.from_rows({
        "dossier_facts": [row],
        "application_versions": [],
        "procedure_versions": [{"procedure_code": "1.000001", "seq": 1,
                                "valid_from": date(2020, 1, 1), "sector_code": "CT",
                                "active": 1}],
        "agency_facts": [{"agency_code": "H56.14", "kind": "DEPARTMENT", "parent_code": None,
                          "dissolved_from": "2025-07-01", "successor_code": "H56"}],
        "sector_facts": [{"sector_code": "CT", "name": "Công thương"}],
    })  # fmt: skip
    assert facts.procedures[0].active and facts.agencies[0].dissolved_from == date(2025, 7, 1)
    assert facts.sectors[0].name == "Công thương"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"channel": "FAX"}, "dossier_facts.channel"),
        ({"received_on": "06/11/2020"}, "dossier_facts.received_on"),
        ({"received_on": "20201106"}, "dossier_facts.received_on"),
        ({"status_history": "[[1, 2"}, "dossier_facts.status_history"),
        ({"status_history": '[["2020-11-06"]]'}, "dossier_facts.status_history"),
        ({"status_history": '[["2020-11-06", "2"]]'}, "dossier_facts.status_history"),
        ({"end_kind": None}, "end_kind"),
        ({"end_kind": "CLOSED"}, "end_kind"),
        ({"status": "9"}, "dossier_facts.status"),
        ({"dossier_id": None}, "dossier_facts.dossier_id"),
        ({"channel": ["ONLINE"]}, "dossier_facts.channel"),
        ({"status_history": {"2020-11-06": 2}}, "dossier_facts.status_history"),
        ({"obligation_on": '{"2020-11-06": 1}'}, "dossier_facts.obligation_on"),
        ({"handling_agency_code": 14}, "dossier_facts.handling_agency_code"),
    ],
)
def test_from_row_rejects_malformed_rows(change: dict[str, Any], message: str) -> None:
    row = {
        "dossier_id": "x", "procedure_code": "1.000001", "agency_code": "H56.14",
        "channel": "ONLINE", "received_on": "2020-11-06", "end_on": "2020-11-07",
        "end_kind": "RESOLVED", "status": 9, "status_history": "[]", "obligation_on": "[]",
    }  # fmt: skip
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        DossierFact.from_row({**row, **change})


def test_from_row_names_a_missing_column_and_a_bad_boolean() -> None:
    with pytest.raises(ValueError, match="missing column 'sector_code'"):
        ProcedureVersion.from_row({"procedure_code": "1", "seq": 1, "valid_from": "2020-01-01",
                                   "active": True})  # fmt: skip
    with pytest.raises(ValueError, match=r"procedure_versions\.active"):
        ProcedureVersion.from_row({"procedure_code": "1", "seq": 1, "valid_from": "2020-01-01",
                                   "sector_code": "CT", "active": 2})  # fmt: skip


# --- properties over random consistent lifecycles -----------------------------------------

BASE = date(2020, 1, 1)
PROCEDURES = ["1.000001", "1.000002", "1.000003", "1.000004"]
AGENCIES = ["H56.14", "H56.15", "X01", "X02"]
SECTORS = ["CT", "GT", "TP"]
LEVELS = ["PROVINCE", "DISTRICT", "COMMUNE"]
SERVICES = ["INFO", "PARTIAL_ONLINE", "FULL_ONLINE"]
SPAN = 100  # days: short, so that period bounds often coincide with dossier dates
MOSTLY = st.sampled_from([True, True, True, False])


@st.composite
def lifecycles(draw: st.DrawFn, dossier_id: str) -> DossierFact:
    """A dossier whose history follows CONTRACT.md's transition table, as the fold keeps it."""
    day = BASE + timedelta(days=draw(st.integers(0, SPAN)))
    history = [(day, 1)]
    received = due = end = paid = None
    end_kind = None
    obligations: list[date] = []
    handling = None
    agency = draw(st.sampled_from(AGENCIES))
    first = draw(st.sampled_from(["receive"] * 6 + ["refuse", "withdraw", "stay"]))
    if first == "refuse":
        history.append((day + timedelta(days=draw(st.integers(0, 3))), 3))
    elif first == "withdraw":
        end = day + timedelta(days=draw(st.integers(0, 3)))
        history.append((end, 7))
        end_kind = None  # withdrawn before receipt: the fact has no reporting end
        end = None
    elif first == "receive":
        received = day = day + timedelta(days=draw(st.integers(0, 3)))
        handling = draw(st.sampled_from([agency, *AGENCIES]))
        history.append((day, 2))
        if draw(st.booleans()):
            due = day + timedelta(days=draw(st.integers(0, 15)))
        status, before_payment = 2, 2
        for _ in range(draw(st.integers(0, 8))):
            day += timedelta(days=draw(st.integers(0, 7)))
            if status in (2, 4):
                step = draw(st.sampled_from([4, 5, 6, 8, 7, 9, 9]))
                if step == 6:
                    obligations.append(day)
                    before_payment = status
            elif status == 5:
                step = draw(st.sampled_from([4, 7]))
                if step == 4 and draw(st.booleans()):
                    due = day + timedelta(days=draw(st.integers(-5, 30)))
            elif status == 6:
                step = draw(st.sampled_from([before_payment, 7]))
                if step != 7 and draw(st.booleans()) and paid is None:
                    paid = day
            elif status == 8:
                step = draw(st.sampled_from([4, 7]))
            elif status == 9:
                step = draw(st.sampled_from([10, 9]))  # 9 → 9: a late payment, no change
                if step == 9:
                    if paid is None and draw(st.booleans()):
                        paid = day
                    continue
            else:  # 7 or 10: final
                break
            if step in (7, 9):
                end, end_kind = day, ("WITHDRAWN" if step == 7 else "RESOLVED")
            history.append((day, step))
            status = step
    return DossierFact(
        dossier_id=dossier_id,
        procedure_code=draw(st.sampled_from([*PROCEDURES, "9.999999"])),
        agency_code=agency,
        handling_agency_code=handling,
        channel=draw(st.sampled_from(["ONLINE", "ONLINE", "IN_PERSON", "POSTAL"])),
        received_on=received,
        due_on=due,
        end_on=end,
        end_kind=end_kind,
        outcome=None,
        status=history[-1][1],
        status_history=tuple(history),
        obligation_on=tuple(obligations),
        online_paid_on=paid,
    )


def _day(draw: st.DrawFn, seq: int = 2) -> date:
    """A day in the span; first versions (seq 1) fall early so that most are in force."""
    return BASE + timedelta(days=draw(st.integers(0, SPAN // 4 if seq == 1 else SPAN)))


@st.composite
def fact_sets(draw: st.DrawFn) -> StatsFacts:
    procedures = [
        ProcedureVersion(p, seq, _day(draw, seq), draw(st.sampled_from(SECTORS)), draw(MOSTLY))
        for p in PROCEDURES
        for seq in range(1, draw(st.integers(1, 3)))
    ]
    usual_level = {p: draw(st.sampled_from(LEVELS)) for p in PROCEDURES}
    applications = [
        ApplicationVersion(p, a, seq, _day(draw, seq),
                           draw(st.sampled_from([usual_level[p]] * 3 + LEVELS)),
                           draw(st.sampled_from(SERVICES)), False, False, draw(MOSTLY))
        for p in PROCEDURES
        for a in AGENCIES
        for seq in range(1, draw(st.integers(0, 3)))
    ]  # fmt: skip
    agencies = [
        AgencyFact(a, "COMMUNE", None, _day(draw) if draw(st.integers(0, 3)) == 0 else None, None)
        for a in AGENCIES
    ]  # fmt: skip
    dossiers = [draw(lifecycles(f"d{i}")) for i in range(draw(st.integers(0, 40)))]
    return StatsFacts(dossiers, applications, procedures, agencies, [SectorFact("CT", "CT")])


def _dates_in(facts: StatsFacts) -> list[date]:
    found: set[date] = set()
    for d in facts.dossiers:
        found.update(day for day in (d.received_on, d.due_on, d.end_on, d.online_paid_on) if day)
        found.update(d.obligation_on)
    found.update(v.valid_from for v in facts.applications)
    found.update(v.valid_from for v in facts.procedures)
    found.update(a.dissolved_from for a in facts.agencies if a.dissolved_from)
    return sorted(found)


def period_for(data: st.DataObject, facts: StatsFacts) -> Period:
    """A random period whose bounds are often dates the facts mention (the edge cases)."""
    known = _dates_in(facts)
    bounds: list[date] = []
    for _ in range(2):
        odds: int = data.draw(st.integers(0, 3))
        if known and odds:
            bounds.append(data.draw(st.sampled_from(known)))
        else:
            bounds.append(BASE + timedelta(days=data.draw(st.integers(0, SPAN))))
    return Period(min(bounds), max(bounds))


def _round(numerator: int, denominator: int, scale: int = 100) -> float | None:
    if denominator == 0:
        return None
    exact = Fraction(scale * numerator, denominator) * 100
    return int(exact + Fraction(1, 2)) / 100


def _as_of(versions: Iterable[Any], day: date) -> Any:
    known = [v for v in versions if v.valid_from <= day]
    return max(known, key=lambda v: (v.valid_from, v.seq)) if known else None


def _sector_of(facts: StatsFacts, procedure: str, day: date) -> str:
    versions = [p for p in facts.procedures if p.procedure_code == procedure]
    if not versions:
        return "UNKNOWN"
    state = _as_of(versions, day) or min(versions, key=lambda v: (v.valid_from, v.seq))
    return str(state.sector_code)


def literal_dossiers(
    facts: StatsFacts, period: Period, keep: Callable[[DossierFact], bool]
) -> dict[str, Any]:
    """DOMAIN.md's dossier definitions, transcribed one by one with no shortcut."""
    start, to = period.start, period.end

    def status(d: DossierFact) -> int | None:
        found = None
        for day, s in d.status_history:
            if day <= to:
                found = s
        return found

    received = [d for d in facts.dossiers if d.received_on is not None and keep(d)]
    carried = [d for d in received if d.received_on < start  # type: ignore[operator]
               and not (d.end_on is not None and d.end_on < start)]  # fmt: skip
    new = [d for d in received if start <= d.received_on <= to]  # type: ignore[operator]
    resolved = [d for d in received if d.end_kind == "RESOLVED" and start <= d.end_on <= to]  # type: ignore[operator]
    early = [d for d in resolved if d.due_on is not None and d.end_on < d.due_on]  # type: ignore[operator]
    on_time = [d for d in resolved if d.due_on is None or d.end_on == d.due_on]
    late = [d for d in resolved if d.due_on is not None and d.end_on > d.due_on]  # type: ignore[operator]
    withdrawn = [d for d in received if d.end_kind == "WITHDRAWN" and start <= d.end_on <= to]  # type: ignore[operator]
    in_process = [d for d in received if status(d) in (2, 4)]
    within = [d for d in in_process if d.due_on is None or d.due_on >= to]
    waiting = [d for d in received if status(d) in (5, 6, 8)]
    obliged = [d for d in received if any(start <= o <= to for o in d.obligation_on)]
    paid = [d for d in obliged if d.online_paid_on is not None and d.online_paid_on <= to]
    total = len(carried) + len(new)
    return {
        "received_total": total,
        "carried_over": len(carried),
        "new_total": len(new),
        "new_online": sum(d.channel == "ONLINE" for d in new),
        "new_direct_postal": sum(d.channel in ("IN_PERSON", "POSTAL") for d in new),
        "resolved_total": len(resolved),
        "resolved_early": len(early),
        "resolved_on_time": len(on_time),
        "resolved_late": len(late),
        "in_process_total": len(in_process),
        "in_process_within": len(within),
        "in_process_late": len(in_process) - len(within),
        "withdrawn": len(withdrawn),
        "waiting_supplement_or_suspended": len(waiting),
        "on_time_rate_pct": _round(len(early) + len(on_time), len(resolved)),
        "online_share_pct": _round(sum(d.channel == "ONLINE" for d in new), len(new)),
        "online_resolved_share_pct": _round(
            sum(d.channel == "ONLINE" for d in resolved), len(resolved)
        ),
        "online_payment_share_pct": _round(len(paid), len(obliged)),
        "progress_score_766": _round(len(early) + len(on_time) + len(within), total, 20),
    }


def literal_entries(facts: StatsFacts, period: Period) -> dict[tuple[str, str], tuple[str, bool]]:
    """DOMAIN/CONTRACT's catalogue entries as of `to`: {(procedure, level): (level, dossiers)}."""
    to = period.end
    dissolved = {a.agency_code for a in facts.agencies
                 if a.dissolved_from is not None and a.dissolved_from <= to}  # fmt: skip
    pairs = {(v.procedure_code, v.agency_code) for v in facts.applications}
    entries: dict[tuple[str, str], str] = {}
    for p, a in sorted(pairs):
        history = [v for v in facts.applications if (v.procedure_code, v.agency_code) == (p, a)]
        state = _as_of(history, to)
        procedure = _as_of([v for v in facts.procedures if v.procedure_code == p], to)
        if not (state and state.active and procedure and procedure.active) or a in dissolved:
            continue
        key = (p, state.level)
        if key not in entries or SERVICES.index(state.service_level) > SERVICES.index(entries[key]):
            entries[key] = state.service_level
    result = {}
    for (p, level), service in entries.items():
        has = False
        for d in facts.dossiers:
            if d.channel != "ONLINE" or d.received_on is None or d.procedure_code != p:
                continue
            if not period.start <= d.received_on <= to:
                continue
            history = [v for v in facts.applications
                       if (v.procedure_code, v.agency_code) == (p, d.agency_code)]  # fmt: skip
            if history:
                state = _as_of(history, to) or min(history, key=lambda v: (v.valid_from, v.seq))
                has = has or state.level == level
        result[p, level] = (service, has)
    return result


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_sets(), st.data())
def test_properties_hold_for_any_consistent_facts(facts: StatsFacts, data: st.DataObject) -> None:
    period = period_for(data, facts)
    agency = data.draw(st.sampled_from([None, *AGENCIES]), label="agency")
    sector = data.draw(st.sampled_from([None, *SECTORS, "UNKNOWN"]), label="sector")
    check_properties(facts, period, None, None)
    check_properties(facts, period, agency, sector)


def check_properties(
    facts: StatsFacts, period: Period, agency: str | None, sector: str | None
) -> None:
    result = compute_statistics(facts, period, agency=agency, sector=sector)

    # the balance holds at the top and in every breakdown row
    for d in [result["dossiers"]] + [r["dossiers"] for r in result["by_sector"] + result[
            "by_agency"]]:  # fmt: skip
        assert d["received_total"] == (
            d["resolved_total"] + d["withdrawn"] + d["in_process_total"]
            + d["waiting_supplement_or_suspended"]
        )  # fmt: skip
        assert d["received_total"] == d["carried_over"] + d["new_total"]
        assert d["new_total"] == d["new_online"] + d["new_direct_postal"]
        assert d["resolved_total"] == (
            d["resolved_early"] + d["resolved_on_time"] + d["resolved_late"]
        )
        assert d["in_process_total"] == d["in_process_within"] + d["in_process_late"]

    # breakdowns add up to the totals
    for rows in (result["by_sector"], result["by_agency"]):
        for key in COUNT_KEYS:
            assert sum(r["dossiers"][key] for r in rows) == result["dossiers"][key]
    for key in ("entries_total", "online_services", "online_with_dossiers"):
        assert sum(r["catalogue"][key] for r in result["by_sector"]) == result["catalogue"][key]
    if agency is not None:
        (only,) = result["by_agency"]
        assert only["catalogue"] == result["catalogue"]
        assert only["dossiers"] == result["dossiers"]

    # the one pass equals DOMAIN's definitions read literally
    def keep(d: DossierFact) -> bool:
        handler = d.handling_agency_code or d.agency_code
        return (agency is None or handler == agency) and (
            sector is None or _sector_of(facts, d.procedure_code, period.end) == sector
        )

    assert result["dossiers"] == literal_dossiers(facts, period, keep)
    if agency is None:
        entries = {
            k: v for k, v in literal_entries(facts, period).items()
            if sector is None or _sector_of(facts, k[0], period.end) == sector
        }  # fmt: skip
        services = [s for s, _ in entries.values()]
        online = [has for s, has in entries.values() if s != "INFO"]
        assert result["catalogue"] == {
            "entries_total": len(entries),
            "by_service_level": {s: services.count(s) for s in SERVICES},
            "online_services": len(online),
            "full_online_share_pct": _round(services.count("FULL_ONLINE"), len(entries)),
            "online_share_pct": _round(len(online), len(entries)),
            "online_with_dossiers": sum(online),
            "online_with_dossiers_pct": _round(sum(online), len(online)),
        }


def test_period_boundaries_are_inclusive() -> None:
    # carried over and resolved on `from`; obligation on `from` paid online on `to`;
    # obligation on `to` unpaid; received on `to`; in process due exactly `to`
    facts = StatsFacts(dossiers=[
        dossier("a", [("2020-10-30", 1), ("2020-10-30", 2), ("2020-11-01", 9)],
                due="2020-11-01"),
        dossier("b", [("2020-10-30", 1), ("2020-10-30", 2), ("2020-11-01", 6),
                      ("2020-11-30", 4)],
                obligations=["2020-11-01"], paid_online="2020-11-30", due="2020-11-30"),
        dossier("c", [("2020-11-30", 1), ("2020-11-30", 2), ("2020-11-30", 6)],
                obligations=["2020-11-30"]),
        dossier("e", [("2020-10-30", 1), ("2020-10-30", 2), ("2020-10-31", 7)]),
    ])  # fmt: skip
    d = compute_statistics(facts, NOVEMBER)["dossiers"]
    assert (d["received_total"], d["carried_over"], d["new_total"]) == (3, 2, 1)  # not e
    assert (d["resolved_total"], d["resolved_on_time"]) == (1, 1)  # a: end = due = from
    assert (d["in_process_total"], d["in_process_within"]) == (1, 1)  # b: due = to
    assert d["waiting_supplement_or_suspended"] == 1  # c
    assert d["online_payment_share_pct"] == 50.0  # b of {b, c}


def _as_row(fact: DossierFact) -> dict[str, Any]:
    """The row a store would hand back: ISO dates, JSON text."""

    def iso(day: date | None) -> str | None:
        return None if day is None else day.isoformat()

    return {
        "dossier_id": fact.dossier_id, "procedure_code": fact.procedure_code,
        "agency_code": fact.agency_code, "handling_agency_code": fact.handling_agency_code,
        "channel": fact.channel, "received_on": iso(fact.received_on), "due_on": fact.due_on,
        "end_on": iso(fact.end_on), "end_kind": fact.end_kind, "outcome": fact.outcome,
        "status": fact.status,
        "status_history": json.dumps([[iso(d), s] for d, s in fact.status_history]),
        "obligation_on": json.dumps([iso(d) for d in fact.obligation_on]),
        "online_paid_on": iso(fact.online_paid_on),
    }  # fmt: skip


@given(lifecycles("x"), st.sampled_from(["text", "decoded"]))
def test_from_row_round_trips_any_fact(fact: DossierFact, form: str) -> None:
    row = _as_row(fact)
    if form == "decoded":  # a driver that decodes JSON columns itself
        row["status_history"] = json.loads(row["status_history"])
        row["obligation_on"] = json.loads(row["obligation_on"])
    assert DossierFact.from_row(row) == fact
