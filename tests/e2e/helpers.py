"""Shared helpers of the projection end-to-end tests (real Kafka, Apicurio, PostgreSQL).

- `Cli`: runs the `onestop` console script as a subprocess with an environment built from
  `services.env()`, the test's own database, consumer group, PII key and home; nothing of
  the caller's `ONESTOP_*` leaks in.
- `exclusive_topics`: the contract topics have fixed names and the broker is shared, so a
  test takes a cross-process file lock (one per broker) and deletes and recreates
  `catalogue.events`, `dossier.events` and their DLQs, waiting until the deletion is
  complete. Every test then starts from empty topics.
- `read_topic` / `read_events` / `read_dlq`: read everything a topic holds back with
  aiokafka, up to the end offsets taken at the start (tracked positions, no sleeps).
- `reference_dumps`: `projections.reference.reference_fold` of every projection over the
  records read back (catalogue first), with the same policies as the worker.
- `store_dumps`, `stored_positions`, `snapshot_of`, `parked_of`: read the projection store.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from aiokafka.structs import TopicPartition as KafkaTP
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from projections.policy import build_policies
from projections.records import PROJECTIONS, AggregateKey, Decoded, ParkedRecord, Snapshot
from projections.reference import CanonicalDump, reference_fold
from projections.store import make_engine
from projections.store.meta import POSITIONS
from schemas.codec import AvroCodec
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from schemas.registry import HttpSchemaRegistry
from streams.compose import live_stores
from streams.dlq import DlqRecord, dlq_topic
from streams.pipeline import decode_records
from streams.settings import Settings
from streams.topics import contract_topics, reset_topics

if TYPE_CHECKING:
    from streams.infra import Services

__all__ = [
    "HMAC_KEY",
    "ONESTOP",
    "PROJECT_ROOT",
    "Background",
    "Cli",
    "decoded_topics",
    "exclusive_topics",
    "ok",
    "parked_of",
    "read_dlq",
    "read_rows",
    "read_topic",
    "reference_dumps",
    "snapshot_of",
    "snapshots_of",
    "store_dumps",
    "stored_positions",
    "tail",
    "topic_ends",
    "wait_until",
    "worker_counters",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ONESTOP = str(PROJECT_ROOT / ".venv" / "bin" / "onestop")
HMAC_KEY = "e2e-only-pii-hmac-key-0123456789abcdef"
LOCK_DIR = PROJECT_ROOT / ".onestop"

# --- running the CLI ----------------------------------------------------------------------


@dataclass
class Cli:
    """`onestop ...` as a subprocess, configured for one test."""

    services: Services
    database_url: str
    home: Path
    group_id: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:12]}")
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")}
        env.update(self.services.env())
        env.update(
            ONESTOP_HOME=str(self.home),
            ONESTOP_DATABASE_URL=self.database_url,
            ONESTOP_GROUP_ID=self.group_id,
            ONESTOP_PII_HMAC_KEY=HMAC_KEY,
        )
        env.update(self.extra)
        env.update(overrides)
        return env

    def run(
        self, *args: str, timeout: float = 300, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run to completion; the caller asserts on `returncode`, `stdout`, `stderr`."""
        return subprocess.run(
            [ONESTOP, *args],
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
        )

    def start(self, *args: str, log: Path, env: Mapping[str, str] | None = None) -> Background:
        """Start in the background, stdout and stderr appended to `log`."""
        handle = log.open("ab")
        try:
            process = subprocess.Popen(
                [ONESTOP, *args],
                env=self.env(**(env or {})),
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=self.home,
            )
        finally:
            handle.close()
        return Background(process)


@dataclass
class Background:
    """A started `onestop` process; `kill()` sends SIGKILL to it (by its own pid only)."""

    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int:
        """SIGKILL, then reap; returns the exit status (-9)."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert exit 0, showing the output otherwise."""
    assert result.returncode == 0, (
        f"{result.args!r} exited {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )
    return result


# --- topics -------------------------------------------------------------------------------


def _contract_topic_names() -> list[str]:
    return [spec.name for spec in contract_topics(Settings.from_env({}))]


async def _reset_topics(bootstrap: str, timeout_s: float = 90) -> None:
    await reset_topics(bootstrap, Settings.from_env({}), timeout_s=timeout_s)
    ends = await topic_ends_async(bootstrap, _contract_topic_names())
    assert not any(ends.values()), f"fresh topics are not empty: {ends}"


@contextlib.contextmanager
def exclusive_topics(services: Services) -> Iterator[None]:
    """Hold this broker's topics for one test: lock, then delete and recreate them empty."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    port = services.kafka_bootstrap.rsplit(":", 1)[-1]
    with (LOCK_DIR / f"e2e-topics-{port}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            asyncio.run(_reset_topics(services.kafka_bootstrap))
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- reading topics back ------------------------------------------------------------------


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[KafkaTP]:
    async with asyncio.timeout(60):
        while not consumer.partitions_for_topic(topic):
            await consumer._client.force_metadata_update()
            if not consumer.partitions_for_topic(topic):
                await asyncio.sleep(0.2)
    return [KafkaTP(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def topic_ends_async(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [tp for t in topics for tp in await _partitions(consumer, t)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


def topic_ends(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """The log-end offset of every partition of `topics`."""
    return asyncio.run(topic_ends_async(bootstrap, topics))


async def _read_topic(bootstrap: str, topic: str, timeout_s: float) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[ConsumerRecord] = []
    try:
        tps = await _partitions(consumer, topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        async with asyncio.timeout(timeout_s):
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=500, max_records=20_000)
                for records in batches.values():
                    out.extend(records)
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    out.sort(key=lambda m: (m.partition, m.offset))
    return [m for m in out if m.offset < ends[KafkaTP(topic, m.partition)]]


def read_topic(bootstrap: str, topic: str, timeout_s: float = 120) -> list[ConsumerRecord]:
    """Every record of `topic` up to its end offsets now, by partition and offset."""
    return asyncio.run(_read_topic(bootstrap, topic, timeout_s))


def decoded_topics(services: Services, topics: Sequence[str] = (CATALOGUE_TOPIC, DOSSIER_TOPIC),
                   ) -> list[Decoded]:
    """The records of `topics` read back and decoded as the worker decodes them."""
    from projections.records import SourceRecord

    sources = [
        SourceRecord(m.topic, m.partition, m.offset, m.key, m.value or b"", m.timestamp)
        for topic in topics
        for m in read_topic(services.kafka_bootstrap, topic)
    ]
    with HttpSchemaRegistry(services.registry_url) as registry:
        codec = AvroCodec(registry, auto_register=False)
        asyncio.run(codec.prefetch(s.value for s in sources))
        return decode_records(codec, sources)


def read_dlq(bootstrap: str, origin_topic: str) -> list[DlqRecord]:
    """The DLQ of `origin_topic`, headers decoded (a missing header is an assertion error)."""
    out = []
    for m in read_topic(bootstrap, dlq_topic(origin_topic)):
        headers: dict[str, bytes] = {}
        for name, value in m.headers:
            assert name not in headers, f"DLQ record {m.offset}: header {name} repeated"
            headers[name] = value
        missing = {"error.class", "error.reason", "origin.topic", "origin.partition",
                   "origin.offset"} - set(headers)
        assert not missing, f"DLQ record {m.offset} lacks headers {sorted(missing)}"
        out.append(
            DlqRecord(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                key=m.key,
                value=m.value or b"",
                error_class=headers["error.class"].decode(),
                reason=headers["error.reason"].decode(),
                origin_topic=headers["origin.topic"].decode(),
                origin_partition=int(headers["origin.partition"]),
                origin_offset=int(headers["origin.offset"]),
            )
        )
    return out


# --- reference and store ------------------------------------------------------------------


def reference_dumps(records: Sequence[Decoded]) -> dict[str, CanonicalDump]:
    """Each projection's reference fold over `records`, with the worker's policies."""
    policies = build_policies(HMAC_KEY.encode("utf-8"))
    return {p: reference_fold(records, p, policies[p]) for p in PROJECTIONS}


@contextlib.contextmanager
def store_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def store_dumps(database_url: str) -> dict[str, CanonicalDump]:
    """Each live projection's canonical dump, read from the store."""
    with store_engine(database_url) as engine:
        stores = live_stores(engine)
        with engine.connect() as conn:
            return {p: stores[p].dump(conn) for p in PROJECTIONS}


def assert_stores_equal_the_reference_fold(cli: Cli, services: Services) -> None:
    """Every live projection table equals the reference fold of both topics (an uninterrupted
    run), and nothing went to either DLQ."""
    expected = reference_dumps(decoded_topics(services))
    stored = store_dumps(cli.database_url)
    for projection in PROJECTIONS:
        for table, rows in expected[projection].items():
            assert stored[projection][table] == rows, f"{projection}.{table} differs"
    assert read_dlq(services.kafka_bootstrap, DOSSIER_TOPIC) == []
    assert read_dlq(services.kafka_bootstrap, CATALOGUE_TOPIC) == []


def stored_positions(engine: Engine) -> dict[str, dict[tuple[str, int], int]]:
    """`projection_positions` as {projection: {(topic, partition): next_offset}} — read
    only (no tables created), empty while the worker has not created them yet."""
    out: dict[str, dict[tuple[str, int], int]] = {}
    P = POSITIONS.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(P.projection, P.topic, P.partition, P.next_offset)).all()
    except DBAPIError:
        return out
    for projection, topic, partition, offset in rows:
        out.setdefault(projection, {})[(topic, partition)] = offset
    return out


def snapshot_of(database_url: str, key: AggregateKey) -> dict[str, Snapshot | None]:
    """Each projection's snapshot of aggregate `key` (None: never seen)."""
    with store_engine(database_url) as engine:
        stores = live_stores(engine)
        with engine.connect() as conn:
            return {p: stores[p].load_snapshots(conn, [key]).get(key) for p in PROJECTIONS}


def snapshots_of(
    database_url: str, keys: Sequence[AggregateKey]
) -> dict[str, dict[AggregateKey, Snapshot]]:
    """Each projection's stored snapshots among `keys` (a key not there: never seen)."""
    with store_engine(database_url) as engine:
        stores = live_stores(engine)
        with engine.connect() as conn:
            return {p: stores[p].load_snapshots(conn, keys) for p in PROJECTIONS}


def parked_of(database_url: str, key: AggregateKey) -> dict[str, list[ParkedRecord]]:
    """Each projection's parked records of aggregate `key`, in `aggregate_seq` order."""
    with store_engine(database_url) as engine:
        stores = live_stores(engine)
        with engine.connect() as conn:
            return {p: stores[p].parked(conn, key) for p in PROJECTIONS}


def read_rows(database_url: str, projection: str, table: str) -> list[dict[str, Any]]:
    with store_engine(database_url) as engine:
        store = live_stores(engine)[projection]
        with engine.connect() as conn:
            return store.read_rows(conn, table)


def wait_until(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    *,
    detail: Callable[[], str] = lambda: "",
    poll_s: float = 0.1,
) -> None:
    """Poll `predicate` (tracked state, e.g. stored positions) until true or fail, saying
    `what` was awaited and `detail()` (e.g. a log's tail)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n"
                                 f"{detail()}")
        time.sleep(poll_s)


def tail(path: Path, chars: int = 6000) -> str:
    """The end of a log file, for failure messages."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return f"({path} does not exist)"


def worker_counters(stderr: str) -> dict[str, dict[str, int]]:
    """The per-projection counters `onestop worker` prints when it stops."""
    import re

    out: dict[str, dict[str, int]] = {}
    pattern = re.compile(
        r"^\s+(\w+)\s+records (\d+), applied (\d+), duplicates (\d+), rejected (\d+) "
        r"\(to the DLQ\), parked (\d+)",
        re.M,
    )
    for m in pattern.finditer(stderr):
        names = ("records", "applied", "duplicates", "rejected", "parked")
        out[m.group(1)] = dict(zip(names, map(int, m.groups()[1:]), strict=True))
    return out
