"""`onestop status`: how far each projection is behind the log, what is parked, the DLQs.

Three reads, then one pure assembly (`build_status`):

- `read_store(engine)` — per projection, its live version and the version a replay is
  building (if any): stored positions, parked aggregates (`parked_from_seq` set) and parked
  records. Read-only: a projection never created yet shows no version and no positions.
- `read_log(bootstrap, wanted)` — log-end offsets of `catalogue.events` / `dossier.events`,
  the timestamp of the first unconsumed record at each wanted (partition, position) — a
  group-less consumer seeks there and fetches one record — and per DLQ topic its record
  count (end − beginning offsets) and, when it holds at most `class_limit` records, the
  count per `error.class`.
- `build_status(versions, log, now)` — lag per partition: events = end − position (a
  partition without a stored position counts from 0); seconds = 0 when caught up, else
  now − the first unconsumed record's timestamp.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as KafkaTP
from sqlalchemy import Engine, func, inspect, select

from projections.records import PROJECTIONS, TopicPartition
from projections.store import ProjectionStore, building_version, live_version
from projections.store.meta import VERSIONS
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.dlq import dlq_topic
from streams.dlq_tools import read_dlq, topic_partitions

__all__ = [
    "DlqStatus",
    "LogState",
    "PartitionLag",
    "Status",
    "StoreVersion",
    "VersionStatus",
    "build_status",
    "read_log",
    "read_store",
    "render_status",
]

TOPICS = (CATALOGUE_TOPIC, DOSSIER_TOPIC)


@dataclass(frozen=True, slots=True)
class StoreVersion:
    """One projection version as the database holds it (`version` None: not created yet)."""

    projection: str
    role: str  # "live" or "building"
    version: int | None
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    parked_aggregates: int = 0
    parked_records: int = 0


@dataclass(frozen=True, slots=True)
class DlqStatus:
    topic: str
    origin_topic: str
    records: int
    by_class: dict[str, int] | None  # None: not counted (too many records)


@dataclass(frozen=True, slots=True)
class LogState:
    """What Kafka says: log ends, first-unconsumed timestamps (ms), the DLQs."""

    ends: dict[TopicPartition, int]
    timestamps_ms: dict[tuple[str, int, int], int]
    dlq: list[DlqStatus]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    position: int | None
    end_offset: int
    lag_events: int
    lag_seconds: float


@dataclass(frozen=True, slots=True)
class VersionStatus:
    store: StoreVersion
    partitions: list[PartitionLag]

    @property
    def lag_events(self) -> int:
        return sum(p.lag_events for p in self.partitions)

    @property
    def lag_seconds(self) -> float:
        return max((p.lag_seconds for p in self.partitions), default=0.0)

    def to_json(self) -> dict[str, Any]:
        s = self.store
        return {
            "projection": s.projection,
            "role": s.role,
            "version": s.version,
            "lag_events": self.lag_events,
            "lag_seconds": self.lag_seconds,
            "parked_aggregates": s.parked_aggregates,
            "parked_records": s.parked_records,
            "partitions": [
                {"topic": p.topic, "partition": p.partition, "position": p.position,
                 "end_offset": p.end_offset, "lag_events": p.lag_events,
                 "lag_seconds": p.lag_seconds}
                for p in self.partitions
            ],
        }


@dataclass(frozen=True, slots=True)
class Status:
    as_of: datetime
    versions: list[VersionStatus]
    dlq: list[DlqStatus]

    def to_json(self) -> dict[str, Any]:
        """The `--json` form; keys are stable."""
        return {
            "as_of": self.as_of.isoformat(timespec="seconds"),
            "projections": [v.to_json() for v in self.versions],
            "dlq": [
                {"topic": d.topic, "origin_topic": d.origin_topic, "records": d.records,
                 "by_class": d.by_class}
                for d in self.dlq
            ],
        }


# --- reading ------------------------------------------------------------------------------


def read_store(engine: Engine, projections: Sequence[str] = PROJECTIONS) -> list[StoreVersion]:
    """Each projection's live version (and building version, if any), read-only."""
    out: list[StoreVersion] = []
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        for name in projections:
            live = building = None
            if VERSIONS.name in tables:
                live, building = live_version(conn, name), building_version(conn, name)
            if live is None:
                out.append(StoreVersion(name, "live", None))
            for role, version in (("live", live), ("building", building)):
                if version is None:
                    continue
                store = ProjectionStore(engine, name, version)
                if store.tables.snapshots.name not in tables:
                    out.append(StoreVersion(name, role, version))
                    continue
                snaps, parked = store.tables.snapshots, store.tables.parked
                aggregates = conn.execute(
                    select(func.count()).select_from(snaps)
                    .where(snaps.c.parked_from_seq.is_not(None))
                ).scalar_one()
                records = conn.execute(select(func.count()).select_from(parked)).scalar_one()
                out.append(StoreVersion(name, role, version, store.positions(conn),
                                        int(aggregates), int(records)))
    return out


async def read_log(
    bootstrap: str,
    positions: Iterable[Mapping[TopicPartition, int]] = (),
    *,
    class_limit: int = 10_000,
) -> LogState:
    """Kafka's side (see the module docstring); the first unconsumed record is read for
    every partition at each of the stored `positions` (a missing partition: offset 0)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [tp for t in TOPICS for tp in await topic_partitions(consumer, t)]
        ends = {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
        timestamps: dict[tuple[str, int, int], int] = {}
        wanted = {(tp, p.get(tp, 0)) for p in positions for tp in ends}
        for (topic, partition), offset in sorted(wanted):
            if offset < ends[(topic, partition)]:
                stamp = await _timestamp_at(consumer, topic, partition, offset)
                if stamp is not None:
                    timestamps[(topic, partition, offset)] = stamp
        dlq: list[DlqStatus] = []
        for origin in TOPICS:
            name = dlq_topic(origin)
            dtps = await topic_partitions(consumer, name)
            starts = await consumer.beginning_offsets(dtps) if dtps else {}
            dends = await consumer.end_offsets(dtps) if dtps else {}
            count = sum(dends[tp] - starts[tp] for tp in dtps)
            dlq.append(DlqStatus(name, origin, count, {} if count == 0 else None))
    finally:
        await consumer.stop()
    for i, d in enumerate(dlq):
        if 0 < d.records <= class_limit:
            classes = Counter(e.record.error_class for e in await read_dlq(bootstrap, [d.topic]))
            dlq[i] = DlqStatus(d.topic, d.origin_topic, d.records, dict(sorted(classes.items())))
    return LogState(ends, timestamps, dlq)


async def _timestamp_at(
    consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int
) -> int | None:
    """The timestamp (ms) of the first record at or after `offset`."""
    tp = KafkaTP(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, offset)
    for _ in range(20):  # up to ~10 s
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
        for message in batch.get(tp, []):
            return int(message.timestamp)
    return None


# --- assembling ---------------------------------------------------------------------------


def build_status(
    versions: Sequence[StoreVersion], log: LogState, now: datetime | None = None
) -> Status:
    """Lag per projection version and partition (see the module docstring)."""
    now = now or datetime.now(UTC)
    out: list[VersionStatus] = []
    for v in versions:
        lags: list[PartitionLag] = []
        for (topic, partition), end in sorted(log.ends.items()):
            position = v.positions.get((topic, partition))
            start = position or 0
            lag = max(0, end - start)
            seconds = 0.0
            stamp = log.timestamps_ms.get((topic, partition, start))
            if lag and stamp is not None:
                seconds = round(max(0.0, now.timestamp() - stamp / 1000), 3)
            lags.append(PartitionLag(topic, partition, position, end, lag, seconds))
        out.append(VersionStatus(v, lags))
    return Status(now, out, list(log.dlq))


def render_status(status: Status) -> str:
    """The human table of `onestop status`."""
    lines = [f"as of {status.as_of.isoformat(timespec='seconds')}", ""]
    lines.append(f"{'projection':<11}{'role':<9}{'version':>7}{'lag events':>12}{'lag s':>10}"
                 f"{'parked aggregates':>19}{'parked records':>16}")
    for v in status.versions:
        s = v.store
        version = "-" if s.version is None else str(s.version)
        lines.append(f"{s.projection:<11}{s.role:<9}{version:>7}{v.lag_events:>12}"
                     f"{v.lag_seconds:>10.1f}{s.parked_aggregates:>19}{s.parked_records:>16}")
    groups: dict[tuple[PartitionLag, ...], list[str]] = {}
    for v in status.versions:  # versions at the same positions share one table
        groups.setdefault(tuple(v.partitions), []).append(
            f"{v.store.projection} ({v.store.role})")
    for partitions, names in groups.items():
        lines += ["", f"{', '.join(names)} by partition:",
                  f"  {'topic':<18}{'part':>5}{'position':>10}{'end':>10}{'lag':>8}{'lag s':>9}"]
        for p in partitions:
            pos = "-" if p.position is None else str(p.position)
            lines.append(f"  {p.topic:<18}{p.partition:>5}{pos:>10}{p.end_offset:>10}"
                         f"{p.lag_events:>8}{p.lag_seconds:>9.1f}")
    lines += ["", "dead-letter queues:"]
    for d in status.dlq:
        classes = ("(not counted by class)" if d.by_class is None
                   else ", ".join(f"{k} {n}" for k, n in d.by_class.items()))
        lines.append(f"  {d.topic:<22}{d.records:>8}  {classes}".rstrip())
    return "\n".join(lines)

