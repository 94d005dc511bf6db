"""Catalogue generation: calendar, sectors, agencies, procedures and where they apply.

:func:`build_catalogue` builds the province model and the ordered catalogue records (the
initial load is dated 1 December of the year before, one second apart; the in-year changes
come from :mod:`.changes`); :func:`render` adds the envelope and the per-aggregate
``aggregate_seq``; :func:`generate_catalogue` is both.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from connectors.workload import reference as ref
from connectors.workload.builders import Clock, applied_fields, new_version, published_fields
from connectors.workload.changes import apply_changes
from connectors.workload.model import Agency, Application, Catalogue, Procedure, Record
from connectors.workload.spec import WorkloadSpec
from connectors.workload.workdays import WorkCalendar, iso, local_seconds, public_holidays

__all__ = ["build_catalogue", "generate_catalogue", "render"]

SOURCE = "catalogue-admin"
_SERVICE_MIX = (("INFO", 0.30), ("PARTIAL_ONLINE", 0.35), ("FULL_ONLINE", 0.35))


def _register_agencies(
    spec: WorkloadSpec, rng: random.Random, cat: Catalogue, clock: Clock
) -> dict[str, Agency]:
    """Province, departments, vertical agencies and communes; returns sector -> owner."""
    p, start = spec.province_code, clock.t
    agencies = [Agency(p, f"Ủy ban nhân dân tỉnh ({p})", "DEPARTMENT", None)]
    owners: dict[str, Agency] = {}
    for i in range(spec.departments):
        name, sectors = (
            ref.DEPARTMENTS[i] if i < len(ref.DEPARTMENTS) else (f"Sở chuyên ngành số {i + 1}", ())
        )
        agency = Agency(f"{p}.{i + 1:02d}", name, "DEPARTMENT", p)
        agencies.append(agency)
        owners.update(dict.fromkeys(sectors, agency))
    for j, (name, sectors) in enumerate(ref.VERTICALS):
        agency = Agency(f"{p}.{spec.departments + j + 1:02d}", name, "VERTICAL", p)
        agencies.append(agency)
        owners.update(dict.fromkeys(sectors, agency))
    departments = agencies[1 : spec.departments + 1]
    for k, (code, _) in enumerate(ref.SECTORS):
        owners.setdefault(code, departments[k % len(departments)])
    base, names = max(30, spec.departments + len(ref.VERTICALS)) + 1, set[str]()
    words = ref.COMMUNE_WORDS
    for i in range(spec.communes):
        name = ""
        while not name or name in names:
            name = f"{rng.choice(words)} {rng.choice(words)}"
            if len(names) > len(words) ** 2 // 2:
                name = f"{name} {i + 1}"
        names.add(name)
        ward = rng.random() < 0.2
        code = f"{p}.{base + i // 12:02d}.{i % 12 + 1:02d}"
        weight = rng.lognormvariate(0.0, 0.6) * (2.0 if ward else 1.0)
        title = f"Phường {name}" if ward else f"Xã {name}"
        agencies.append(Agency(code, title, "COMMUNE", p, weight))
    for agency in agencies:
        cat.agencies[agency.code] = agency
        clock.emit(
            start,
            agency.code,
            "AgencyRegistered",
            {
                "agency_code": agency.code,
                "name": agency.name,
                "kind": agency.kind,
                "parent_code": agency.parent_code,
            },
        )
    return owners


def _sector_counts(total: int) -> list[tuple[str, int]]:
    """Split ``total`` procedures over the sectors by their usual size (largest remainder)."""
    weight = sum(ref.SECTOR_SIZE.values())
    exact = [(code, total * ref.SECTOR_SIZE[code] / weight) for code, _ in ref.SECTORS]
    counts = {code: int(x) for code, x in exact}
    rest = sorted(exact, key=lambda item: int(item[1]) - item[1])
    for code, _ in rest[: total - sum(counts.values())]:
        counts[code] += 1
    return [(code, counts[code]) for code, _ in ref.SECTORS]


def _publish_procedures(
    spec: WorkloadSpec,
    rng: random.Random,
    cat: Catalogue,
    clock: Clock,
    owners: dict[str, Agency],
) -> None:
    year, codes, names = spec.year, set[str](), dict[str, int]()
    communes = cat.communes
    verticals = [a for a in cat.agencies.values() if a.kind == "VERTICAL"]
    for sector, count in _sector_counts(spec.procedures):
        decisions = [
            (
                f"{rng.randint(100, 3999)}/QĐ-UBND",
                date(year - rng.randint(1, 3), rng.randint(1, 11), rng.randint(1, 28)).toordinal(),
            )
            for _ in range(3)
        ]
        for _ in range(count):
            code = ""
            while not code or code in codes:
                code = f"{rng.choice('1112')}.{rng.randint(0, 13_000):06d}"
            codes.add(code)
            name = f"{rng.choice(ref.ACTIONS)} {rng.choice(ref.OBJECTS[sector])}"
            names[name] = names.get(name, 0) + 1
            if names[name] > 1:
                name = f"{name} (trường hợp {names[name]})"
            commune = bool(communes) and rng.random() < ref.COMMUNE_SHARE.get(sector, 0.02)
            inter = rng.random() < 0.06
            both = commune and (inter or rng.random() < 0.25)
            levels = ["PROVINCE", "COMMUNE"] if both else ["COMMUNE"] if commune else ["PROVINCE"]
            decision, effective = rng.choice(decisions)
            version = new_version(rng, sector, commune and not both, effective, decision)
            popularity = rng.lognormvariate(0.0, 1.4) * (0.03 if rng.random() < 0.25 else 1.0)
            proc = Procedure(
                code,
                name,
                sector,
                levels,
                [version],
                inter,
                popularity,
                int(version.time_limit[0] >= 15 and rng.random() < 0.3),
            )
            cat.procedures.append(proc)
            clock.emit(clock.t, code, "ProcedurePublished", published_fields(proc, version))
            apps: list[Application] = []
            for level in levels:
                service = rng.choices([s for s, _ in _SERVICE_MIX], [w for _, w in _SERVICE_MIX])[0]
                agencies = communes if level == "COMMUNE" else [owners[sector]]
                if inter and not both:
                    partners = [a for a in verticals if a is not owners[sector]]
                    agencies = [*agencies, rng.choice(partners or [owners[sector]])]
                payment = version.fee_vnd > 0 and rng.random() < (
                    0.85
                    if service == "FULL_ONLINE"
                    else 0.1
                    if service == "PARTIAL_ONLINE"
                    else 0.0
                )
                dvcqg_share = {"INFO": 0.15, "PARTIAL_ONLINE": 0.55, "FULL_ONLINE": 0.85}[service]
                for k, agency in enumerate(dict.fromkeys(agencies)):
                    app = Application(
                        proc,
                        agency,
                        level,
                        service,
                        payment,
                        rng.random() < dvcqg_share,
                        effective,
                        partner=k > 0 and level == "PROVINCE" and not both,
                    )
                    apps.append(app)
                    clock.emit(clock.t, code, "ProcedureAppliedAtAgency", applied_fields(app))
            cat.applications[code] = apps


def build_catalogue(spec: WorkloadSpec) -> Catalogue:
    """The province model and its ordered catalogue records (pure, deterministic)."""
    rng = random.Random(f"onestop-workload/{spec.seed}/catalogue")
    cat = Catalogue(spec, WorkCalendar(spec.year), {}, [], {})
    clock = Clock(cat.records)
    holidays, swapped = public_holidays(spec.year)
    clock.emit(
        local_seconds(date(spec.year - 1, 12, 1), 8 * 3600),
        f"calendar-{spec.year}",
        "WorkingCalendarPublished",
        {
            "year": spec.year,
            "holidays": [d.isoformat() for d in holidays],
            "swapped_working_days": [d.isoformat() for d in swapped],
        },
    )
    for code, name in ref.SECTORS:
        clock.emit(clock.t, code, "SectorDefined", {"sector_code": code, "name": name})
    owners = _register_agencies(spec, rng, cat, clock)
    _publish_procedures(spec, rng, cat, clock, owners)
    apply_changes(cat, rng, clock)
    return cat


def render(records: Iterable[Record], spec: WorkloadSpec) -> Iterator[dict[str, Any]]:
    """Catalogue records as contract JSON-form dicts, numbering each aggregate from 1."""
    seqs: dict[str, int] = {}
    for rec in records:
        seq = seqs[rec.aggregate_id] = seqs.get(rec.aggregate_id, 0) + 1
        yield {
            "type": rec.type,
            "aggregate_id": rec.aggregate_id,
            "aggregate_seq": seq,
            "occurred_at": iso(rec.t),
            "source_system": SOURCE,
            "province_code": spec.province_code,
            **rec.fields,
        }


def generate_catalogue(spec: WorkloadSpec) -> Iterator[dict[str, Any]]:
    """``catalogue.events`` in JSON form: the initial load, then the year's changes."""
    yield from render(build_catalogue(spec).records, spec)
