"""The CONTRACT's statistics from the `stats` view's fact rows: pure, no clock, no I/O.

    facts (rows → `StatsFacts`) ──▶ compute_statistics(facts, period, agency=, sector=)
        ├─ stats_catalogue.catalogue_as_of(to)  versions resolved as of `to`
        ├─ stats_dossiers.count_dossiers        ONE pass over the dossier facts
        └─ stats_catalogue.count_catalogue      entries / applications, online_with_dossiers

Definitions are DOMAIN.md's ("Statistics"); the choices it leaves open are documented in
`stats_dossiers` and `stats_catalogue`. Percentages are rounded half-up to two decimals and
are `None` over an empty set (`stats_facts.half_up`).

Filters: `agency` keeps the dossiers *handled* by that agency (`handling_agency_code`) and,
in the catalogue, that agency's applications (each one entry); `sector` keeps the dossiers
and entries whose procedure is in that sector. Both apply to the top-level blocks and to
every breakdown row.

Breakdown rows (sorted by code): `by_sector` has every sector of `sector_facts` plus any
sector with entries or dossiers (`"UNKNOWN"` for a dossier of an unknown procedure);
`by_agency` every agency of `agency_facts` not dissolved on `from`, plus any agency with
applications or dossiers. A filter narrows the list to the filtered code. With
`breakdowns=False` both lists are empty (the keys stay).
"""

from __future__ import annotations

from typing import Any

from projections.period import Period, parse_period
from projections.stats_catalogue import (
    CATALOGUE_KEYS,
    UNKNOWN_SECTOR,
    catalogue_as_of,
    catalogue_block,
    count_catalogue,
)
from projections.stats_dossiers import DOSSIER_KEYS, count_dossiers, dossier_block
from projections.stats_facts import (
    AgencyFact,
    ApplicationVersion,
    DossierFact,
    ProcedureVersion,
    SectorFact,
    StatsFacts,
    half_up,
)

__all__ = [
    "CATALOGUE_KEYS",
    "DOSSIER_KEYS",
    "UNKNOWN_SECTOR",
    "AgencyFact",
    "ApplicationVersion",
    "DossierFact",
    "Period",
    "ProcedureVersion",
    "SectorFact",
    "StatsFacts",
    "compute_statistics",
    "half_up",
    "parse_period",
]


def compute_statistics(
    facts: StatsFacts,
    period: Period,
    *,
    agency: str | None = None,
    sector: str | None = None,
    as_of: str | None = None,
    breakdowns: bool = True,
) -> dict[str, Any]:
    """The CONTRACT's statistics object for `period` (see the module docstring).

    `as_of` is passed through untouched (the caller knows the latest event time).
    """
    start, end = period.start, period.end
    catalogue = catalogue_as_of(facts.applications, facts.procedures, facts.agencies, end)
    d_total, d_sector, d_agency, online_pairs = count_dossiers(
        facts.dossiers, start, end, sector_of=catalogue.sector_of, agency=agency, sector=sector
    )
    c_total, c_sector, c_agency = count_catalogue(
        catalogue, online_pairs, agency=agency, sector=sector
    )

    by_sector: list[dict[str, Any]] = []
    by_agency: list[dict[str, Any]] = []
    if breakdowns:
        if sector is not None:
            sector_codes = {sector}
        else:
            sector_codes = (
                {s.sector_code for s in facts.sectors} | d_sector.keys() | c_sector.keys()
            )
        by_sector = [
            {
                "sector_code": code,
                "catalogue": catalogue_block(c_sector.get(code)),
                "dossiers": dossier_block(d_sector.get(code)),
            }
            for code in sorted(sector_codes)
        ]
        if agency is not None:
            agency_codes = {agency}
        else:
            agency_codes = (
                {a.agency_code for a in facts.agencies if not a.dissolved_on(start)}
                | d_agency.keys()
                | c_agency.keys()
            )
        by_agency = [
            {
                "agency_code": code,
                "catalogue": catalogue_block(c_agency.get(code)),
                "dossiers": dossier_block(d_agency.get(code)),
            }
            for code in sorted(agency_codes)
        ]

    return {
        "as_of": as_of,
        "period": period.as_json(),
        "catalogue": catalogue_block(c_total),
        "dossiers": dossier_block(d_total),
        "by_sector": by_sector,
        "by_agency": by_agency,
    }
