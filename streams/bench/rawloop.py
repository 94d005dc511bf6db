"""Contender (b), the raw loop: the leanest honest hand-written projector on the same stack,
the denominator of every ratio in `onestop bench`.

    python -m streams.bench.rawloop --version N [--batch 5000] [--projections portal,...]

A group-less `AIOKafkaConsumer` with every partition assigned reads `catalogue.events` to the
end offsets taken at start, then `dossier.events` to theirs (the replay's order: dossiers
fold against a caught-up catalogue), in `getmany()` batches. Each record is decoded with
`schemas.codec.AvroCodec` (fastavro `schemaless_reader`, parsed writer schemas cached by id,
then the frozen event dataclass the pure `fold` takes — the same decoding every contender
pays). State lives in memory (`MemoryFold`): per aggregate its last `aggregate_seq` and, per
projection, its folded state. A record at or below the last seq is a duplicate (skipped), one
past it is folded, anything else is a gap (counted, not applied; there is no transition or
reference check, no DLQ, no parking and no snapshot — that is what makes it raw).

Per batch, every aggregate changed is rendered with the views' `render`, and ONE transaction
deletes the old rows of the aggregates written before (by owner column), inserts the new
rows with SQLAlchemy Core `executemany` (`conn.execute(insert(table), rows)`; the column
types bind values exactly as the store stores them) and upserts the positions of version N
in `projection_positions` (generation 0: no claims). The decoding, folding and writing of a
batch runs in a worker thread, so the consumer prefetches the next batch meanwhile.

Tables are version N's own (`ProjectionStore(engine, p, N).create()`, the real DDL) on an
engine made with `durable=False`, as a replay's. A version that already has positions is
refused. Progress goes to stderr; the result is one JSON line on stdout:
`{"events", "seconds" (first fetch → last commit), "batches", "duplicates", "gaps",
"version"}`. On failure: `error: ...` on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as KafkaTP
from sqlalchemy import Connection, Engine, insert
from sqlalchemy.dialects import postgresql, sqlite

from projections.batch import RENDERERS, aggregate_key
from projections.fold import fold
from projections.policy import Policy, build_policies
from projections.records import PROJECTIONS, AggregateKey, Row, SourceRecord, TopicPartition
from projections.state import AggregateState
from projections.store import ProjectionStore, make_engine
from projections.store.meta import POSITIONS
from projections.store.positions import positions as stored_positions
from projections.store.snapshots import chunks
from projections.store.tables import VersionTables
from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC, Event
from streams.compose import open_codec
from streams.progress import Progress
from streams.settings import Settings, SettingsError

__all__ = [
    "BatchWork", "MemoryFold", "RawLoopError", "main", "parse_projections", "run_raw_loop",
    "write_batch",
]

TOPICS = (CATALOGUE_TOPIC, DOSSIER_TOPIC)


class RawLoopError(Exception):
    """The raw loop cannot run or go on; the message says what and where."""


# --- the pure part ------------------------------------------------------------------------


@dataclass
class BatchWork:
    """What one batch writes: per projection and view table, the owners whose old rows go
    and the new rows; the next offset per partition; and what was skipped."""

    deletes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    inserts: dict[str, dict[str, list[Row]]] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0


class MemoryFold:
    """Every aggregate's last seq and per-projection state, in memory, across batches."""

    def __init__(self, policies: Mapping[str, Policy]) -> None:
        unknown = sorted(set(policies) - set(RENDERERS))
        if unknown:
            raise ValueError(f"unknown projections {unknown}; one of {', '.join(RENDERERS)}")
        self.policies = dict(policies)
        self.last: dict[AggregateKey, int] = {}
        self.states: dict[str, dict[AggregateKey, AggregateState]] = {p: {} for p in policies}

    def apply(self, records: Sequence[tuple[SourceRecord, Event]]) -> BatchWork:
        """Fold `records` in order and render every aggregate they changed."""
        work = BatchWork()
        existed: dict[AggregateKey, bool] = {}  # changed aggregate -> had rows before
        last, policies, states = self.last, self.policies, self.states
        for source, event in records:
            work.positions[(source.topic, source.partition)] = source.offset + 1
            key = aggregate_key(event)
            seq, previous = event.aggregate_seq, last.get(key, 0)
            if seq <= previous:
                work.duplicates += 1
                continue
            if seq != previous + 1:
                work.gaps += 1
                continue
            for name, policy in policies.items():
                by_key = states[name]
                by_key[key] = fold(by_key.get(key), event, policy)
            last[key] = seq
            work.applied += 1
            if key not in existed:
                existed[key] = previous > 0
        for name, by_key in states.items():
            render = RENDERERS[name]
            deletes: dict[str, list[str]] = defaultdict(list)
            inserts: dict[str, list[Row]] = defaultdict(list)
            for key, had_rows in existed.items():
                for table, rows in render(by_key[key]).items():
                    if had_rows:
                        deletes[table].append(key[1])
                    inserts[table].extend(rows)
            work.deletes[name] = dict(deletes)
            work.inserts[name] = dict(inserts)
        return work


# --- the database -------------------------------------------------------------------------


def write_batch(
    conn: Connection, tables: Mapping[str, VersionTables], version: int, work: BatchWork
) -> None:
    """Write `work` in the caller's transaction: delete old rows by owner, insert the new
    ones (Core executemany), upsert the positions of every projection in `tables`."""
    for name, version_tables in tables.items():
        deletes, inserts = work.deletes.get(name, {}), work.inserts.get(name, {})
        for table_name in sorted(set(deletes) | set(inserts)):
            table = version_tables.views[table_name]
            owner = table.c[version_tables.specs[table_name].owner]
            for chunk in chunks(deletes.get(table_name, [])):
                conn.execute(table.delete().where(owner.in_(chunk)))
            rows = inserts.get(table_name)
            if rows:
                conn.execute(insert(table), rows)
    rows_ = [
        {"projection": name, "version": version, "topic": topic, "partition": partition,
         "next_offset": offset, "generation": 0}
        for name in tables
        for (topic, partition), offset in sorted(work.positions.items())
    ]
    if rows_:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = dialect_insert(POSITIONS)
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.name for c in POSITIONS.primary_key],
            set_={"next_offset": stmt.excluded.next_offset},
        )
        conn.execute(stmt, rows_)


def _create(engine: Engine, projections: Sequence[str], version: int) -> dict[str, VersionTables]:
    stores = [ProjectionStore(engine, p, version) for p in projections]
    for store in stores:
        store.create()
    with engine.connect() as conn:
        for store in stores:
            if stored_positions(conn, store.projection, version):
                raise RawLoopError(
                    f"{store.projection} v{version} already has positions in "
                    f"{engine.url.render_as_string(hide_password=True)}; use a fresh version "
                    f"(or drop it: onestop replay --drop-version {version} {store.projection})")
    return {store.projection: store.tables for store in stores}


# --- the loop -----------------------------------------------------------------------------


@dataclass
class _Loop:
    engine: Engine
    codec: AvroCodec
    tables: dict[str, VersionTables]
    version: int
    memory: MemoryFold
    events: int = 0
    batches: int = 0
    duplicates: int = 0
    gaps: int = 0

    def batch(self, records: list[SourceRecord]) -> None:
        """Decode, fold, render and write one batch (in a worker thread)."""
        decoded: list[tuple[SourceRecord, Event]] = []
        for record in records:
            try:
                decoded.append((record, self.codec.decode(record.value)))
            except DecodeError as exc:
                raise RawLoopError(
                    f"{record.topic}:{record.partition} offset {record.offset} cannot be "
                    f"decoded ({exc.error_class}): {exc}") from exc
        work = self.memory.apply(decoded)
        with self.engine.begin() as conn:
            write_batch(conn, self.tables, self.version, work)
        self.events += len(records)
        self.batches += 1
        self.duplicates += work.duplicates
        self.gaps += work.gaps


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[KafkaTP]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
    if not found:
        raise RawLoopError(f"topic {topic} does not exist; run `onestop topics ensure`")
    return [KafkaTP(topic, p) for p in sorted(found)]


async def _consume(loop: _Loop, bootstrap: str, max_records: int) -> float:
    """Read both topics (catalogue first) to the ends taken at start; the seconds from the
    first fetch to the last commit."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        by_topic = {topic: await _partitions(consumer, topic) for topic in TOPICS}
        every = [tp for tps in by_topic.values() for tp in tps]
        consumer.assign(every)
        consumer.pause(*every)
        ends = await consumer.end_offsets(every)
        await consumer.seek_to_beginning(*every)
        progress = Progress("raw")
        total = sum(ends.values())
        started = time.perf_counter()
        for topic in TOPICS:
            pending = {tp for tp in by_topic[topic] if ends[tp] > 0}
            consumer.resume(*pending)
            while pending:
                batches = await consumer.getmany(
                    *pending, timeout_ms=500, max_records=max_records)
                records = [
                    SourceRecord(m.topic, m.partition, m.offset, m.key, m.value or b"",
                                 m.timestamp)
                    for tp, messages in batches.items()
                    for m in messages if m.offset < ends[tp]
                ]
                if records:
                    await asyncio.to_thread(loop.batch, records)
                    progress.update(topic, loop.events, total)
                done = {tp for tp in pending if await consumer.position(tp) >= ends[tp]}
                if done:
                    consumer.pause(*done)
                    pending -= done
        seconds = time.perf_counter() - started
        progress.finish(f"raw loop: {loop.events:,} events in {seconds:.1f} s")
        return seconds
    finally:
        await consumer.stop()


async def run_raw_loop(
    settings: Settings, version: int, *, batch: int = 5000,
    projections: Sequence[str] = PROJECTIONS,
) -> dict[str, Any]:
    """Project every record of both topics into version `version` of `projections`;
    the result line's fields (see the module docstring)."""
    bootstrap = settings.require_kafka()
    all_policies = build_policies(settings.pii_hmac_key.encode("utf-8"))
    policies = {p: all_policies[p] for p in projections}
    engine = make_engine(settings.database_url, durable=False)
    codec = open_codec(settings)
    try:
        tables = await asyncio.to_thread(_create, engine, projections, version)
        loop = _Loop(engine, codec, tables, version, MemoryFold(policies))
        seconds = await _consume(loop, bootstrap, batch)
    finally:
        codec.registry.close()
        engine.dispose()
    return {"events": loop.events, "seconds": round(seconds, 3), "batches": loop.batches,
            "duplicates": loop.duplicates, "gaps": loop.gaps, "version": version}


# --- the command --------------------------------------------------------------------------


def parse_projections(text: str) -> list[str]:
    """`portal,stats` → ["portal", "stats"]; ValueError names an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown or not names:
        raise ValueError(f"--projections {text!r}: give some of {', '.join(PROJECTIONS)}")
    return list(dict.fromkeys(names))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.rawloop",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--version", type=int, required=True,
                        help="projection version to build (must be new)")
    parser.add_argument("--batch", type=int, default=5000, help="max records per getmany()")
    parser.add_argument("--projections", default=",".join(PROJECTIONS),
                        help="comma-separated projections (default: all three)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.version < 1 or args.batch < 1:
            raise ValueError("--version and --batch must be at least 1")
        projections = parse_projections(args.projections)
        result = asyncio.run(run_raw_loop(Settings.from_env(), args.version, batch=args.batch,
                                          projections=projections))
    except Exception as exc:  # the contract: one line on stderr, exit 1
        if not isinstance(exc, (RawLoopError, SettingsError, ValueError)):
            import traceback

            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: raw loop: {message}", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
