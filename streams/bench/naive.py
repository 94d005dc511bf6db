"""Contender (e), the naive projector: what a first attempt with the ORM looks like — one
`Session` and one commit per event, for all three projections — with the pipeline's
semantics, so its checksums equal everyone else's.

    python -m streams.bench.naive prepare --version N     # not timed
    python -m streams.bench.naive run --version N --limit L

`prepare` creates version N of the three projections and projects the whole catalogue
topic into it with the real `streams.pipeline.Pipeline` (pinned to version N, no DLQ); its
claim leaves every dossier partition at position 0. `run` then consumes, from the stored
positions, the first `ceil(L / dossier partitions)` records of each dossier partition
(`sample_stops`: a per-partition prefix, a consistent point-in-time cut) and projects them
one by one (`NaiveProjector.project`): in one ORM session and transaction per event, for
each projection, it loads the position row, the aggregate's snapshot and the snapshots of
the catalogue aggregates the event refers to (`session.get`), calls the pure
`projections.batch.apply_batch` on a batch of one, then deletes the aggregate's old view
rows (ORM `delete`), adds the new rows as mapped objects, merges the snapshot and any
parked record, moves the position, and commits. Tables are mapped with
`registry.map_imperatively` (`streams.bench.orm`); the engine is the default one
(`make_engine(url)`: a naive projector tunes nothing).

Each command prints one JSON line on stdout — `prepare`: `{"events", "seconds", "version"}`;
`run`: `{"events", "seconds", "cpu_seconds" (this process, same span), "stops":
{"dossier.events:0": next offset, ...}, "version"}` —
and on failure `error: ...` on stderr, exit status 1. `parse_stops` reads the stops back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, delete, inspect
from sqlalchemy.orm import Session, registry

from projections.batch import apply_batch, snapshot_keys
from projections.policy import Policy, build_policies
from projections.records import (
    PROJECTIONS,
    AggregateKey,
    BatchResult,
    Decoded,
    Snapshot,
    SourceRecord,
    TopicPartition,
)
from projections.reference import catalogue_from_snapshots
from projections.store import ProjectionStore, make_engine
from projections.store.meta import POSITIONS
from projections.store.positions import positions as stored_positions
from schemas.codec import AvroCodec
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.bench.orm import MappedRow, MappedVersion, map_positions, map_version
from streams.compose import open_codec
from streams.pipeline import Pipeline, catalogue_references, decode_records
from streams.replay_log import LogReader
from streams.settings import Settings, SettingsError

__all__ = [
    "NaiveError", "NaiveProjector", "format_stops", "main", "parse_stops", "prepare",
    "run_sample", "sample_stops",
]


class NaiveError(Exception):
    """The naive projector cannot run; the message says what and what to do."""


# --- the sample's stops (pure) ------------------------------------------------------------


def sample_stops(ends: Mapping[TopicPartition, int], limit: int) -> dict[TopicPartition, int]:
    """Where a sample of about `limit` records stops on each partition: the first
    `ceil(limit / len(ends))` offsets of every partition, never beyond its end."""
    if limit < 1:
        raise ValueError(f"the sample limit must be at least 1, got {limit}")
    if not ends:
        return {}
    per_partition = -(-limit // len(ends))
    return {tp: min(per_partition, max(0, end)) for tp, end in sorted(ends.items())}


def format_stops(stops: Mapping[TopicPartition, int]) -> dict[str, int]:
    """{("dossier.events", 0): 25} → {"dossier.events:0": 25} (the JSON form)."""
    return {f"{topic}:{partition}": offset for (topic, partition), offset in sorted(stops.items())}


def parse_stops(json_obj: Mapping[str, Any]) -> dict[TopicPartition, int]:
    """The stops of a `run` result line (or its `"stops"` object alone), by partition."""
    raw = json_obj.get("stops", json_obj)
    if not isinstance(raw, Mapping):
        raise ValueError(f"stops must be an object of \"topic:partition\": offset, got {raw!r}")
    stops: dict[TopicPartition, int] = {}
    for key, offset in raw.items():
        topic, _, partition = str(key).rpartition(":")
        if not topic or not partition.isdigit():
            raise ValueError(f"stop {key!r} is not \"topic:partition\" (e.g. dossier.events:0)")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"stop {key!r}: offset {offset!r} is not a non-negative integer")
        stops[(topic, int(partition))] = offset
    return stops


# --- the projector ------------------------------------------------------------------------


class NaiveProjector:
    """Projects records one at a time through the ORM (see the module docstring)."""

    def __init__(self, engine: Engine, codec: AvroCodec, version: int,
                 policies: Mapping[str, Policy], *, max_record_bytes: int) -> None:
        self.engine = engine
        self.codec = codec
        self.version = version
        self.policies = dict(policies)
        self.max_record_bytes = max_record_bytes
        reg = registry()
        self.mapped = {p: map_version(reg, ProjectionStore(engine, p, version).tables)
                       for p in self.policies}
        self.position = map_positions(reg)
        self.counters: Counter[str] = Counter()

    def start_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The lowest stored position of every partition among the projections."""
        start: dict[TopicPartition, int] = {}
        with Session(self.engine) as session:
            for tp in partitions:
                offsets = []
                for name in self.mapped:
                    row = session.get(self.position, (name, self.version, *tp))
                    if row is None:
                        raise NaiveError(
                            f"{name} v{self.version} has no position for {tp[0]}:{tp[1]}: run "
                            f"`python -m streams.bench.naive prepare --version {self.version}`"
                            " first")
                    offsets.append(row.next_offset)
                start[tp] = min(offsets)
        return start

    def project(self, record: SourceRecord) -> None:
        """Decode `record` and apply it to every projection: one session, one commit."""
        [decoded] = decode_records(self.codec, [record])
        with Session(self.engine) as session, session.begin():
            for name, mapped in self.mapped.items():
                self._project(session, name, mapped, decoded)

    def _project(self, session: Session, name: str, mapped: MappedVersion,
                 decoded: Decoded) -> None:
        source = decoded.source
        tp = (source.topic, source.partition)
        position = session.get(self.position, (name, self.version, *tp))
        if position is None:
            raise NaiveError(f"{name} v{self.version} has no position for {tp[0]}:{tp[1]}")
        if source.offset < position.next_offset:
            return  # consumed already
        refs = catalogue_references([decoded.event]) if decoded.event is not None else set()
        snapshots = self._snapshots(session, mapped, snapshot_keys([decoded]))
        catalogue = catalogue_from_snapshots(self._snapshots(session, mapped, refs))
        result = apply_batch([decoded], snapshots, catalogue, name, self.policies[name],
                             max_record_bytes=self.max_record_bytes)
        self._write(session, mapped, result)
        position.next_offset = result.positions[tp]
        self.counters.update({f"{name}.{k}": v for k, v in result.counters.items()})

    @staticmethod
    def _snapshots(session: Session, mapped: MappedVersion,
                   keys: Iterable[AggregateKey]) -> dict[AggregateKey, Snapshot]:
        found: dict[AggregateKey, Snapshot] = {}
        for key in sorted(keys):
            row = session.get(mapped.snapshot, key)
            if row is not None:
                found[key] = Snapshot(key, row.last_seq, row.parked_from_seq, row.state_json)
        return found

    @staticmethod
    def _write(session: Session, mapped: MappedVersion, result: BatchResult) -> None:
        for (_, aggregate_id), rendered in result.rows.items():
            for table, rows in rendered.items():
                cls: type[MappedRow] = mapped.views[table]
                owner = getattr(cls, mapped.owners[table])
                session.execute(delete(cls).where(owner == aggregate_id))
                session.add_all([cls(**row) for row in rows])
        for snap in result.snapshots.values():
            session.merge(mapped.snapshot(
                topic=snap.key[0], aggregate_id=snap.key[1], last_seq=snap.last_seq,
                parked_from_seq=snap.parked_from_seq, state_json=snap.state_json))
        for parked in result.parked:
            src = parked.source
            session.merge(mapped.parked(
                source_topic=src.topic, source_partition=src.partition, source_offset=src.offset,
                record_key=src.key, record_value=src.value, timestamp_ms=src.timestamp_ms,
                aggregate_topic=parked.aggregate[0], aggregate_id=parked.aggregate[1],
                aggregate_seq=parked.aggregate_seq))


# --- the commands -------------------------------------------------------------------------


def _policies(settings: Settings) -> dict[str, Policy]:
    return build_policies(settings.pii_hmac_key.encode("utf-8"))


async def prepare(settings: Settings, version: int) -> dict[str, Any]:
    """Create version `version` and project the whole catalogue into it (the pipeline)."""
    bootstrap = settings.require_kafka()
    engine = make_engine(settings.database_url)
    codec = open_codec(settings)
    try:
        stores = {p: ProjectionStore(engine, p, version) for p in PROJECTIONS}
        for store in stores.values():
            await asyncio.to_thread(store.create)
        with engine.connect() as conn:
            taken = [p for p in PROJECTIONS if stored_positions(conn, p, version)]
        if taken:
            raise NaiveError(f"version {version} of {', '.join(taken)} already has positions; "
                             "prepare a fresh version")
        pipeline = Pipeline(engine, codec, stores, _policies(settings),
                            max_record_bytes=settings.max_record_bytes, follow_live=False)
        events = 0

        async def handle(records: list[SourceRecord]) -> None:
            nonlocal events
            await pipeline.process(records, catalogue_caught_up=True, dlq=None)
            events += len(records)

        async with LogReader(bootstrap) as reader:
            await asyncio.to_thread(pipeline.claim, reader.partitions)
            ends = await reader.end_offsets(reader.of(CATALOGUE_TOPIC))
            started = time.perf_counter()
            await reader.read({}, ends, handle)
            seconds = time.perf_counter() - started
    finally:
        codec.registry.close()
        engine.dispose()
    print(f"naive prepare: {events:,} catalogue events into v{version} in {seconds:.1f} s",
          file=sys.stderr)
    return {"events": events, "seconds": round(seconds, 3), "version": version}


async def run_sample(settings: Settings, version: int, limit: int) -> dict[str, Any]:
    """Project the sample of the dossier topic (see `sample_stops`) one event at a time."""
    bootstrap = settings.require_kafka()
    engine = make_engine(settings.database_url)
    codec = open_codec(settings)
    try:
        await asyncio.to_thread(_require_prepared, engine, version)
        projector = NaiveProjector(engine, codec, version, _policies(settings),
                                   max_record_bytes=settings.max_record_bytes)
        events = 0

        def project_all(records: Sequence[SourceRecord]) -> None:
            nonlocal events
            for record in records:
                projector.project(record)
                events += 1

        async def handle(records: list[SourceRecord]) -> None:
            await asyncio.to_thread(project_all, records)

        async with LogReader(bootstrap) as reader:
            partitions = reader.of(DOSSIER_TOPIC)
            stops = sample_stops(await reader.end_offsets(partitions), limit)
            start = await asyncio.to_thread(projector.start_offsets, partitions)
            started, cpu_started = time.perf_counter(), time.process_time()
            await reader.read(start, stops, handle)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
    finally:
        codec.registry.close()
        engine.dispose()
    rejected = {k: v for k, v in projector.counters.items() if ".rejected" in k}
    print(f"naive run: {events:,} dossier events in {seconds:.1f} s"
          + (f"; rejected {rejected}" if rejected else ""), file=sys.stderr)
    return {"events": events, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu_seconds, 3), "stops": format_stops(stops),
            "version": version}


def _require_prepared(engine: Engine, version: int) -> None:
    with engine.connect() as conn:
        ready = inspect(conn).has_table(POSITIONS.name) and all(
            stored_positions(conn, p, version) for p in PROJECTIONS)
    if not ready:
        raise NaiveError(f"version {version} is not prepared in "
                         f"{engine.url.render_as_string(hide_password=True)}: run "
                         f"`python -m streams.bench.naive prepare --version {version}` first")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.naive",
                                     description="The naive ORM projector (bench contender e).")
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="create version N and project the catalogue")
    prep.add_argument("--version", type=int, required=True)
    run = commands.add_parser("run", help="project a sample of the dossiers, one by one")
    run.add_argument("--version", type=int, required=True)
    run.add_argument("--limit", type=int, required=True, help="about how many dossier events")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.version < 1:
            raise ValueError(f"--version must be at least 1, got {args.version}")
        settings = Settings.from_env()
        if args.command == "prepare":
            result = asyncio.run(prepare(settings, args.version))
        else:
            result = asyncio.run(run_sample(settings, args.version, args.limit))
    except Exception as exc:  # the contract: one line on stderr, exit 1
        if not isinstance(exc, (NaiveError, SettingsError, ValueError)):
            import traceback

            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: naive {args.command}: {message}", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
