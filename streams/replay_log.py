"""Reading the log for replays: a group-less consumer, and where a point-in-time build stops.

- `LogReader`: every partition of `catalogue.events` and `dossier.events` assigned to a plain
  `AIOKafkaConsumer` (no group, no commits), all paused until `read(start, stop, handle)`
  resumes some and hands `getmany()` batches to `handle`.
- `parse_to_offset`, `parse_instant`, `resolve_stops`: `--to-offset` / `--to-time`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as KafkaTP

from projections.records import SourceRecord, TopicPartition
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC

__all__ = [
    "TOPICS", "LogReader", "LogReaderError", "Offsets", "parse_instant", "parse_to_offset",
    "resolve_stops",
]

TOPICS = (CATALOGUE_TOPIC, DOSSIER_TOPIC)
Offsets = dict[TopicPartition, int]


class LogReaderError(Exception):
    """The topics cannot be read (e.g. they do not exist)."""


# --- pure parts ---------------------------------------------------------------------------


def parse_to_offset(text: str) -> tuple[TopicPartition, int]:
    """`dossier.events:3:1200` → ((`dossier.events`, 3), 1200): stop before offset 1200."""
    match = re.fullmatch(r"\s*([^:\s]+):(\d+):(\d+)\s*", text)
    if match is None:
        raise ValueError(f"{text!r} is not TOPIC:PARTITION:OFFSET (e.g. dossier.events:3:1200)")
    topic, partition, offset = match.group(1), int(match.group(2)), int(match.group(3))
    if topic not in TOPICS:
        raise ValueError(f"{text!r}: topic must be one of {', '.join(TOPICS)}")
    return (topic, partition), offset


def parse_instant(text: str) -> int:
    """An ISO 8601 instant as epoch milliseconds (without an offset it is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 instant (e.g. 2025-06-30T17:00:00Z)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def resolve_stops(
    ends: Mapping[TopicPartition, int],
    to_offsets: Mapping[TopicPartition, int],
    at_time: Mapping[TopicPartition, int] | None = None,
) -> Offsets:
    """Where a point-in-time build stops, per partition: the `--to-offset` given for it, else
    the offset at `--to-time`, else the end now — never beyond the end."""
    unknown = sorted(set(to_offsets) - set(ends))
    if unknown:
        raise ValueError(f"no such partitions: {', '.join(f'{t}:{p}' for t, p in unknown)}")
    stops: Offsets = {}
    for tp, end in ends.items():
        wanted = to_offsets.get(tp, at_time.get(tp, end) if at_time is not None else end)
        stops[tp] = min(wanted, end)
    return stops


# --- the log ------------------------------------------------------------------------------


class LogReader:
    """A group-less consumer over every partition of both topics, read in `getmany` batches."""

    def __init__(self, bootstrap: str, *, max_records: int = 5000, poll_ms: int = 500) -> None:
        self.max_records = max_records
        self.poll_ms = poll_ms
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
        )
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> LogReader:
        await self._consumer.start()
        for topic in TOPICS:
            found = self._consumer.partitions_for_topic(topic)
            if not found:
                await self._consumer._client.force_metadata_update()
                found = self._consumer.partitions_for_topic(topic)
            if not found:
                raise LogReaderError(f"topic {topic} does not exist; run `onestop topics ensure`")
            self.partitions += [(topic, p) for p in sorted(found)]
        tps = [KafkaTP(*tp) for tp in self.partitions]
        self._consumer.assign(tps)
        self._consumer.pause(*tps)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._consumer.stop()

    def of(self, topic: str) -> list[TopicPartition]:
        return [tp for tp in self.partitions if tp[0] == topic]

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> Offsets:
        ends = await self._consumer.end_offsets([KafkaTP(*tp) for tp in tps])
        return {(k.topic, k.partition): v for k, v in ends.items()}

    async def offsets_at(self, at_ms: int) -> Offsets:
        """Per partition, the first offset with a timestamp ≥ `at_ms` (the end if none)."""
        found = await self._consumer.offsets_for_times({KafkaTP(*tp): at_ms
                                                        for tp in self.partitions})
        ends = await self.end_offsets(self.partitions)
        return {tp: ends[tp] if (hit := found.get(KafkaTP(*tp))) is None else hit.offset
                for tp in self.partitions}

    async def read(
        self, start: Mapping[TopicPartition, int], stop: Mapping[TopicPartition, int],
        handle: Callable[[list[SourceRecord]], Awaitable[None]],
    ) -> None:
        """Hand every record from `start` up to (not including) `stop` to `handle`, in
        batches, in offset order within each partition."""
        wanted = [KafkaTP(*tp) for tp, end in stop.items() if end > start.get(tp, 0)]
        if not wanted:
            return
        consumer = self._consumer
        consumer.resume(*wanted)
        try:
            for ktp in wanted:
                consumer.seek(ktp, start.get((ktp.topic, ktp.partition), 0))
            pending = set(wanted)
            while pending:
                batches = await consumer.getmany(
                    *pending, timeout_ms=self.poll_ms, max_records=self.max_records)
                records = [
                    SourceRecord(m.topic, m.partition, m.offset, m.key, m.value or b"",
                                 m.timestamp)
                    for ktp, messages in batches.items()
                    for m in messages if m.offset < stop[(ktp.topic, ktp.partition)]
                ]
                if records:
                    await handle(records)
                done = {k for k in pending
                        if await consumer.position(k) >= stop[(k.topic, k.partition)]}
                if done:
                    consumer.pause(*done)  # fetch nothing beyond the stop
                    pending -= done
        finally:
            consumer.pause(*wanted)
