"""`onestop worker`: the faust agents that project both topics into the three projections.

Two agents, one per topic, each with concurrency 1, take batches of records
(`stream.take_events`) and hand them to the shared `Pipeline`.

Batching (latency vs. catch-up): faust's `take_events` fills its buffer only while the
agent waits for it, and always waits the full `within` before yielding a part-full buffer.
The agents therefore take with a short `within` (`batch_within_s`, 20 ms) and re-batch
with `coalesce`, which asks faust for the next take while the current batch is being
processed. A batch goes to the pipeline as soon as it arrives unless the consumer's
high-water marks show more records already waiting on its partitions (lagging): then
takes are joined up to `catchup_batch_size` records (or for at most `catchup_within_s`),
so catching up commits few, large transactions while a caught-up worker commits each
record within milliseconds of its arrival.

Cross-topic order (DESIGN.md, principle 8): a dossier record that refers to a procedure or
agency the catalogue does not hold yet is *deferred* while the catalogue topic has not been
consumed up to its end. The dossier agent therefore applies dossier records only once the
catalogue's stored positions have reached the catalogue topic's end (checked per batch: the
end offsets are read from the broker every time; the stored positions are re-read from the
database only when the last ones read do not reach those ends, as positions of a projection
version only move forward). It never blocks while waiting (that would stall faust's shared
fetcher once the dossier buffer fills, and with it the catalogue): it holds the records in a
backlog, in arrival order, applied with the next batch or by a retry task once the catalogue
has caught up (woken by each catalogue batch this worker commits, and every 0.5 s in case
another worker owns the catalogue). While the backlog is large, the dossier partitions are
paused, so memory stays bounded. The pause must lose nothing: faust's `pause_partitions`
only drops the partitions from its active set, and its fetch loop then silently discards
records of those partitions already fetched (the consumer's position has moved past them),
so the worker pauses with faust's flow-control pair `on_buffer_full` / `on_buffer_drop`
instead, which stops new fetches but still delivers what was fetched.

Rebalances: the claim seeks every assigned partition back to the stored positions, so
records taken before it (in faust's take buffer, in `coalesce`, in the backlog) will come
again. They are dropped — the events by the consumer generation faust stamps on each
message, the backlog when the generation it was filled in is not the current one — so no
record taken before the seek can be applied after records it came before were forgotten.

Failure policy: a batch that fails for an unknown reason stops the worker (exit code 1)
and nothing after it is processed; the batch is not in the database, so the next start
resumes at it. `FencedError` (another worker owns the partitions now) only drops the batch.
With `until_idle`, the worker exits 0 once every projection's stored position has reached
the end of every partition and nothing new has arrived for that many seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as KafkaTP

from projections.records import SourceRecord, TopicPartition
from projections.store import FencedError
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.app import create_app
from streams.dlq import DlqSender
from streams.pipeline import Pipeline

__all__ = ["EndOffsets", "Worker", "WorkerResult", "caught_up", "coalesce"]

log = logging.getLogger("onestop.worker")

TOPICS = (CATALOGUE_TOPIC, DOSSIER_TOPIC)
BACKLOG_PAUSE = 20_000
"""Deferred dossier records held before the dossier partitions are paused."""
RETRY_EVERY_S = 0.5
"""The longest the backlog waits for a retry when no catalogue batch wakes it."""

T = TypeVar("T")


class EndOffsets:
    """Reads the log-end offsets of topics with a group-less consumer."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._started = False
        self._start_lock = asyncio.Lock()

    async def fetch(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        async with self._start_lock:  # callers share one reader: start it once
            if not self._started:
                await self._consumer.start()
                self._started = True
        tps = [
            KafkaTP(topic, p)
            for topic in topics
            for p in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        if any(not self._consumer.partitions_for_topic(t) for t in topics):
            await self._consumer._client.force_metadata_update()
            tps = [
                KafkaTP(topic, p)
                for topic in topics
                for p in sorted(self._consumer.partitions_for_topic(topic) or ())
            ]
        ends = await self._consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def close(self) -> None:
        if self._started:
            await self._consumer.stop()


def caught_up(
    positions: Mapping[str, Mapping[TopicPartition, int]], ends: Mapping[TopicPartition, int]
) -> bool:
    """True when every projection's stored position has reached every partition's end."""
    return all(
        stored.get(tp, 0) >= end for stored in positions.values() for tp, end in ends.items()
    )


async def coalesce(
    source: AsyncIterable[Sequence[T]],
    *,
    lagging: Callable[[Sequence[T]], bool],
    max_size: int,
    max_wait_s: float,
) -> AsyncIterator[list[T]]:
    """Re-batch `source`: each batch goes out as it arrives, unless `lagging(batch)` says
    more records are already waiting; then batches are joined until `max_size` records,
    `max_wait_s` after the first of them, or a batch that does not lag.

    The next batch is asked for before one is handed out (so `source` keeps filling while
    the caller works on it); order is kept; nothing is held back once `source` ends.
    """
    if max_size < 1 or max_wait_s < 0:
        raise ValueError(f"coalesce needs max_size >= 1 and max_wait_s >= 0, not {max_size} "
                         f"and {max_wait_s}")
    loop = asyncio.get_running_loop()
    batches = aiter(source)
    pending: list[T] = []
    deadline = 0.0
    step: asyncio.Future[Sequence[T]] | None = None
    try:
        while True:
            if step is None:
                step = asyncio.ensure_future(anext(batches))
            if pending:
                await asyncio.wait({step}, timeout=max(0.0, deadline - loop.time()))
                if not step.done():  # waited long enough: hand out what we have
                    out, pending = pending, []
                    yield out
                    continue
            else:
                await asyncio.wait({step})
            taken, step = step, None
            try:
                batch = taken.result()
            except StopAsyncIteration:
                break
            step = asyncio.ensure_future(anext(batches))  # fills while the caller works
            if not pending:
                deadline = loop.time() + max_wait_s
            pending.extend(batch)
            if len(pending) >= max_size or not lagging(batch) or loop.time() >= deadline:
                out, pending = pending, []
                yield out
        if pending:
            yield pending
    finally:  # closed early (the agent stops): drop the batch being taken, if any
        if step is not None:
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await step


@dataclass
class WorkerResult:
    exit_code: int
    counters: Counter[str]
    error: BaseException | None = None


class Worker:
    """Composes the faust app, the pipeline, the DLQ and the idle detector."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        bootstrap: str,
        group_id: str,
        batch_size: int = 500,
        batch_within_s: float = 0.02,
        catchup_batch_size: int = 5000,
        catchup_within_s: float = 1.0,
        backlog_pause: int = BACKLOG_PAUSE,
        until_idle_s: float | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        """The most records faust hands over at a time."""
        self.batch_within_s = batch_within_s
        """How long faust's buffer waits for more records before handing over what it has."""
        self.catchup_batch_size = max(batch_size, catchup_batch_size)
        """The most records per transaction, reached only while lagging."""
        self.catchup_within_s = catchup_within_s
        self.backlog_pause = backlog_pause
        """Deferred dossier records held before the dossier partitions are paused."""
        """The longest records are held to join a larger batch while lagging."""
        self.until_idle_s = until_idle_s
        self.counters: Counter[str] = Counter()
        self.fatal: BaseException | None = None
        self._stopping = False
        self._dlq: DlqSender | None = None
        self._producer: AIOKafkaProducer | None = None
        self._ends: EndOffsets | None = None
        self._backlog: list[SourceRecord] = []
        self._backlog_generation: int | None = None
        """The consumer generation the backlog was taken in."""
        self._dossier_lock = asyncio.Lock()
        self._kafka_lock = asyncio.Lock()
        self._paused = False
        self._catalogue_progress = asyncio.Event()
        self._known_positions: tuple[dict[str, int], dict[str, dict[TopicPartition, int]]] = (
            {}, {}
        )
        self.app = create_app(
            bootstrap=bootstrap,
            group_id=group_id,
            position_source=self._claim,
            stop_hooks=[self._close_kafka],
        )
        self._define_agents()

    # --- wiring ---------------------------------------------------------------------------

    def _claim(self, assigned: Set[TopicPartition]) -> Mapping[TopicPartition, int]:
        positions = self.pipeline.claim(assigned)
        # The backlog is dropped on the event loop, by generation (`_process_dossiers`).
        log.info("claimed %d partitions; seeking to stored positions", len(positions))
        return positions

    def _define_agents(self) -> None:
        app = self.app
        catalogue = app.topic(CATALOGUE_TOPIC)
        dossiers = app.topic(DOSSIER_TOPIC)

        @app.agent(catalogue, concurrency=1, name="onestop.project_catalogue")
        async def project_catalogue(stream: Any) -> None:
            async for events in self._batches(stream):
                await self.handle(events, dossier=False)

        @app.agent(dossiers, concurrency=1, name="onestop.project_dossiers")
        async def project_dossiers(stream: Any) -> None:
            async for events in self._batches(stream):
                await self.handle(events, dossier=True)

        app.task(self._retry_backlog)
        if self.until_idle_s is not None:
            app.task(self._watch_idle)

    def _batches(self, stream: Any) -> AsyncIterator[list[Any]]:
        return coalesce(
            stream.take_events(self.batch_size, within=self.batch_within_s),
            lagging=self._lagging,
            max_size=self.catchup_batch_size,
            max_wait_s=self.catchup_within_s,
        )

    def _lagging(self, events: Sequence[Any]) -> bool:
        """Whether the broker (as of the consumer's last fetch) holds records past `events`
        on one of their partitions: more are on their way, so wait for them."""
        last: dict[Any, int] = {}
        for event in events:
            last[event.message.tp] = event.message.offset
        consumer = self.app.consumer
        for tp, offset in last.items():
            try:
                highwater = consumer.highwater(tp)
            except (AssertionError, KeyError):  # no longer assigned: nothing more to wait for
                continue
            if highwater is not None and highwater > offset + 1:
                return True
        return False

    async def _kafka(self) -> tuple[DlqSender, EndOffsets]:
        # Both agents and the idle watcher ask at once on start: without the lock each
        # made a producer, and all but the last were never stopped (leaked, with pending
        # sender tasks destroyed by the garbage collector).
        async with self._kafka_lock:
            if self._dlq is None or self._ends is None:
                self._producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all"
                )
                await self._producer.start()
                self._dlq = DlqSender(self._producer)
                self._ends = EndOffsets(self.bootstrap)
            return self._dlq, self._ends

    async def _close_kafka(self) -> None:
        if self._ends is not None:
            await self._ends.close()
        if self._producer is not None:
            await self._producer.stop()

    # --- the batch ------------------------------------------------------------------------

    async def handle(self, events: Sequence[Any], *, dossier: bool) -> None:
        if self.fatal is not None or self._stopping:
            return
        messages = self._current([e.message for e in events])
        records = [
            SourceRecord(
                m.topic, m.partition, m.offset, m.key, m.value or b"", int(m.timestamp * 1000)
            )
            for m in messages
        ]
        if not records:
            return
        if dossier:
            async with self._dossier_lock:
                await self._process_dossiers(records)
        elif await self._process(records, catalogue_caught_up=True):
            self._catalogue_progress.set()  # the backlog may be appliable now

    async def _process(self, records: list[SourceRecord], *, catalogue_caught_up: bool) -> bool:
        if self.fatal is not None or self._stopping:
            return False
        try:
            dlq, _ = await self._kafka()
            outcome = await self.pipeline.process(
                records, catalogue_caught_up=catalogue_caught_up, dlq=dlq
            )
            self.counters.update(outcome.counters)
            return True
        except FencedError as exc:
            log.warning("batch dropped: %s", exc)
        except Exception as exc:
            self.fail(exc)
        return False

    async def _process_dossiers(self, records: list[SourceRecord]) -> None:
        """Apply dossier records once the catalogue has caught up; hold them until then."""
        generation = self._generation()
        if self._backlog_generation != generation:
            if self._backlog:
                self._drop_backlog("a rebalance: they come again from the stored positions")
            self._backlog_generation = generation
        self._backlog.extend(records)
        if not self._backlog:
            return
        if not await self._catalogue_caught_up():
            self.counters["deferred.waits"] += 1
            if len(self._backlog) > self.backlog_pause and not self._paused:
                self._set_dossiers_paused(True)
            return
        size = self.catchup_batch_size
        while self._backlog:
            chunk, rest = self._backlog[:size], self._backlog[size:]
            if not await self._process(chunk, catalogue_caught_up=True):
                return
            if self._generation() != generation:  # rebalanced meanwhile: the rest comes again
                self._drop_backlog("a rebalance during the batch")
                return
            self._backlog = rest
        if self._paused:
            self._set_dossiers_paused(False)

    async def _catalogue_caught_up(self) -> bool:
        """Whether every projection's stored catalogue positions reach the topic's end now.

        The ends are read from the broker each time. Stored positions only move forward
        within a projection version, so positions read earlier (for the same live versions)
        that already reach the ends prove it without a database read."""
        _, ends = await self._kafka()
        target = await ends.fetch([CATALOGUE_TOPIC])
        versions = {name: store.version for name, store in self.pipeline.stores.items()}
        known_versions, known = self._known_positions
        if known_versions == versions and caught_up(known, target):
            return True
        positions = await asyncio.to_thread(self.pipeline.positions)
        self._known_positions = (versions, positions)
        return caught_up(positions, target)

    def _generation(self) -> int:
        return int(self.app.consumer_generation_id)

    def _current(self, messages: list[Any]) -> list[Any]:
        """`messages` without those fetched before the last rebalance (they come again)."""
        generation = self._generation()
        current = [m for m in messages if m.generation_id in (None, generation)]
        if len(current) != len(messages):
            stale = len(messages) - len(current)
            self.counters["stale"] += stale
            log.info("dropped %d records taken before the last rebalance", stale)
        return current

    def _drop_backlog(self, why: str) -> None:
        self.counters["stale"] += len(self._backlog)
        log.info("dropped a backlog of %d dossier records after %s", len(self._backlog), why)
        self._backlog = []

    def _set_dossiers_paused(self, paused: bool) -> None:
        consumer = self.app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic == DOSSIER_TOPIC]
        for tp in tps:  # not pause_partitions: see the module docstring
            if paused:
                consumer.on_buffer_full(tp)
            else:
                consumer.on_buffer_drop(tp)
        self._paused = paused
        if paused:
            self.counters["paused"] += 1
        log.info(
            "dossier partitions %s (backlog %d)",
            "paused" if paused else "resumed",
            len(self._backlog),
        )

    async def _retry_backlog(self) -> None:
        """Offer deferred dossier records again when no new batch does it."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._catalogue_progress.wait(), RETRY_EVERY_S)
            self._catalogue_progress.clear()
            if self._backlog and not self._dossier_lock.locked():
                async with self._dossier_lock:
                    await self._process_dossiers([])

    def fail(self, exc: BaseException) -> None:
        log.error("worker stopping: a batch failed: %r", exc, exc_info=exc)
        self.fatal = exc
        self.stop()

    def stop(self) -> None:
        if not self._stopping:
            self._stopping = True
            os.kill(os.getpid(), signal.SIGTERM)

    async def _watch_idle(self) -> None:
        assert self.until_idle_s is not None
        _, ends_reader = await self._kafka()
        last_ends: dict[TopicPartition, int] | None = None
        idle_since = time.monotonic()
        while not self._stopping:
            await asyncio.sleep(0.25)
            ends = await ends_reader.fetch(TOPICS)
            positions = await asyncio.to_thread(self.pipeline.positions)
            if ends != last_ends or not caught_up(positions, ends):
                last_ends = ends
                idle_since = time.monotonic()
                continue
            if time.monotonic() - idle_since >= self.until_idle_s:
                log.info("idle for %.1f s with every projection at the log end", self.until_idle_s)
                self.stop()

    # --- running --------------------------------------------------------------------------

    def run(self) -> WorkerResult:
        """Run until stopped (signal, idle, or a fatal batch); return the exit code."""
        from faust.worker import Worker as FaustWorker

        worker = FaustWorker(self.app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
        with contextlib.suppress(SystemExit):  # faust exits by raising SystemExit(0)
            worker.execute_from_commandline()
        if self.fatal is not None:
            return WorkerResult(1, self.counters, self.fatal)
        return WorkerResult(0, self.counters)
