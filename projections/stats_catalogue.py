"""The catalogue block: the province's online services as of a day, honouring effective dates.

As of day t (the period's `to`):

- a version table's state is its row with the greatest (`valid_from`, `seq`) among those
  with `valid_from` <= t;
- an application (procedure, agency) is **active** iff its state is active, its
  procedure's state exists and is active (published, not abolished), and its agency is not
  dissolved (`dissolved_from` <= t); an agency missing from `agency_facts` counts as existing;
- the province counts one **entry** per (procedure, level) with >= 1 active application at
  that level; the entry's service level is the highest of those applications';
- per agency (and whenever the statistics are filtered to one agency) every active
  application is one entry with its own service level.

`online_with_dossiers`: an online entry with >= 1 ONLINE dossier received in P. A dossier
belongs to the province entry (its procedure, the level of the application of its procedure
at the agency where it was *submitted* — `dossier_facts.agency_code` — as of t); for the
per-agency figure, to the application (its procedure, the agency where it was submitted).
An application whose versions all start after t is looked up at its first version; a
dossier whose (procedure, agency) has no application row at all belongs to no entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from projections.stats_facts import (
    SERVICE_LEVELS,
    AgencyFact,
    ApplicationVersion,
    ProcedureVersion,
    half_up,
)

__all__ = [
    "CATALOGUE_KEYS",
    "UNKNOWN_SECTOR",
    "CatalogueAsOf",
    "CatalogueCounts",
    "catalogue_as_of",
    "catalogue_block",
    "count_catalogue",
]

CATALOGUE_KEYS: tuple[str, ...] = (
    "entries_total", "by_service_level", "online_services", "full_online_share_pct",
    "online_share_pct", "online_with_dossiers", "online_with_dossiers_pct",
)  # fmt: skip

UNKNOWN_SECTOR = "UNKNOWN"
"""The sector of a dossier whose procedure has no `procedure_versions` row."""

_RANK = {level: rank for rank, level in enumerate(SERVICE_LEVELS)}
_WITH_DOSSIERS = len(SERVICE_LEVELS)

CatalogueCounts = list[int]
"""[INFO, PARTIAL_ONLINE, FULL_ONLINE, online entries with dossiers]."""


class _Versioned(Protocol):
    @property
    def valid_from(self) -> date: ...
    @property
    def seq(self) -> int: ...


V = TypeVar("V", bound=_Versioned)


def _state_as_of(versions: Sequence[V], day: date) -> V | None:
    """The version in force at the end of `day`: greatest (valid_from, seq) <= day."""
    best: V | None = None
    for v in versions:
        if v.valid_from <= day and (
            best is None or (v.valid_from, v.seq) > (best.valid_from, best.seq)
        ):
            best = v
    return best


def _first(versions: Sequence[V]) -> V:
    return min(versions, key=lambda v: (v.valid_from, v.seq))


@dataclass(frozen=True, slots=True)
class ActiveApplication:
    procedure_code: str
    agency_code: str
    level: str
    service_level: str
    sector_code: str


@dataclass(frozen=True, slots=True)
class CatalogueAsOf:
    """The catalogue at the end of one day, as the statistics need it."""

    day: date
    sector_of_procedure: Mapping[str, str]
    level_of_application: Mapping[tuple[str, str], str]
    active: Sequence[ActiveApplication]

    def sector_of(self, procedure_code: str) -> str:
        return self.sector_of_procedure.get(procedure_code, UNKNOWN_SECTOR)


def catalogue_as_of(
    applications: Iterable[ApplicationVersion],
    procedures: Iterable[ProcedureVersion],
    agencies: Iterable[AgencyFact],
    day: date,
) -> CatalogueAsOf:
    """Resolve every version table as of `day` (see the module docstring)."""
    proc_versions: dict[str, list[ProcedureVersion]] = {}
    for p in procedures:
        proc_versions.setdefault(p.procedure_code, []).append(p)
    sector_of: dict[str, str] = {}
    in_force: set[str] = set()
    for code, versions in proc_versions.items():
        state = _state_as_of(versions, day)
        sector_of[code] = (state or _first(versions)).sector_code
        if state is not None and state.active:
            in_force.add(code)

    dissolved = {a.agency_code for a in agencies if a.dissolved_on(day)}
    app_versions: dict[tuple[str, str], list[ApplicationVersion]] = {}
    for v in applications:
        app_versions.setdefault((v.procedure_code, v.agency_code), []).append(v)
    level_of: dict[tuple[str, str], str] = {}
    active: list[ActiveApplication] = []
    for (procedure, agency), app_history in app_versions.items():
        app_state = _state_as_of(app_history, day)
        level_of[procedure, agency] = (app_state or _first(app_history)).level
        if (
            app_state is not None
            and app_state.active
            and procedure in in_force
            and agency not in dissolved
        ):
            active.append(
                ActiveApplication(
                    procedure,
                    agency,
                    app_state.level,
                    app_state.service_level,
                    sector_of[procedure],
                )
            )
    return CatalogueAsOf(day, sector_of, level_of, active)


def count_catalogue(
    catalogue: CatalogueAsOf,
    online_pairs: set[tuple[str, str]],
    *,
    agency: str | None = None,
    sector: str | None = None,
) -> tuple[CatalogueCounts, dict[str, CatalogueCounts], dict[str, CatalogueCounts]]:
    """(totals, per sector, per agency) catalogue counters.

    Without an agency filter the totals and the per-sector counters count province entries
    (procedure, level); with one they count that agency's applications. Per agency always
    counts applications. `online_pairs` = (procedure, submitting agency) of the ONLINE
    dossiers received in P.
    """
    apps = [a for a in catalogue.active if sector is None or a.sector_code == sector]

    per_agency: dict[str, CatalogueCounts] = {}
    agency_units: list[tuple[str, str, int, bool]] = []  # (agency, sector, rank, dossiers)
    for a in apps:
        if agency is not None and a.agency_code != agency:
            continue
        has = (a.procedure_code, a.agency_code) in online_pairs
        agency_units.append((a.agency_code, a.sector_code, _RANK[a.service_level], has))
    for unit_agency, _, rank, has in agency_units:
        _count(per_agency.setdefault(unit_agency, _zero()), rank, has)

    units: list[tuple[str, int, bool]]  # (sector, rank, dossiers)
    if agency is not None:
        units = [(unit_sector, rank, has) for _, unit_sector, rank, has in agency_units]
    else:
        entries: dict[tuple[str, str], tuple[str, int]] = {}
        for a in apps:
            key = (a.procedure_code, a.level)
            rank = _RANK[a.service_level]
            known = entries.get(key)
            if known is None or rank > known[1]:
                entries[key] = (a.sector_code, rank)
        level_of = catalogue.level_of_application
        with_dossiers = {
            (procedure, level_of[procedure, submitted_at])
            for procedure, submitted_at in online_pairs
            if (procedure, submitted_at) in level_of
        }
        units = [(s, rank, key in with_dossiers) for key, (s, rank) in entries.items()]

    total = _zero()
    per_sector: dict[str, CatalogueCounts] = {}
    for unit_sector, rank, has in units:
        _count(total, rank, has)
        _count(per_sector.setdefault(unit_sector, _zero()), rank, has)
    return total, per_sector, per_agency


def _zero() -> CatalogueCounts:
    return [0] * (_WITH_DOSSIERS + 1)


def _count(counts: CatalogueCounts, rank: int, has_dossiers: bool) -> None:
    counts[rank] += 1
    if rank > 0 and has_dossiers:
        counts[_WITH_DOSSIERS] += 1


def catalogue_block(counts: CatalogueCounts | None) -> dict[str, Any]:
    """The CONTRACT's `"catalogue"` object from counters (None = no entries)."""
    c = counts or _zero()
    info, partial, full, with_dossiers = c
    total = info + partial + full
    online = partial + full
    return {
        "entries_total": total,
        "by_service_level": {"INFO": info, "PARTIAL_ONLINE": partial, "FULL_ONLINE": full},
        "online_services": online,
        "full_online_share_pct": half_up(full, total),
        "online_share_pct": half_up(online, total),
        "online_with_dossiers": with_dossiers,
        "online_with_dossiers_pct": half_up(with_dossiers, online),
    }
