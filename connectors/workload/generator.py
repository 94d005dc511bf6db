"""Composition: the catalogue, then the dossiers in live-time order; writing; sizing.

Dossiers are planned in submission order and merged on a heap keyed by
(``occurred_at``, ``aggregate_id``, ``aggregate_seq``) that holds one pending event per
in-flight dossier, so memory grows with the dossiers open at one time, not with the year.
An event is released once no dossier yet to be submitted can precede it. Events after
31 December (local) are not emitted: those dossiers are simply still in process.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from itertools import islice
from os import PathLike
from typing import Any

from connectors.workload.catalogue import build_catalogue, generate_catalogue, render
from connectors.workload.demand import Demand
from connectors.workload.dossiers import Event, Lifecycle
from connectors.workload.model import Catalogue
from connectors.workload.spec import WorkloadSpec
from connectors.workload.workdays import iso, time_at

__all__ = ["generate", "generate_catalogue", "generate_dossiers", "spec_for_events", "write_jsonl"]

_Pending = tuple[int, str, int, list[Event], str]  # (t, dossier id, seq, events, source)


def _envelope(pending: _Pending, province: str) -> dict[str, Any]:
    t, dossier_id, seq, events, source = pending
    _, kind, fields = events[seq - 1]
    return {
        "type": kind,
        "aggregate_id": dossier_id,
        "aggregate_seq": seq,
        "occurred_at": iso(t),
        "source_system": source,
        "province_code": province,
        **fields,
    }


def _dossier_stream(cat: Catalogue) -> Iterator[dict[str, Any]]:
    spec = cat.spec
    rng = random.Random(f"onestop-workload/{spec.seed}/dossiers")
    demand, life = Demand(cat, rng), Lifecycle(cat, rng)
    year_end = time_at(date(spec.year + 1, 1, 1).toordinal())
    province, heap = spec.province_code, list[_Pending]()

    def release(pending: _Pending) -> dict[str, Any]:
        _, dossier_id, seq, events, source = pending
        if seq < len(events) and events[seq][0] < year_end:
            heapq.heappush(heap, (events[seq][0], dossier_id, seq + 1, events, source))
        return _envelope(pending, province)

    for sub in demand.stream(spec.dossiers):
        while heap and heap[0][0] < sub.t:
            yield release(heapq.heappop(heap))
        dossier_id, events = life.plan(sub)
        heapq.heappush(heap, (events[0][0], dossier_id, 1, events, f"motcua.{sub.app.agency.code}"))
    while heap:
        yield release(heapq.heappop(heap))


def generate_dossiers(spec: WorkloadSpec) -> Iterator[dict[str, Any]]:
    """``dossier.events`` as JSON-form dicts, ordered by occurred_at, aggregate_id, seq."""
    yield from _dossier_stream(build_catalogue(spec))


def generate(spec: WorkloadSpec) -> Iterator[dict[str, Any]]:
    """The whole province: the catalogue first, then the dossiers."""
    cat = build_catalogue(spec)
    yield from render(cat.records, spec)
    yield from _dossier_stream(cat)


def write_jsonl(events: Iterable[dict[str, Any]], path: str | PathLike[str]) -> int:
    """Write one compact JSON object per line (UTF-8, not ASCII-escaped); return the count."""
    count, it = 0, iter(events)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(path, "w", encoding="utf-8") as out:
        while chunk := list(islice(it, 4096)):
            out.write("\n".join(map(dumps, chunk)) + "\n")
            count += len(chunk)
    return count


def spec_for_events(target_events: int, seed: int = 42) -> WorkloadSpec:
    """A spec whose generated total is close to ``target_events`` (within a few percent).

    Small targets get a proportionally smaller catalogue (below ~400,000 events); the
    number of dossiers is then set from the events per dossier measured on a pilot run of
    the same seed. The smallest province is a few hundred catalogue events.
    """
    if target_events <= 0:
        raise ValueError("target_events must be positive")
    spec = WorkloadSpec(seed=seed)
    scale = min(1.0, target_events / 400_000)
    if scale < 1.0:
        spec = replace(
            spec,
            procedures=max(40, round(spec.procedures * scale)),
            communes=max(3, round(spec.communes * scale)),
        )
    cat = build_catalogue(spec)
    pilot = 2000
    per_dossier = sum(1 for _ in _dossier_stream(_with_dossiers(cat, pilot))) / pilot
    dossiers = max(0, round((target_events - len(cat.records)) / per_dossier))
    return replace(spec, dossiers=dossiers)


def _with_dossiers(cat: Catalogue, dossiers: int) -> Catalogue:
    """The same catalogue model with a different number of dossiers to generate."""
    return Catalogue(
        replace(cat.spec, dossiers=dossiers),
        cat.calendar,
        cat.agencies,
        cat.procedures,
        cat.applications,
        cat.records,
    )
