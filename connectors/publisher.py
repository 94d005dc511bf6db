"""Publish events onto the contract's topics: validate everything first, then send.

`onestop publish FILE.jsonl` is all-or-nothing for *input*: every line is parsed and encoded
before the first record is sent, and any invalid line means nothing is published. Records
are keyed by `aggregate_id` (so one aggregate stays on one partition, in order) and sent
with an idempotent producer (`acks=all`). Event ids are deterministic and the projections
skip duplicates by `aggregate_seq`, so if the *broker* fails half-way, running the same
publish again completes it without applying anything twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from schemas.codec import AvroCodec
from schemas.errors import EncodeError
from schemas.events import Event
from schemas.jsonform import JsonFormError, parse_jsonl

__all__ = [
    "EncodedRecord",
    "PublishReport",
    "PublishValidationError",
    "encode_events",
    "load_events",
    "publish_records",
]

Progress = Callable[[int, int], None]
"""Called with (sent so far, total)."""


class PublishValidationError(Exception):
    """The input has invalid lines; nothing was published. `errors` lists every one."""

    def __init__(self, errors: Sequence[JsonFormError]) -> None:
        self.errors = list(errors)
        shown = "\n".join(str(e) for e in self.errors[:50])
        more = f"\n... and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{len(self.errors)} invalid line(s); nothing published:\n{shown}{more}")


@dataclass(frozen=True, slots=True)
class EncodedRecord:
    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class PublishReport:
    events: int
    by_topic: Counter[str]
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def load_events(path: Path) -> list[Event]:
    """Parse a JSON-lines file; `PublishValidationError` lists every invalid line."""
    with path.open(encoding="utf-8") as handle:
        events, errors = parse_jsonl(handle)
    if errors:
        raise PublishValidationError(errors)
    return events


def encode_events(codec: AvroCodec, events: Iterable[Event]) -> list[EncodedRecord]:
    """Encode every event (registering schemas as needed) before anything is sent."""
    records: list[EncodedRecord] = []
    errors: list[JsonFormError] = []
    for index, event in enumerate(events):
        try:
            value = codec.encode(event.TOPIC, event)
        except EncodeError as exc:
            errors.append(JsonFormError(f"cannot be encoded: {exc}", line=index + 1))
            continue
        records.append(EncodedRecord(event.TOPIC, event.aggregate_id.encode(), value))
    if errors:
        raise PublishValidationError(errors)
    return records


async def publish_records(
    bootstrap: str,
    records: Sequence[EncodedRecord],
    *,
    progress: Progress | None = None,
) -> PublishReport:
    """Send the records with an idempotent producer and wait until the broker has all."""
    started = time.perf_counter()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    await producer.start()
    by_topic: Counter[str] = Counter()
    try:
        pending = []
        for sent, record in enumerate(records, start=1):
            pending.append(await producer.send(record.topic, value=record.value, key=record.key))
            by_topic[record.topic] += 1
            if len(pending) >= 10_000:
                for future in pending:
                    await future
                pending.clear()
                if progress is not None:
                    progress(sent, len(records))
        for future in pending:
            await future
        if progress is not None:
            progress(len(records), len(records))
    finally:
        await producer.stop()
    return PublishReport(len(records), by_topic, time.perf_counter() - started)
