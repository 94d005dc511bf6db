"""Operator tools on the dead-letter queues: read them back and re-publish their records.

- `read_dlq` / `read_dlq_at`: DLQ records as `DlqEntry`s (the `DlqRecord` plus every header
  and the timestamp), read with a group-less consumer from the beginning up to the end
  offsets taken at the start — nothing is committed anywhere.
- `republish`: the original key and value back onto the origin topic *and partition*
  (the aggregate's order holds), with the header `onestop.retry-of: <dlq topic>:<offset>`.
  Harmless to repeat: the projections skip an `aggregate_seq` they already applied.

Releasing a parked aggregate is `streams.dlq_release`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as KafkaTP

from schemas.codec import AvroCodec
from schemas.errors import DecodeError, OnestopSchemaError
from schemas.events import Event
from streams.dlq import DlqRecord

__all__ = [
    "RETRY_HEADER",
    "DlqEntry",
    "decode_value",
    "entry_from_message",
    "parse_coordinates",
    "read_dlq",
    "read_dlq_at",
    "republish",
    "topic_partitions",
]

RETRY_HEADER: Final = "onestop.retry-of"


@dataclass(frozen=True, slots=True)
class DlqEntry:
    """A DLQ record read back: the decoded headers, every raw header and the timestamp."""

    record: DlqRecord
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    @property
    def coordinates(self) -> str:
        return f"{self.record.topic}:{self.record.offset}"

    @property
    def origin(self) -> str:
        r = self.record
        return f"{r.origin_topic}:{r.origin_partition}:{r.origin_offset}"


def parse_coordinates(text: str) -> tuple[str, int, int]:
    """`TOPIC:OFFSET` (partition 0) or `TOPIC:PARTITION:OFFSET` → (topic, partition, offset)."""
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and not parts[1].isdigit():
        parts = [f"{parts[0]}:{parts[1]}", parts[2]]
    numbers = parts[1:]
    if len(parts) < 2 or not parts[0] or not all(n.isdigit() for n in numbers):
        raise ValueError(f"{text!r} is not TOPIC:OFFSET or TOPIC:PARTITION:OFFSET")
    if len(parts) == 2:
        return parts[0], 0, int(parts[1])
    return parts[0], int(parts[1]), int(parts[2])


def entry_from_message(message: Any) -> DlqEntry:
    """A consumed DLQ message as a `DlqEntry`; a missing header reads as `?` / -1."""
    headers = tuple((str(k), bytes(v or b"")) for k, v in (message.headers or ()))
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name, value.decode("utf-8", "replace"))

    def number(name: str) -> int:
        text = first.get(name, "")
        return int(text) if text.lstrip("-").isdigit() else -1

    record = DlqRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        error_class=first.get("error.class", "?"),
        reason=first.get("error.reason", ""),
        origin_topic=first.get("origin.topic", "?"),
        origin_partition=number("origin.partition"),
        origin_offset=number("origin.offset"),
    )
    return DlqEntry(record, headers, int(message.timestamp or 0))


def decode_value(codec: AvroCodec, value: bytes) -> tuple[Event | None, str | None]:
    """The event in `value`, or None and why not (`<error_class>: <reason>`)."""
    try:
        return codec.decode(value), None
    except DecodeError as exc:
        return None, f"{exc.error_class}: {exc.reason}"
    except OnestopSchemaError as exc:  # the registry itself failed: say so, do not guess
        return None, f"registry: {exc}"


# --- reading ------------------------------------------------------------------------------


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[KafkaTP]:
    """The partitions of `topic` (empty if the topic does not exist)."""
    if not consumer.partitions_for_topic(topic):
        await consumer._client.force_metadata_update()
    return [KafkaTP(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def read_dlq(bootstrap: str, topics: Sequence[str], timeout_s: float = 60) -> list[DlqEntry]:
    """Every record of the DLQ `topics` up to their end offsets now, by topic and offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[DlqEntry] = []
    try:
        tps = [tp for t in topics for tp in await topic_partitions(consumer, t)]
        if not tps:
            return out
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        async with asyncio.timeout(timeout_s):
            pending = {tp for tp in tps if ends[tp] > starts[tp]}
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=500, max_records=10_000)
                for tp, messages in batches.items():
                    out.extend(entry_from_message(m) for m in messages if m.offset < ends[tp])
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    out.sort(key=lambda e: (e.record.topic, e.record.partition, e.record.offset))
    return out


async def read_dlq_at(
    bootstrap: str, topic: str, partition: int, offset: int, timeout_s: float = 10
) -> DlqEntry | None:
    """The DLQ record at `topic:partition:offset`, or None if there is none."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = KafkaTP(topic, partition)
        if tp not in await topic_partitions(consumer, topic):
            return None
        consumer.assign([tp])
        start = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not start <= offset < end:
            return None
        consumer.seek(tp, offset)
        async with asyncio.timeout(timeout_s):
            while True:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
                for message in batch.get(tp, []):
                    return entry_from_message(message) if message.offset == offset else None
    finally:
        await consumer.stop()


# --- retry --------------------------------------------------------------------------------


async def republish(bootstrap: str, entries: Sequence[DlqEntry]) -> list[tuple[int, int]]:
    """Re-publish each entry's key and value to its origin topic and partition; returns the
    (partition, offset) each one got, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(e.record.origin_topic, value=e.record.value, key=e.record.key,
                                partition=e.record.origin_partition,
                                headers=[(RETRY_HEADER, e.coordinates.encode())])
            for e in entries
        ]
        placed = [await future for future in futures]
        return [(m.partition, m.offset) for m in placed]
    finally:
        await producer.stop()
