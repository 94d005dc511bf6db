"""A seeded workload generator: one realistic Vietnamese province-year as contract events.

``generate(spec)`` yields the ``catalogue.events`` (calendar, sectors, agencies, procedures,
where they apply, and the year's changes) and then the ``dossier.events`` in live-time
order, as the contract's JSON form (``event_id`` left out so the publisher derives it).
Pure and deterministic for a seed: no clock, no I/O except :func:`write_jsonl`.

Modules: ``spec`` (the knobs), ``reference`` / ``texts`` (Vietnamese reference data),
``workdays`` (holidays, working days, due dates, time text), ``model`` (the province in
memory), ``catalogue`` / ``builders`` / ``changes`` (catalogue events), ``demand`` /
``dossiers`` (submissions and lifecycles), ``generator`` (ordering, writing, sizing).
"""

from connectors.workload.catalogue import generate_catalogue
from connectors.workload.generator import (
    generate,
    generate_dossiers,
    spec_for_events,
    write_jsonl,
)
from connectors.workload.spec import WorkloadSpec

__all__ = [
    "WorkloadSpec",
    "generate",
    "generate_catalogue",
    "generate_dossiers",
    "spec_for_events",
    "write_jsonl",
]
