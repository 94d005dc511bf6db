"""End to end: bad input of every kind lands in `<topic>.dlq`, and everything good is applied.

Among the events of a small generated province, published in two halves with
`onestop publish`, the test puts, on several partitions of both topics:

- records that cannot be decoded, produced raw: not Avro at all (`not_avro`), an unknown
  schema id (`unknown_schema_id`), a truncated Avro body (`truncated_avro`), trailing bytes
  after a valid record (`bad_value`), a registered writer schema whose field types cannot
  be resolved to today's reader (`incompatible_writer_schema`), a registered writer schema
  with an extra enum symbol, and that symbol (`unknown_enum_symbol`), a writer schema that
  is no event type of the contract (`unknown_event_type`);
- events that decode but cannot be applied, published through the CLI: an illegal
  transition (`illegal_transition`), a sequence gap (`sequence_gap`), a submission for a
  procedure that does not exist and a receipt by an agency that does not exist
  (`unknown_reference`), and a value larger than `ONESTOP_MAX_RECORD_BYTES`
  (`oversize_record`; published under the default limit, then the worker runs with a
  4096-byte one).

The writer schemas of the undecodable records are registered under subjects of this test
(`e2e-bad-<hex>-<name>`), never under the contract's subjects.

Then `onestop worker --until-idle 2` must exit 0 (it never stalls on a bad record), every
bad record must be in its DLQ exactly once with the right `error.class`, a reason, and
`origin.*` headers pointing back at it (key and value untouched), every stored position
must be at the log end, and the stores must equal the reference fold of what the topics
hold (which applies every good event and parks the bad aggregates the same way).
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import struct
import uuid
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
from aiokafka import AIOKafkaProducer

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.records import PROJECTIONS
from projections.store import make_engine
from schemas.avro_schemas import event_schemas
from schemas.codec import AvroCodec
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from schemas.jsonform import event_from_json
from schemas.registry import HttpSchemaRegistry
from tests.e2e.helpers import (
    Cli,
    decoded_topics,
    ok,
    parked_of,
    read_dlq,
    reference_dumps,
    snapshots_of,
    store_dumps,
    stored_positions,
    topic_ends,
    worker_counters,
)

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=5, dossiers=80, procedures=40, departments=3, communes=3)
MAX_RECORD_BYTES = 4096
Origin = tuple[str, int, int]  # (topic, partition, offset)



# --- the bad business events (JSON form, published through the CLI) ------------------------


def _clone(event: dict[str, Any], dossier_id: str, seq: int, **fields: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    out.pop("event_id", None)
    out.update(aggregate_id=dossier_id, aggregate_seq=seq, **fields)
    return out


def _bad_dossiers(template: list[dict[str, Any]]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Dossiers whose events go wrong, by the error class they must produce.

    Built from a generated dossier (`template`: `DossierSubmitted`, `DossierReceived`, ...)
    so that everything but the deliberate fault is valid.
    """
    submitted, received = template[0], template[1]
    assert (submitted["type"], received["type"]) == ("DossierSubmitted", "DossierReceived")
    resolved = {"type": "DossierResolved", "outcome": "APPROVED", "electronic_result": True}
    delivered = {"type": "ResultDelivered", "method": "ONLINE"}
    ids = {name: str(uuid.uuid4()) for name in
           ("illegal", "gap", "no_procedure", "no_agency", "oversize")}
    envelope = {k: submitted[k] for k in ("occurred_at", "source_system", "province_code")}
    return {
        # 1 Mới đăng ký → DossierResolved is not allowed; seq 3 is parked behind it
        "illegal": (ids["illegal"], [
            _clone(submitted, ids["illegal"], 1),
            _clone({**envelope, **resolved}, ids["illegal"], 2),
            _clone({**envelope, **delivered}, ids["illegal"], 3),
        ]),
        # seq 2 missing
        "gap": (ids["gap"], [
            _clone(submitted, ids["gap"], 1),
            _clone(received, ids["gap"], 3),
        ]),
        # a procedure that is in no catalogue
        "no_procedure": (ids["no_procedure"], [
            _clone(submitted, ids["no_procedure"], 1, procedure_code="9.999999"),
        ]),
        # received by an agency that is in no catalogue
        "no_agency": (ids["no_agency"], [
            _clone(submitted, ids["no_agency"], 1),
            _clone(received, ids["no_agency"], 2, handling_agency_code="H56.99"),
        ]),
        # an intake refusal whose reason makes the record larger than the limit
        "oversize": (ids["oversize"], [
            _clone(submitted, ids["oversize"], 1),
            _clone({**envelope, "type": "DossierIntakeRefused"}, ids["oversize"], 2,
                   reason="thiếu giấy tờ " * 400),
        ]),
    }


EXPECTED_CLASS = {  # bad dossier -> (its rejected seq, error class)
    "illegal": (2, "illegal_transition"),
    "gap": (3, "sequence_gap"),
    "no_procedure": (1, "unknown_reference"),
    "no_agency": (2, "unknown_reference"),
    "oversize": (2, "oversize_record"),
}


# --- the undecodable records (produced raw) -----------------------------------------------


def _writer_schema(name: str, change: Any) -> dict[str, Any]:
    schema = json.loads(event_schemas()[name].text)
    change(schema)
    return schema


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    [field] = [f for f in schema["fields"] if f["name"] == name]
    return field


def _frame(schema_id: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def _undecodable(services: Services, valid: bytes) -> list[tuple[str, str, bytes]]:
    """(topic, expected error class, value) of every raw bad record."""
    rated = "vn.dvc.dossier.SatisfactionRated"
    prefix = f"e2e-bad-{uuid.uuid4().hex[:8]}"
    record = {
        "event_id": str(uuid.uuid4()), "aggregate_id": str(uuid.uuid4()), "aggregate_seq": 1,
        "occurred_at": 1_700_000_000_000, "source_system": "motcua.H56.14",
        "province_code": "H56", "correlation_id": None, "rating": "SATISFIED",
    }

    def seq_as_string(s: dict[str, Any]) -> None:
        _field(s, "aggregate_seq")["type"] = "string"

    def extra_symbol(s: dict[str, Any]) -> None:
        _field(s, "rating")["type"]["symbols"].append("EXCELLENT")

    def renamed(s: dict[str, Any]) -> None:
        s["name"] = "DossierTeleported"

    wrong_types = _writer_schema(rated, seq_as_string)
    extra_enum = _writer_schema(rated, extra_symbol)
    unknown_type = _writer_schema(rated, renamed)
    with HttpSchemaRegistry(services.registry_url) as registry:
        ids = {
            key: registry.register(f"{prefix}-{schema['namespace']}.{schema['name']}-{key}",
                                   json.dumps(schema))
            for key, schema in (("types", wrong_types), ("enum", extra_enum),
                                ("type", unknown_type))
        }
        known = set(ids.values())
        unknown_id = next(i for i in range(2_000_000_000, 2_000_001_000) if i not in known)
    return [
        (DOSSIER_TOPIC, "not_avro", b"not Avro, just text"),
        (CATALOGUE_TOPIC, "not_avro", b"\x01\x02"),
        (DOSSIER_TOPIC, "unknown_schema_id", struct.pack(">bI", 0, unknown_id) + valid[5:]),
        (DOSSIER_TOPIC, "truncated_avro", valid[: len(valid) // 2]),
        (CATALOGUE_TOPIC, "truncated_avro", valid[:9]),
        (DOSSIER_TOPIC, "bad_value", valid + b"\x00"),
        (DOSSIER_TOPIC, "incompatible_writer_schema",
         _frame(ids["types"], wrong_types, {**record, "aggregate_seq": "three"})),
        (DOSSIER_TOPIC, "unknown_enum_symbol",
         _frame(ids["enum"], extra_enum, {**record, "rating": "EXCELLENT"})),
        (DOSSIER_TOPIC, "unknown_event_type", _frame(ids["type"], unknown_type, record)),
    ]


async def _produce_raw(
    bootstrap: str, records: list[tuple[str, int, bytes, bytes]]
) -> list[Origin]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        origins = []
        for topic, partition, key, value in records:
            meta = await producer.send_and_wait(topic, value=value, key=key, partition=partition)
            origins.append((meta.topic, meta.partition, meta.offset))
        return origins
    finally:
        await producer.stop()


# --- the test -----------------------------------------------------------------------------


def test_every_kind_of_bad_input_goes_to_the_dlq_and_every_good_event_is_applied(
    cli: Cli, services: Services, tmp_path: Path
) -> None:
    # given a province, split in two halves, with bad dossiers in each half
    events = list(generate(SPEC))
    catalogue = [e for e in events if event_from_json(e).TOPIC == CATALOGUE_TOPIC]
    dossier_events = [e for e in events if event_from_json(e).TOPIC == DOSSIER_TOPIC]
    by_dossier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in dossier_events:
        by_dossier[e["aggregate_id"]].append(e)
    template = next(evs for evs in by_dossier.values()
                    if [e["type"] for e in evs[:2]] == ["DossierSubmitted", "DossierReceived"])
    bad = _bad_dossiers(template)
    half = len(dossier_events) // 2
    first = [*catalogue, *dossier_events[:half], *bad["illegal"][1], *bad["gap"][1],
             *bad["oversize"][1][:1]]
    second = [*dossier_events[half:], *bad["no_procedure"][1], *bad["no_agency"][1],
              *bad["oversize"][1][1:]]
    ok(cli.run("publish", str(_jsonl(tmp_path / "first.jsonl", first))))

    # and, between the halves, raw records that cannot be decoded, on several partitions
    with HttpSchemaRegistry(services.registry_url) as registry:
        valid = AvroCodec(registry, auto_register=False).encode(
            DOSSIER_TOPIC, event_from_json(template[0]))
    raw = _undecodable(services, valid)
    partitions = {CATALOGUE_TOPIC: 3, DOSSIER_TOPIC: 12}
    origins = asyncio.run(_produce_raw(services.kafka_bootstrap, [
        (topic, i % partitions[topic], f"bad-{i}".encode(), value)
        for i, (topic, _, value) in enumerate(raw)
    ]))
    expected: dict[Origin, str] = {
        origin: error_class for origin, (_, error_class, _) in zip(origins, raw, strict=True)
    }
    ok(cli.run("publish", str(_jsonl(tmp_path / "second.jsonl", second))))

    # when the worker runs until idle with a 4096-byte record limit
    # (only the worker has the limit: the publisher would refuse to send such a record)
    worker = ok(cli.run("worker", "--until-idle", "2",
                        env={"ONESTOP_MAX_RECORD_BYTES": str(MAX_RECORD_BYTES)}))

    # then every bad record is in its DLQ exactly once, with its class, pointing back at it
    records = decoded_topics(services)
    source_of = {(d.event.aggregate_id, d.event.aggregate_seq): d.source
                 for d in records if d.event is not None}
    for name, (dossier_id, _) in bad.items():
        seq, error_class = EXPECTED_CLASS[name]
        s = source_of[(dossier_id, seq)]
        expected[(s.topic, s.partition, s.offset)] = error_class
    assert len(set(expected.values())) >= 9
    assert len({p for _, p, _ in expected}) >= 5, "bad records on too few partitions"
    by_origin = {(d.source.topic, d.source.partition, d.source.offset): d.source
                 for d in records}
    dead = [*read_dlq(services.kafka_bootstrap, DOSSIER_TOPIC),
            *read_dlq(services.kafka_bootstrap, CATALOGUE_TOPIC)]
    found = {(d.origin_topic, d.origin_partition, d.origin_offset): d for d in dead}
    assert len(found) == len(dead), "a rejected record is in the DLQ twice"
    assert {o: d.error_class for o, d in found.items()} == expected
    for origin, d in found.items():
        source = by_origin[origin]
        assert d.topic == f"{origin[0]}.dlq"
        assert (d.key, d.value) == (source.key, source.value), origin
        assert d.reason.strip(), origin
    oversize = found[next(o for o, c in expected.items() if c == "oversize_record")]
    assert str(MAX_RECORD_BYTES) in oversize.reason
    assert len(oversize.value) > MAX_RECORD_BYTES

    # and the worker counted them, and every position is at the log end: nothing stalled
    counters = worker_counters(worker.stderr)
    for projection in PROJECTIONS:
        assert counters[projection]["rejected"] == len(expected), projection
    ends = topic_ends(services.kafka_bootstrap, [CATALOGUE_TOPIC, DOSSIER_TOPIC])
    engine = make_engine(cli.database_url)
    try:
        positions = stored_positions(engine)
    finally:
        engine.dispose()
    for projection in PROJECTIONS:
        assert positions[projection] == ends, projection

    # and every generated dossier is applied in full, none parked
    good = {(DOSSIER_TOPIC, d): len(evs) for d, evs in by_dossier.items()}
    for projection, snaps in snapshots_of(cli.database_url, list(good)).items():
        heads = {key: (s.last_seq, s.parked_from_seq) for key, s in snaps.items()}
        assert heads == {key: (seq, None) for key, seq in good.items()}, projection
    # and each bad dossier stopped where its fault is (the oversize record parks nothing)
    expected_heads = {"illegal": (1, 2), "gap": (1, 3), "no_procedure": (0, 1),
                      "no_agency": (1, 2), "oversize": (1, None)}
    keys = {name: (DOSSIER_TOPIC, dossier_id) for name, (dossier_id, _) in bad.items()}
    for projection, snaps in snapshots_of(cli.database_url, list(keys.values())).items():
        heads = {name: (snaps[k].last_seq, snaps[k].parked_from_seq) for name, k in keys.items()}
        assert heads == expected_heads, projection
    for projection, parked in parked_of(cli.database_url, keys["illegal"]).items():
        assert [p.aggregate_seq for p in parked] == [2, 3], projection

    # and the stores are the reference fold of the topics (the oversize record aside,
    # which the in-memory reference has no limit for)
    oversize_origin = next(o for o, c in expected.items() if c == "oversize_record")
    kept = [d for d in records
            if (d.source.topic, d.source.partition, d.source.offset) != oversize_origin]
    assert store_dumps(cli.database_url) == reference_dumps(kept)


def _jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    write_jsonl(events, path)
    return path
