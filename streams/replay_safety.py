"""The replay-safety check: can today's reader decode every writer schema in the topics?

Run before every rebuild (and alone by `onestop replay --check-only`). It scans both topics
up to their current ends reading only the 5-byte header of each value (`schema_id_of`): the
distinct writer schema ids, how many records each, where the first one is; values that are
not Confluent-framed Avro are counted. Then, per id, `AvroCodec.check_reader` fetches the
writer schema and checks Avro resolution against today's reader of the same name.

An id that cannot be read (unknown to the registry, not one of our event types, or not
resolvable to today's schema) is a *blocker*: a rebuild would reject records the live
projection may have applied, so it is refused, naming the ids and the subjects that hold
them. Non-Avro values are reported but do not block: the live worker sends them to the DLQ,
and a replay skips them the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from projections.records import SourceRecord
from schemas.codec import AvroCodec, schema_id_of
from schemas.errors import NotAvroError, NotFoundError
from schemas.registry import SchemaRegistryClient
from streams.replay_log import LogReader

__all__ = [
    "Blocker", "SafetyReport", "ScanResult", "check_replay_safety", "find_blockers",
    "render_report", "report_json", "scan_topics", "subjects_of",
]

Where = tuple[str, int, int]
"""(topic, partition, offset) of a record."""


@dataclass
class ScanResult:
    """What the header scan found."""

    records: Counter[str] = field(default_factory=Counter)
    schema_records: Counter[int] = field(default_factory=Counter)
    schema_first: dict[int, Where] = field(default_factory=dict)
    non_avro: Counter[str] = field(default_factory=Counter)
    non_avro_first: dict[str, Where] = field(default_factory=dict)

    def add(self, records: Iterable[SourceRecord]) -> None:
        """Count a batch of records by the schema id in their header."""
        for r in records:
            self.records[r.topic] += 1
            try:
                schema_id = schema_id_of(r.value)
            except NotAvroError:
                self.non_avro[r.topic] += 1
                self.non_avro_first.setdefault(r.topic, (r.topic, r.partition, r.offset))
                continue
            self.schema_records[schema_id] += 1
            self.schema_first.setdefault(schema_id, (r.topic, r.partition, r.offset))


@dataclass(frozen=True)
class Blocker:
    """A writer schema id present in the topics that today's reader cannot decode."""

    schema_id: int
    error_class: str
    reason: str
    subjects: tuple[str, ...]
    records: int
    first: Where


@dataclass
class SafetyReport:
    scan: ScanResult
    blockers: list[Blocker]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.blockers


async def scan_topics(bootstrap: str, *, max_records: int = 20_000) -> ScanResult:
    """Read both topics up to their ends now and count schema ids from the headers."""
    scan = ScanResult()

    async def handle(records: list[SourceRecord]) -> None:
        scan.add(records)

    async with LogReader(bootstrap, max_records=max_records) as reader:
        ends = await reader.end_offsets(reader.partitions)
        await reader.read({}, ends, handle)
    return scan


def subjects_of(registry: SchemaRegistryClient, ids: Iterable[int]) -> dict[int, list[str]]:
    """`subject vN` entries holding each of `ids` (walks every subject; for reports only)."""
    wanted = set(ids)
    found: dict[int, list[str]] = {i: [] for i in wanted}
    if not wanted:
        return found
    for subject in registry.subjects():
        try:
            versions = registry.versions(subject)
        except NotFoundError:
            continue
        for version in versions:
            held = registry.get_version(subject, version)
            if held.schema_id in wanted:
                found[held.schema_id].append(f"{subject} v{held.version}")
    return found


def find_blockers(codec: AvroCodec, scan: ScanResult) -> list[Blocker]:
    """The schema ids of `scan` that today's reader cannot decode, with their subjects."""
    failing = {i: e for i in sorted(scan.schema_records)
               if (e := codec.check_reader(i)) is not None}
    subjects = subjects_of(codec.registry, failing) if failing else {}
    return [
        Blocker(i, e.error_class, e.reason, tuple(subjects.get(i, ())),
                scan.schema_records[i], scan.schema_first[i])
        for i, e in failing.items()
    ]


async def check_replay_safety(bootstrap: str, codec: AvroCodec) -> SafetyReport:
    """Scan the topics, then check every writer schema id found."""
    started = time.perf_counter()
    scan = await scan_topics(bootstrap)
    blockers = await asyncio.to_thread(find_blockers, codec, scan)
    return SafetyReport(scan, blockers, time.perf_counter() - started)


def _where(where: Where) -> str:
    return f"{where[0]}:{where[1]}:{where[2]}"


def render_report(report: SafetyReport) -> list[str]:
    """Human lines: what was scanned, then every blocker and the non-Avro counts."""
    scan = report.scan
    topics = ", ".join(f"{t} {n:,}" for t, n in sorted(scan.records.items())) or "empty topics"
    lines = [f"replay-safety check: {sum(scan.records.values()):,} records ({topics}), "
             f"{len(scan.schema_records)} writer schema ids, {report.seconds:.1f} s"]
    if report.ok:
        lines.append("  every writer schema decodes with today's reader")
    else:
        lines.append(f"  {len(report.blockers)} writer schema id(s) cannot be decoded with "
                     "today's reader; a rebuild would lose their records:")
        for b in report.blockers:
            held = ", ".join(b.subjects) or "no subject"
            lines.append(f"  - schema id {b.schema_id} ({held}): {b.records:,} records, first "
                         f"at {_where(b.first)}: {b.error_class}: {b.reason}")
    for topic, count in sorted(scan.non_avro.items()):
        lines.append(f"  note: {count:,} record(s) in {topic} are not Avro (first at "
                     f"{_where(scan.non_avro_first[topic])}); they go to the DLQ live and a "
                     "replay skips them the same way")
    return lines


def report_json(report: SafetyReport) -> dict[str, Any]:
    """The report as a JSON-ready object."""
    scan = report.scan
    return {
        "ok": report.ok,
        "records": dict(scan.records),
        "schema_ids": {str(i): n for i, n in sorted(scan.schema_records.items())},
        "non_avro": dict(scan.non_avro),
        "blockers": [
            {"schema_id": b.schema_id, "error_class": b.error_class, "reason": b.reason,
             "subjects": list(b.subjects), "records": b.records, "first": _where(b.first)}
            for b in report.blockers
        ],
        "seconds": round(report.seconds, 3),
    }
