"""The benchmark's workload: one seeded province, generated once and loaded into the broker once.

`prepare_workload` generates `events + held_back` events with the seeded generator
(`connectors.workload`), writes them as JSON lines under `<dir>`, and splits off the LAST
`held_back` events (dossier events, in time order) for the latency phase, which produces them
at fixed rates while the worker runs. The generator emits the catalogue first, then dossier
events in time order, so a tail split keeps every aggregate's events in order.

`load_workload` deletes and recreates the contract topics of the benchmark's own broker and
publishes the main part in chunks (parse → Avro-encode → idempotent producer), so memory stays
flat for any size. It returns the topics' end offsets: every contender reads up to exactly
these.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from connectors.publisher import (
    EncodedRecord,
    PublishValidationError,
    encode_events,
    publish_records,
)
from connectors.workload import generate, write_jsonl
from connectors.workload.catalogue import build_catalogue
from connectors.workload.generator import spec_for_events
from projections.records import TopicPartition
from schemas.codec import AvroCodec
from schemas.jsonform import parse_jsonl
from streams.compose import open_codec
from streams.replay_log import LogReader
from streams.settings import Settings
from streams.topics import reset_topics

__all__ = ["PreparedWorkload", "encoded_lines", "load_workload", "prepare_workload", "topic_ends"]

CHUNK = 100_000
Say = Callable[[str], None]


@dataclass(frozen=True)
class PreparedWorkload:
    seed: int
    main: Path  # loaded before the contenders run
    tail: Path  # held back for the latency phase
    events: int
    catalogue_events: int
    dossiers: int
    held_back: int


def _split(source: Path, main: Path, tail: Path, keep: int, total: int) -> None:
    with source.open(encoding="utf-8") as lines, main.open("w", encoding="utf-8") as head_out, \
            tail.open("w", encoding="utf-8") as tail_out:
        for number, line in enumerate(lines):
            (head_out if number < total - keep else tail_out).write(line)


def prepare_workload(folder: Path, events: int, held_back: int, seed: int, say: Say) -> \
        PreparedWorkload:
    """Generate (or reuse, if already generated for these numbers) the workload files."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = spec_for_events(events + held_back, seed=seed)
    catalogue_events = len(build_catalogue(spec).records)
    stem = folder / f"province-{seed}-{events}-{held_back}"
    source, main, tail = (stem.with_suffix(s) for s in (".jsonl", ".main.jsonl", ".tail.jsonl"))
    if not (main.exists() and tail.exists()):
        say(f"generating a province of ~{events + held_back:,} events (seed {seed}) ...")
        started = time.perf_counter()
        total = write_jsonl(generate(spec), source)
        if total - held_back <= catalogue_events:
            raise ValueError(f"{held_back} held-back events reach into the catalogue "
                             f"({catalogue_events} events of {total}): ask for more events")
        _split(source, main, tail, held_back, total)
        source.unlink()
        say(f"  {total:,} events in {time.perf_counter() - started:.1f} s")
    loaded = sum(1 for _ in main.open(encoding="utf-8"))
    return PreparedWorkload(seed, main, tail, loaded, catalogue_events, spec.dossiers, held_back)


def _chunks(path: Path, size: int) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as lines:
        while chunk := list(islice(lines, size)):
            yield chunk


def encoded_lines(codec: AvroCodec, lines: list[str]) -> list[EncodedRecord]:
    """Parse and Avro-encode JSON lines (registering the schemas as needed)."""
    events, errors = parse_jsonl(lines)
    if errors:
        raise PublishValidationError(errors)
    return encode_events(codec, events)


async def topic_ends(bootstrap: str) -> dict[TopicPartition, int]:
    async with LogReader(bootstrap) as reader:
        return await reader.end_offsets(reader.partitions)


def load_workload(settings: Settings, workload: PreparedWorkload, say: Say) -> \
        tuple[dict[TopicPartition, int], float]:
    """Empty the topics, publish the main part; (end offsets, seconds taken)."""
    bootstrap = settings.require_kafka()
    asyncio.run(reset_topics(bootstrap, settings))
    codec = open_codec(settings, auto_register=True)
    started, sent = time.perf_counter(), 0
    for lines in _chunks(workload.main, CHUNK):
        records = encoded_lines(codec, lines)
        asyncio.run(publish_records(bootstrap, records))
        sent += len(records)
        say(f"  published {sent:,}/{workload.events:,}")
    seconds = time.perf_counter() - started
    ends = asyncio.run(topic_ends(bootstrap))
    if sum(ends.values()) != workload.events:
        raise RuntimeError(f"the topics hold {sum(ends.values()):,} records after loading "
                           f"{workload.events:,} events")
    return ends, seconds
