"""The dead-letter queues: `<topic>.dlq`, one record per rejected source record.

A DLQ record keeps the original key and value bytes untouched and says why in its headers
(CONTRACT.md): `error.class`, `error.reason`, `origin.topic`, `origin.partition`,
`origin.offset`. Records are sent *before* the batch that rejected them is committed to the
database, so a crash in between re-sends them (at-least-once into the DLQ; readers dedupe
on the origin coordinates) and never loses one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from projections.records import Rejection

__all__ = ["DlqRecord", "DlqSender", "dlq_headers", "dlq_topic", "unique_rejections"]

MAX_REASON_BYTES = 2000


def dlq_topic(origin_topic: str) -> str:
    return f"{origin_topic}.dlq"


def dlq_headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    """The CONTRACT's DLQ headers for one rejection (reason capped at 2,000 bytes)."""
    source = rejection.source
    reason = rejection.reason.encode("utf-8")[:MAX_REASON_BYTES]
    return [
        ("error.class", rejection.error_class.encode()),
        ("error.reason", reason),
        ("origin.topic", source.topic.encode()),
        ("origin.partition", str(source.partition).encode()),
        ("origin.offset", str(source.offset).encode()),
    ]


def unique_rejections(rejections: Iterable[Rejection]) -> list[Rejection]:
    """One rejection per origin record, in origin order (the projections agree on them)."""
    seen: dict[tuple[str, int, int], Rejection] = {}
    for rejection in rejections:
        s = rejection.source
        seen.setdefault((s.topic, s.partition, s.offset), rejection)
    return [seen[k] for k in sorted(seen)]


@dataclass(frozen=True, slots=True)
class DlqRecord:
    """A DLQ record as read back: the origin's key and value and the headers decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error_class: str
    reason: str
    origin_topic: str
    origin_partition: int
    origin_offset: int


class DlqSender:
    """Sends rejections to their DLQ topic and waits until the broker has them."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(self, rejections: Sequence[Rejection]) -> None:
        futures = []
        for rejection in rejections:
            source = rejection.source
            futures.append(
                await self._producer.send(
                    dlq_topic(source.topic),
                    value=source.value,
                    key=source.key,
                    headers=dlq_headers(rejection),
                )
            )
        for future in futures:
            await future
