"""`onestop worker`: the faust agents that project both topics into the three projections.

Two agents, one per topic, each with concurrency 1, take batches of records
(`stream.take_events`) and hand them to the shared `Pipeline`.

Cross-topic order (DESIGN.md, principle 8): a dossier record that refers to a procedure or
agency the catalogue does not hold yet is *deferred* while the catalogue topic has not been
consumed up to its end. The dossier agent therefore applies dossier records only once the
catalogue's stored positions have reached the catalogue topic's end (checked per batch).
It never blocks while waiting (that would stall faust's shared fetcher once the dossier
buffer fills, and with it the catalogue): it holds the records in a backlog, in arrival
order, applied with the next batch or by a retry task once the catalogue has caught up.
While the backlog is large, the dossier partitions are paused, so memory stays bounded.

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
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as KafkaTP

from projections.records import SourceRecord, TopicPartition
from projections.store import FencedError
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.app import create_app
from streams.dlq import DlqSender
from streams.pipeline import Pipeline

__all__ = ["EndOffsets", "Worker", "WorkerResult"]

log = logging.getLogger("onestop.worker")

TOPICS = (CATALOGUE_TOPIC, DOSSIER_TOPIC)
BACKLOG_PAUSE = 20_000
"""Deferred dossier records held before the dossier partitions are paused."""


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
        batch_within_s: float = 0.2,
        until_idle_s: float | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.batch_within_s = batch_within_s
        self.until_idle_s = until_idle_s
        self.counters: Counter[str] = Counter()
        self.fatal: BaseException | None = None
        self._stopping = False
        self._dlq: DlqSender | None = None
        self._producer: AIOKafkaProducer | None = None
        self._ends: EndOffsets | None = None
        self._backlog: list[SourceRecord] = []
        self._dossier_lock = asyncio.Lock()
        self._kafka_lock = asyncio.Lock()
        self._paused = False
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
        self._backlog = []  # the new assignment re-reads from the stored positions
        log.info("claimed %d partitions; seeking to stored positions", len(positions))
        return positions

    def _define_agents(self) -> None:
        app = self.app
        catalogue = app.topic(CATALOGUE_TOPIC)
        dossiers = app.topic(DOSSIER_TOPIC)

        @app.agent(catalogue, concurrency=1, name="onestop.project_catalogue")
        async def project_catalogue(stream: Any) -> None:
            async for events in stream.take_events(self.batch_size, within=self.batch_within_s):
                await self.handle(events, dossier=False)

        @app.agent(dossiers, concurrency=1, name="onestop.project_dossiers")
        async def project_dossiers(stream: Any) -> None:
            async for events in stream.take_events(self.batch_size, within=self.batch_within_s):
                await self.handle(events, dossier=True)

        app.task(self._retry_backlog)
        if self.until_idle_s is not None:
            app.task(self._watch_idle)

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
        records = [
            SourceRecord(
                m.topic, m.partition, m.offset, m.key, m.value or b"", int(m.timestamp * 1000)
            )
            for m in (e.message for e in events)
        ]
        if dossier:
            async with self._dossier_lock:
                await self._process_dossiers(records)
        else:
            await self._process(records, catalogue_caught_up=True)

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
        self._backlog.extend(records)
        if not self._backlog:
            return
        _, ends = await self._kafka()
        target = await ends.fetch([CATALOGUE_TOPIC])
        positions = await asyncio.to_thread(self.pipeline.positions)
        if not caught_up(positions, target):
            self.counters["deferred.waits"] += 1
            if len(self._backlog) > BACKLOG_PAUSE and not self._paused:
                self._set_dossiers_paused(True)
            return
        while self._backlog:
            chunk, rest = self._backlog[: self.batch_size], self._backlog[self.batch_size :]
            if not await self._process(chunk, catalogue_caught_up=True):
                return
            self._backlog = rest
        if self._paused:
            self._set_dossiers_paused(False)

    def _set_dossiers_paused(self, paused: bool) -> None:
        consumer = self.app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic == DOSSIER_TOPIC]
        if paused:
            consumer.pause_partitions(tps)
        else:
            consumer.resume_partitions(tps)
        self._paused = paused
        log.info(
            "dossier partitions %s (backlog %d)",
            "paused" if paused else "resumed",
            len(self._backlog),
        )

    async def _retry_backlog(self) -> None:
        """Offer deferred dossier records again when no new batch does it."""
        while not self._stopping:
            await asyncio.sleep(0.5)
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
