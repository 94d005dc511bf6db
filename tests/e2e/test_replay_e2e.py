"""End to end: `onestop replay` and `onestop verify` against the real broker, registry and
database (SQLite and PostgreSQL).

1. A rebuild runs while `onestop publish` keeps publishing and `onestop worker` runs: the
   swapped-in projection equals the reference fold at the positions it went live with, a
   reader polling the live portal table never fails and never sees its row count or
   positions go down, the old version is dropped, and the worker goes on in the new one.
2. `verify` passes on untouched projections and finds one altered row in each (exit 2).
3. The replay-safety check refuses a topic holding a record whose writer schema today's
   reader cannot resolve, lists the id and subject, and builds nothing; non-Avro records
   are only reported.
4. `--to-time` / `--to-offset` build a version up to there, left beside the live one.
5. `replay all` rebuilds the three projections in one pass while the worker runs and swaps
   them in together; each equals the reference fold at the positions it went live with.

Each test holds the broker's contract topics (`helpers.exclusive_topics`), its own database
and consumer group.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.records import PROJECTIONS, Decoded
from projections.store import ProjectionStore, live_version, make_engine
from projections.store import positions as stored
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC, EVENT_TYPES
from tests.e2e.helpers import (
    Cli,
    decoded_topics,
    ok,
    reference_dumps,
    topic_ends,
    wait_until,
)

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=23, dossiers=500, procedures=60, departments=4, communes=6)
TOPICS = [CATALOGUE_TOPIC, DOSSIER_TOPIC]



@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(database_url, sqlite_begin="DEFERRED")
    yield made
    made.dispose()


def _events() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The province's catalogue events and its dossier events, in publishing order."""
    events = list(generate(SPEC))
    catalogue = [e for e in events if EVENT_TYPES[e["type"]].TOPIC == CATALOGUE_TOPIC]
    dossiers = [e for e in events if EVENT_TYPES[e["type"]].TOPIC == DOSSIER_TOPIC]
    assert events == catalogue + dossiers
    return catalogue, dossiers


def _jsonl(path: Path, events: Sequence[dict[str, Any]]) -> Path:
    write_jsonl(events, path)
    return path


def _snapshot(engine: Engine, projection: str) -> tuple[int, dict[tuple[str, int], int], Any]:
    """(live version, its positions, its canonical dump), read in one transaction."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            version = live_version(conn, projection)
            assert version is not None
            store = ProjectionStore(engine, projection, version)
            return version, stored.positions(conn, projection, version), store.dump(conn)


def _live_positions(engine: Engine) -> dict[str, dict[tuple[str, int], int]]:
    with engine.connect() as conn:
        out = {}
        for projection in PROJECTIONS:
            version = live_version(conn, projection)
            out[projection] = {} if version is None else stored.positions(conn, projection,
                                                                           version)
        return out


def _caught_up(engine: Engine, ends: dict[tuple[str, int], int]) -> bool:
    try:
        positions = _live_positions(engine)
    except DBAPIError:  # the worker has not created its tables yet
        return False
    return all(positions[p].get(tp, 0) >= end for p in PROJECTIONS for tp, end in ends.items())


def _prefix(records: Sequence[Decoded], stops: dict[tuple[str, int], int]) -> list[Decoded]:
    return [d for d in records
            if d.source.offset < stops.get((d.source.topic, d.source.partition), 0)]


def _tables(engine: Engine, prefix: str) -> list[str]:
    with engine.connect() as conn:
        return [t for t in inspect(conn).get_table_names() if t.startswith(prefix)]


class _Publisher(threading.Thread):
    """`onestop publish` of one chunk file after the other, until done or stopped."""

    def __init__(self, cli: Cli, chunks: Sequence[Path]) -> None:
        super().__init__(daemon=True)
        self.cli, self.chunks = cli, chunks
        self.published = 0
        self.first = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        for chunk in self.chunks:
            result = self.cli.run("publish", str(chunk))
            if result.returncode != 0:
                self.error = result.stderr
                break
            self.published += 1
            self.first.set()
        self.first.set()


class _Reader(threading.Thread):
    """Reads the live portal like the API does: live version, then its table and positions."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.stop = threading.Event()
        self.seen: list[tuple[int, int, int]] = []  # (version, dossier rows, sum of positions)
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.engine.connect() as conn:
                    version = live_version(conn, "portal")
                    if version is not None:
                        rows = conn.execute(
                            text(f"SELECT count(*) FROM portal_v{version}_dossiers")).scalar_one()
                        offsets = sum(stored.positions(conn, "portal", version).values())
                        self.seen.append((version, rows, offsets))
            except Exception as exc:  # any failure is what the test looks for
                self.errors.append(repr(exc))
            time.sleep(0.02)


def test_a_rebuild_during_publishing_swaps_in_a_clean_fold_without_readers_going_back(
    cli: Cli, services: Services, engine: Engine, tmp_path: Path
) -> None:
    # given a province partly published and a worker that has projected it
    catalogue, dossiers = _events()
    first = len(dossiers) // 3
    ok(cli.run("publish", str(_jsonl(tmp_path / "first.jsonl", catalogue + dossiers[:first]))))
    rest = dossiers[first:]
    size = max(1, len(rest) // 12)
    chunks = [_jsonl(tmp_path / f"chunk-{i:02d}.jsonl", rest[i:i + size])
              for i in range(0, len(rest), size)]
    worker = cli.start("worker", log=tmp_path / "worker.log")
    reader = _Reader(engine)
    publisher = _Publisher(cli, chunks)
    try:
        ends = topic_ends(services.kafka_bootstrap, TOPICS)
        wait_until(lambda: _caught_up(engine, ends), 180, "the worker to catch up",
                   detail=lambda: (tmp_path / "worker.log").read_text()[-3000:])
        reader.start()
        publisher.start()

        # when the portal is rebuilt while the publisher goes on publishing
        assert publisher.first.wait(120) and publisher.error is None, publisher.error
        before = sum(topic_ends(services.kafka_bootstrap, TOPICS).values())
        replay = ok(cli.run("replay", "portal", "--grace", "2", "--batch", "300"))
        swapped_version, swapped_positions, swapped_dump = _snapshot(engine, "portal")
        during = sum(topic_ends(services.kafka_bootstrap, TOPICS).values()) - before

        # then v2 went live and v1 was dropped after the grace period
        assert "v2 is live; v1 dropped" in replay.stdout, replay.stdout
        assert "every writer schema decodes" in replay.stderr
        assert swapped_version == 2
        assert during > 0, "nothing was published during the rebuild; weak test"
        assert _tables(engine, "portal_v1_") == []

        # and the worker goes on in v2 up to the end of everything published
        publisher.join(300)
        assert publisher.error is None and publisher.published == len(chunks)
        ends = topic_ends(services.kafka_bootstrap, TOPICS)
        assert sum(ends.values()) == len(catalogue) + len(dossiers)
        wait_until(lambda: _caught_up(engine, ends), 180, "the worker to project the rest",
                   detail=lambda: (tmp_path / "worker.log").read_text()[-3000:])
        assert worker.alive(), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        worker.kill()
        reader.stop.set()
        for thread in (publisher, reader):
            if thread.ident is not None:  # started
                thread.join(300)

    # and the reads during the rebuild never failed nor went back in time
    assert reader.errors == []
    assert {v for v, _, _ in reader.seen} == {1, 2}
    for (_, rows_a, offsets_a), (_, rows_b, offsets_b) in zip(reader.seen, reader.seen[1:],
                                                            strict=False):
        assert rows_b >= rows_a and offsets_b >= offsets_a, reader.seen

    # and the swapped-in version was a clean fold of the topics at its positions
    records = decoded_topics(services)
    at_swap = reference_dumps(_prefix(records, swapped_positions))["portal"]
    assert swapped_dump == at_swap
    # and in the end every projection equals the clean fold of everything
    expected = reference_dumps(records)
    for projection in PROJECTIONS:
        assert _snapshot(engine, projection)[2] == expected[projection], projection


def test_all_three_projections_rebuilt_in_one_pass_swap_in_together_while_the_worker_runs(
    cli: Cli, services: Services, engine: Engine, tmp_path: Path
) -> None:
    # given a province partly published and a worker that has projected it
    catalogue, dossiers = _events()
    first = len(dossiers) // 2
    ok(cli.run("publish", str(_jsonl(tmp_path / "first.jsonl", catalogue + dossiers[:first]))))
    rest = dossiers[first:]
    size = max(1, len(rest) // 6)
    chunks = [_jsonl(tmp_path / f"chunk-{i:02d}.jsonl", rest[i:i + size])
              for i in range(0, len(rest), size)]
    worker = cli.start("worker", log=tmp_path / "worker.log")
    publisher = _Publisher(cli, chunks)
    try:
        ends = topic_ends(services.kafka_bootstrap, TOPICS)
        wait_until(lambda: _caught_up(engine, ends), 180, "the worker to catch up",
                   detail=lambda: (tmp_path / "worker.log").read_text()[-3000:])
        publisher.start()

        # when all three are rebuilt at once while the publisher goes on publishing
        assert publisher.first.wait(120) and publisher.error is None, publisher.error
        replay = ok(cli.run("replay", "all", "--grace", "1", "--batch", "400", "--quiet"))
        swapped = {p: _snapshot(engine, p) for p in PROJECTIONS}

        # then each went live as v2, v1 dropped, with one line each and the total
        lines = replay.stdout.strip().splitlines()
        assert len(lines) == 4, replay.stdout
        for projection, line in zip(PROJECTIONS, lines, strict=False):
            assert line.startswith(f"{projection}: replayed ") and \
                line.endswith("v2 is live; v1 dropped"), replay.stdout
        assert lines[3].startswith("total: ") and "into 3 projections in one pass" in lines[3]
        assert {p: v for p, (v, _, _) in swapped.items()} == dict.fromkeys(PROJECTIONS, 2)
        for projection in PROJECTIONS:
            assert _tables(engine, f"{projection}_v1_") == []

        # and the worker goes on in v2 up to the end of everything published
        publisher.join(300)
        assert publisher.error is None and publisher.published == len(chunks)
        ends = topic_ends(services.kafka_bootstrap, TOPICS)
        wait_until(lambda: _caught_up(engine, ends), 180, "the worker to project the rest",
                   detail=lambda: (tmp_path / "worker.log").read_text()[-3000:])
        assert worker.alive(), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        worker.kill()
        if publisher.ident is not None:
            publisher.join(300)

    # and each swapped-in version was a clean fold of the topics at its positions
    records = decoded_topics(services)
    for projection, (_, positions, dump) in swapped.items():
        assert dump == reference_dumps(_prefix(records, positions))[projection], projection
    # and in the end every projection equals the clean fold of everything
    expected = reference_dumps(records)
    for projection in PROJECTIONS:
        version, _, dump = _snapshot(engine, projection)
        assert (version, dump == expected[projection]) == (2, True), projection


_TAMPER = {  # projection: (table, primary key columns, column to alter, new value)
    "portal": ("dossiers", ("dossier_id",), "status", 9),
    "onestop": ("agency_dossiers", ("agency_code", "dossier_id"), "procedure_code", "TAMPERED"),
    "stats": ("dossier_facts", ("dossier_id",), "channel", "TAMPERED"),
}


def _tamper(engine: Engine, projection: str) -> dict[str, Any]:
    """Alter one row of the projection's live table; return its primary key."""
    table, pk, column, value = _TAMPER[projection]
    with engine.begin() as conn:
        version = live_version(conn, projection)
        name = f"{projection}_v{version}_{table}"
        key_row = conn.execute(text(f"SELECT {', '.join(pk)} FROM {name} "
                                    f"WHERE {column} <> :v ORDER BY {pk[-1]} LIMIT 1"),
                               {"v": value}).one()
        key = dict(zip(pk, key_row, strict=True))
        where = " AND ".join(f"{c} = :{c}" for c in pk)
        changed = conn.execute(text(f"UPDATE {name} SET {column} = :value WHERE {where}"),
                               {"value": value, **key})
        assert changed.rowcount == 1
    return key


def test_verify_passes_untouched_projections_and_finds_an_altered_row_in_each(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    # given a province projected by the worker
    catalogue, dossiers = _events()
    ok(cli.run("publish", str(_jsonl(tmp_path / "all.jsonl", catalogue + dossiers[:1500]))))
    ok(cli.run("worker", "--until-idle", "2"))

    # then verify finds every projection consistent
    clean = ok(cli.run("verify", "--quiet"))
    assert clean.stdout.strip().endswith("result: consistent"), clean.stdout
    assert clean.stdout.count("consistent (") == 3

    # when one row of the portal is altered, the portal drifts and the others still pass
    portal_key = _tamper(engine, "portal")
    result = cli.run("verify", "--json", "--quiet")
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "drift"
    by_name = {p["projection"]: p for p in report["projections"]}
    assert (by_name["portal"]["consistent"], by_name["onestop"]["consistent"],
            by_name["stats"]["consistent"]) == (False, True, True)
    dossiers_table = by_name["portal"]["tables"]["dossiers"]
    assert (dossiers_table["changed"], dossiers_table["only_live"],
            dossiers_table["only_rebuilt"]) == (1, 0, 0)
    [example] = dossiers_table["examples"]
    assert example["key"] == portal_key and example["live"]["status"] == 9
    assert example["rebuilt"]["status"] != 9

    # and an altered row in each of the other projections is found too
    for projection in ("onestop", "stats"):
        key = _tamper(engine, projection)
        table, _, column, value = _TAMPER[projection]
        found = cli.run("verify", projection, "--json", "--quiet")
        assert found.returncode == 2, found.stderr
        [checked] = json.loads(found.stdout)["projections"]
        [example] = checked["tables"][table]["examples"]
        assert example["key"] == key
        assert example["live"][column] == value != example["rebuilt"][column]
        text_report = cli.run("verify", projection, "--quiet")
        assert text_report.returncode == 2
        assert "DRIFT in 1 of" in text_report.stdout and "changed (" in text_report.stdout


def _bad_record(services: Services, subject: str) -> tuple[int, bytes]:
    """A DossierSubmitted framed with a writer schema lacking `procedure_code` (which
    today's reader requires), registered under `subject`."""
    from schemas.avro_schemas import event_schemas
    from schemas.codec import AvroCodec
    from schemas.events import DossierSubmitted, full_name
    from schemas.registry import HttpSchemaRegistry
    from tests.projections.projection_events import dossier

    today = event_schemas()[full_name(DossierSubmitted)]
    schema = json.loads(today.text)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "procedure_code"]
    with HttpSchemaRegistry(services.registry_url) as registry:
        schema_id = registry.register(subject, json.dumps(schema))
        data = AvroCodec(registry, auto_register=False).encode(
            DOSSIER_TOPIC, dossier(str(uuid.uuid4()))[0])
    record = fastavro.schemaless_reader(io.BytesIO(data[5:]), today.parsed, None)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return schema_id, b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()


def _produce(services: Services, values: Sequence[bytes]) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=services.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(DOSSIER_TOPIC, value=value, key=b"replay-e2e")
        finally:
            await producer.stop()

    asyncio.run(send())


def test_the_replay_safety_check_refuses_a_writer_schema_todays_reader_cannot_read(
    cli: Cli, services: Services, engine: Engine, tmp_path: Path
) -> None:
    from schemas.jsonform import event_to_json
    from tests.projections.projection_events import catalogue, dossier

    # given topics written with today's schemas only: the check passes
    events = [*catalogue(), *dossier(str(uuid.uuid4()))]
    ok(cli.run("publish", str(_jsonl(tmp_path / "few.jsonl", [event_to_json(e)
                                                               for e in events]))))
    passed = ok(cli.run("replay", "--check-only", "portal"))
    assert "every writer schema decodes with today's reader" in passed.stdout

    # and a value that is not Avro at all is reported but does not block
    _produce(services, [b"not avro at all"])
    report = json.loads(ok(cli.run("replay", "--check-only", "--json", "portal")).stdout)
    assert report["ok"] is True and report["non_avro"] == {DOSSIER_TOPIC: 1}

    # when a record written with an unresolvable writer schema is on the topic
    subject = f"replay-safety-e2e-{uuid.uuid4().hex[:8]}-value"
    schema_id, value = _bad_record(services, subject)
    _produce(services, [value])

    # then the check, and a replay, refuse naming the id and the subject, and build nothing
    for args in (("replay", "--check-only", "portal"), ("replay", "portal")):
        refused = cli.run(*args)
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        output = refused.stdout + refused.stderr
        assert f"schema id {schema_id} (" in output and f"{subject} v1" in output, output
        assert "incompatible_writer_schema" in output and "procedure_code" in output
        assert "not Avro" in output
    assert "refused" in refused.stderr
    assert _tables(engine, "portal_v") == []


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def test_point_in_time_builds_are_left_beside_the_live_version(
    cli: Cli, services: Services, engine: Engine, tmp_path: Path
) -> None:
    # given a province published in two parts, projected by the worker
    catalogue, dossiers = _events()
    half = len(dossiers) // 2
    ok(cli.run("publish", str(_jsonl(tmp_path / "a.jsonl", catalogue + dossiers[:half]))))
    ends_a = topic_ends(services.kafka_bootstrap, TOPICS)
    ok(cli.run("publish", str(_jsonl(tmp_path / "b.jsonl", dossiers[half:]))))
    ok(cli.run("worker", "--until-idle", "2"))
    records = decoded_topics(services)
    part_a = _prefix(records, ends_a)
    cut = max(d.source.timestamp_ms for d in part_a) + 1
    assert all(d.source.timestamp_ms >= cut for d in records if d not in part_a)
    expected_a = reference_dumps(part_a)

    # when the portal is built up to the time between the two parts
    at_time = ok(cli.run("replay", "portal", "--to-time", _iso(cut), "--quiet"))
    # and the statistics up to the dossier offsets of part A (catalogue: to its end)
    offsets = [f"{t}:{p}:{o}" for (t, p), o in ends_a.items() if t == DOSSIER_TOPIC]
    to_offset = ok(cli.run("replay", "stats", "--quiet",
                           *(a for o in offsets for a in ("--to-offset", o))))

    # then both are built, not swapped in, and equal the clean fold of part A
    assert "NOT swapped in" in at_time.stdout and "into v2" in at_time.stdout, at_time.stdout
    assert "NOT swapped in" in to_offset.stdout and "into v2" in to_offset.stdout
    assert "onestop replay --drop-version 2 portal" in at_time.stdout
    expected_all = reference_dumps(records)
    with engine.connect() as conn:
        assert (live_version(conn, "portal"), live_version(conn, "stats")) == (1, 1)
        for projection in ("portal", "stats"):
            assert ProjectionStore(engine, projection, 2).dump(conn) == expected_a[projection]
            assert stored.positions(conn, projection, 2) == ends_a
            # the live versions still hold everything
            assert ProjectionStore(engine, projection, 1).dump(conn) == expected_all[projection]
    assert expected_a["portal"] != expected_all["portal"]
    # and verify checks such a version against the log
    ok(cli.run("verify", "portal", "--version", "2", "--quiet"))

    # and a built version can be dropped, the live one cannot
    refused = cli.run("replay", "--drop-version", "1", "portal")
    assert refused.returncode == 1 and "live" in refused.stderr
    ok(cli.run("replay", "--drop-version", "2", "portal"))
    assert _tables(engine, "portal_v2_") == []
    assert _tables(engine, "portal_v1_") != []
