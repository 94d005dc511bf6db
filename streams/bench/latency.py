"""End-to-end latency: produce at a fixed rate, time until visible in a projection's read model.

`measure_latency(bootstrap, records, rate, engine)` runs while a live worker (caught up)
projects the topics into the database behind `engine`:

1. a producer sends record i at `t0 + i / rate` (paced on the monotonic clock, never waiting
   for an acknowledgement before the next send), keyed as `onestop publish` keys them (the
   aggregate id, default partitioner: one aggregate stays on one partition, in order), with
   the same idempotent `acks=all` producer; each send's time is noted, and its (topic,
   partition, offset) read from its acknowledgement afterwards;
2. meanwhile a poller thread, on its own read-only connection, reads the projection's live
   version's stored positions (`projection_positions.next_offset`) every `poll_ms` and notes
   the time just before each read;
3. a record is visible at the first poll whose position for its partition is past its
   offset: rows and positions commit in one transaction, so that is exactly when the read
   model shows it. Latency = that poll's time - the send's time, an upper bound with
   `poll_ms` resolution (a read sees only commits made before it started).

Pure parts, tested alone: `percentile` (nearest rank), `visibility_latencies`, `unseen`,
`achieved_rate`, `latency_figures`, and `split_for_latency` (the held-back tail of a
generated province, one chunk per rate).

Errors: `LatencyError` (no live version, a record not produced, records never visible in
time, a record "visible" before it was sent: stale positions); `ValueError` for bad
arguments.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import Engine

from projections.store import live_version, make_engine
from projections.store.positions import positions
from schemas.events import CATALOGUE_TOPIC, EVENT_TYPES
from streams.bench.model import Latency

__all__ = [
    "LatencyError",
    "LatencyFigures",
    "Poll",
    "Sent",
    "achieved_rate",
    "latency_figures",
    "measure_latency",
    "percentile",
    "split_for_latency",
    "unseen",
    "visibility_latencies",
]

Record = tuple[str, bytes | None, bytes]
"""(topic, key, Avro-encoded value), as `connectors.publisher.encode_events` makes them."""


class LatencyError(Exception):
    """The latency could not be measured; the message says what was missing."""


@dataclass(frozen=True)
class Sent:
    """One produced record: where it landed, and when it was handed to the producer."""

    topic: str
    partition: int
    offset: int
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Poll:
    """The stored positions (next offset to read, per partition) read at `at`."""

    at: float  # time.monotonic(), just before the read
    positions: Mapping[tuple[str, int], int]


@dataclass(frozen=True)
class LatencyFigures:
    """Latency at one input rate (`streams.bench.model.Latency` without the back end)."""

    rate: float  # events/s asked for
    achieved_rate: float  # events/s actually produced
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    poll_ms: float  # the resolution of the figures

    def to_latency(self, backend: str) -> Latency:
        return Latency(backend, self.rate, self.achieved_rate, self.events, self.p50_ms,
                       self.p99_ms, self.max_ms, self.poll_ms)


# --- pure parts ----------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least q % of values <= it.

    `sorted_values` ascending; `q` in [0, 100] (0 gives the minimum, 100 the maximum).
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], not {q}")
    if any(b < a for a, b in pairwise(sorted_values)):
        raise ValueError("percentile needs values sorted in ascending order")
    rank = max(1, math.ceil(round(q * len(sorted_values) / 100, 9)))
    return sorted_values[rank - 1]


def unseen(sends: Sequence[Sent], stored: Mapping[tuple[str, int], int]) -> int:
    """How many of `sends` the positions `stored` do not cover yet (position <= offset)."""
    return sum(1 for s in sends if stored.get((s.topic, s.partition), 0) <= s.offset)


def visibility_latencies(sends: Sequence[Sent], polls: Sequence[Poll]) -> list[float]:
    """Seconds from each send to the first poll showing it, in the order of `sends`.

    `polls` in time order. `LatencyError` if a record is never shown, or is shown by a poll
    made before it was sent (positions from an older run of the topics).
    """
    if any(b.at < a.at for a, b in pairwise(polls)):
        raise ValueError("polls must be in time order")
    partitions = {(s.topic, s.partition) for s in sends}
    times = [p.at for p in polls]
    reached: dict[tuple[str, int], list[int]] = {}
    for tp in partitions:  # the furthest position seen so far, poll by poll (non-decreasing)
        furthest, running = [], 0
        for poll in polls:
            running = max(running, poll.positions.get(tp, 0))
            furthest.append(running)
        reached[tp] = furthest
    out: list[float] = []
    missing: dict[tuple[str, int], int] = defaultdict(int)
    for sent in sends:
        index = bisect_right(reached[(sent.topic, sent.partition)], sent.offset)
        if index == len(polls):
            missing[(sent.topic, sent.partition)] += 1
            continue
        if times[index] < sent.at:
            raise LatencyError(
                f"{sent.topic}[{sent.partition}] offset {sent.offset} was stored before it was "
                f"sent ({sent.at - times[index]:.3f} s early): the positions belong to older "
                "contents of the topic; use a fresh database for fresh topics")
        out.append(times[index] - sent.at)
    if missing:
        where = ", ".join(f"{t}[{p}]: {n}" for (t, p), n in sorted(missing.items()))
        raise LatencyError(f"{sum(missing.values())} of {len(sends)} records were never "
                           f"visible ({where})")
    return out


def achieved_rate(sends: Sequence[Sent], rate: float) -> float:
    """Records per second actually produced: (n - 1) over the first-to-last send span.

    With fewer than two sends (or all at one instant) there is no span: `rate` is returned.
    """
    if len(sends) < 2:
        return rate
    span = max(s.at for s in sends) - min(s.at for s in sends)
    return (len(sends) - 1) / span if span > 0 else rate


def latency_figures(
    rate: float, sends: Sequence[Sent], polls: Sequence[Poll], poll_ms: float
) -> LatencyFigures:
    """p50 / p99 / max in milliseconds over every send (see `visibility_latencies`)."""
    if not sends:
        raise ValueError("latency figures of no records")
    values = sorted(1000.0 * x for x in visibility_latencies(sends, polls))
    return LatencyFigures(
        rate=rate,
        achieved_rate=achieved_rate(sends, rate),
        events=len(sends),
        p50_ms=percentile(values, 50),
        p99_ms=percentile(values, 99),
        max_ms=values[-1],
        poll_ms=poll_ms,
    )


def split_for_latency(
    events: list[dict[str, Any]], rates: Sequence[float], seconds: float
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """(head, one chunk per rate): the last `sum(round(rate * seconds))` events held back.

    `events` are JSON-form events as the generator emits them (catalogue first, then dossier
    events in time order), so a tail keeps every aggregate's events in order. The chunks
    follow each other in `rates` order. `ValueError` if a rate gives no event or the tail
    would take a catalogue event (or an event of unknown type).
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    counts = [round(rate * seconds) for rate in rates]
    if not counts or any(c < 1 for c in counts):
        raise ValueError(f"every rate must give at least one event in {seconds} s: "
                         f"rates {list(rates)} give {counts}")
    held = sum(counts)
    if held >= len(events):
        raise ValueError(f"holding back {held} events leaves none of the {len(events)} to load")
    start = len(events) - held
    for index in range(start, len(events)):
        kind = events[index].get("type")
        cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ValueError(f"event {index}: unknown type {kind!r}")
        if cls.TOPIC == CATALOGUE_TOPIC:
            raise ValueError(
                f"holding back the last {held} events reaches into the catalogue (event "
                f"{index}, a {kind}): generate more dossiers or lower the rates or seconds")
    chunks, at = [], start
    for count in counts:
        chunks.append(events[at:at + count])
        at += count
    return events[:start], chunks


# --- measuring -----------------------------------------------------------------------------


def _poll_loop(engine: Engine, projection: str, version: int, interval_s: float,
               polls: list[Poll], stop: threading.Event) -> None:
    """Append a `Poll` every `interval_s` until `stop` (each read in its own transaction)."""
    with engine.connect() as conn:
        due = time.monotonic()
        while not stop.is_set():
            at = time.monotonic()
            found = positions(conn, projection, version)
            conn.rollback()
            polls.append(Poll(at, found))
            due += interval_s
            wait = due - time.monotonic()
            if wait > 0:
                stop.wait(wait)
            else:  # fell behind: poll again now, without a burst to catch up
                due = time.monotonic()


async def _produce(bootstrap: str, records: Sequence[Record], rate: float) -> list[Sent]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                acks="all")
    await producer.start()
    try:
        for topic in dict.fromkeys(topic for topic, _, _ in records):
            await producer.partitions_for(topic)  # metadata first: not in the first latency
        pending = []
        t0 = time.monotonic()
        for index, (topic, key, value) in enumerate(records):
            delay = t0 + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            at = time.monotonic()
            pending.append((await producer.send(topic, value=value, key=key), at))
        sends = []
        for index, (future, at) in enumerate(pending):
            try:
                meta = await future
            except KafkaError as exc:
                raise LatencyError(f"record {index} ({records[index][0]}) was not produced: "
                                   f"{exc!r}") from exc
            sends.append(Sent(meta.topic, meta.partition, meta.offset, at))
        return sends
    finally:
        await producer.stop()


async def _settle(sends: Sequence[Sent], polls: list[Poll], poller: asyncio.Future[None],
                  timeout_s: float, poll_ms: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        latest = polls[-1].positions if polls else {}
        missing = unseen(sends, latest)
        if not missing:
            return
        if poller.done():
            poller.result()
            raise LatencyError(f"the poller of {what} stopped")
        if time.monotonic() > deadline:
            raise LatencyError(
                f"{missing} of {len(sends)} records were never visible in {what} within "
                f"{timeout_s:g} s after the last was produced; stored positions {dict(latest)}"
                f" (is the worker running on this database?)")
        await asyncio.sleep(poll_ms / 1000)


async def measure_latency(
    bootstrap: str,
    records: Sequence[Record],
    rate: float,
    engine: Engine,
    *,
    projection: str = "portal",
    poll_ms: float = 5.0,
    settle_timeout_s: float = 60.0,
) -> LatencyFigures:
    """Produce `records` at `rate` per second; p50/p99/max time until `projection` shows them.

    `engine` is the worker's database: the poller opens its own engine on the same URL
    (SQLite reads with a deferred BEGIN, so polling never takes the write lock). The
    projection must have a live version already (start the worker and let it catch up
    first). Waits up to `settle_timeout_s` after the last acknowledgement for every record
    to be visible.
    """
    if not records:
        raise ValueError("no records to produce")
    if rate <= 0 or poll_ms <= 0:
        raise ValueError(f"rate and poll_ms must be positive, not {rate} and {poll_ms}")
    reader = make_engine(engine.url, sqlite_begin="DEFERRED")
    try:
        with reader.connect() as conn:
            version = live_version(conn, projection)
        if version is None:
            raise LatencyError(f"{projection} has no live version in {engine.url!r}: start the "
                               "worker on this database and let it catch up first")
        what = f"{projection} v{version}"
        polls: list[Poll] = []
        stop = threading.Event()
        poller = asyncio.ensure_future(asyncio.to_thread(
            _poll_loop, reader, projection, version, poll_ms / 1000, polls, stop))
        try:
            sends = await _produce(bootstrap, records, rate)
            await _settle(sends, polls, poller, settle_timeout_s, poll_ms, what)
        finally:
            stop.set()
            await asyncio.wait({poller})
        poller.result()  # a database error in the poller surfaces here
        return latency_figures(rate, sends, polls, poll_ms)
    finally:
        reader.dispose()
