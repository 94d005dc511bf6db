"""End to end: the wire format against the real schema registry (Apicurio) and Kafka.

- the registry contract suite against Apicurio's Confluent-compatible API;
- every event type encoded, produced to a real topic, consumed back and decoded equal;
- breaking schema changes refused by the registry with a message naming the subject;
- `onestop schemas register | check` and `onestop topics create` exit codes and effects.

Round trips use topics and subjects of their own (`wire-<hex>.*`) so they never mix
with other tests' data; the contract topics and subjects are only created/registered,
which is idempotent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.avro_schemas import AVRO_DIR, build_event_schema, event_schemas, subject_name
from schemas.codec import AvroCodec, schema_id_of
from schemas.errors import IncompatibleSchemaError
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC, Event, SatisfactionRated, full_name
from schemas.registry import CompatibilityLevel, HttpSchemaRegistry
from streams.settings import Settings
from streams.topics import TopicMismatchError, ensure_topics
from tests.schemas.registry_contract import RegistryContract
from tests.schemas.samples import sample_events

PROJECT_ROOT = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

ONESTOP = str(PROJECT_ROOT / ".venv" / "bin" / "onestop")


@pytest.fixture
def registry(services: Services) -> Iterator[HttpSchemaRegistry]:
    with HttpSchemaRegistry(services.registry_url) as client:
        yield client


class TestApicurioRegistry(RegistryContract):
    """The contract suite, against the real registry (the `registry` fixture above)."""


# --- round trip through the registry and a real topic ------------------------------------


async def _create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def _produce(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topics: list[str], expected: int) -> list[bytes]:
    """Read from the start until `expected` records arrived (tracked count, no sleeps)."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(120):
            while len(values) < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                values += [m.value for batch in batches.values() for m in batch if m.value]
    finally:
        await consumer.stop()
    return values


def test_every_event_type_round_trips_through_the_registry_and_a_topic(
    services: Services,
) -> None:
    # given topics of this test and a codec on the real registry
    prefix = f"wire-{uuid.uuid4().hex[:8]}"
    topic_of = {
        CATALOGUE_TOPIC: f"{prefix}.{CATALOGUE_TOPIC}",
        DOSSIER_TOPIC: f"{prefix}.{DOSSIER_TOPIC}",
    }
    events = sample_events()
    asyncio.run(_create_topics(services.kafka_bootstrap, list(topic_of.values()), 3))
    with HttpSchemaRegistry(services.registry_url) as writer_registry:
        writer = AvroCodec(writer_registry)
        records = [
            (topic_of[e.TOPIC], e.aggregate_id.encode(), writer.encode(topic_of[e.TOPIC], e))
            for e in events
        ]
        schema_ids = {type(e): writer.schema_id(topic_of[e.TOPIC], type(e)) for e in events}

    # when they are produced, consumed back and decoded by a codec that knows no ids yet
    asyncio.run(_produce(services.kafka_bootstrap, records))
    values = asyncio.run(_consume(services.kafka_bootstrap, list(topic_of.values()), len(events)))
    with HttpSchemaRegistry(services.registry_url) as reader_registry:
        decoded = AvroCodec(reader_registry).decode_batch(values)
        held = {
            type(e): reader_registry.lookup(
                subject_name(topic_of[e.TOPIC], full_name(type(e))),
                event_schemas()[full_name(type(e))].text,
            )
            for e in events
        }

    # then every event comes back equal, framed with the id its subject holds
    assert sorted(decoded, key=_event_id) == sorted(events, key=_event_id)
    for value, event in zip(values, decoded, strict=True):
        found = held[type(event)]
        assert found is not None
        assert schema_id_of(value) == schema_ids[type(event)] == found.schema_id


def _event_id(item: object) -> str:
    assert isinstance(item, Event), item
    return item.event_id


# --- breaking changes --------------------------------------------------------------------


def _variant(event_type: type[Event], change: Any) -> str:
    schema = json.loads(event_schemas()[full_name(event_type)].text)
    change(schema)
    return build_event_schema(event_type, schema).text


def test_breaking_changes_are_refused_by_the_registry_naming_the_subject(
    registry: HttpSchemaRegistry,
) -> None:
    # given SatisfactionRated registered under BACKWARD_TRANSITIVE on a topic of this test
    topic = f"wire-{uuid.uuid4().hex[:8]}.{DOSSIER_TOPIC}"
    subject = subject_name(topic, full_name(SatisfactionRated))
    registry.set_compatibility(subject, CompatibilityLevel.BACKWARD_TRANSITIVE)
    event = next(e for e in sample_events() if isinstance(e, SatisfactionRated))
    AvroCodec(registry).encode(topic, event)

    def add_required(schema: dict[str, Any]) -> None:
        schema["fields"].append({"name": "comment", "type": "string"})

    def drop_symbol(schema: dict[str, Any]) -> None:
        rating = next(f for f in schema["fields"] if f["name"] == "rating")
        rating["type"]["symbols"].remove("NEUTRAL")

    for change, detail in ((add_required, "comment"), (drop_symbol, "NEUTRAL")):
        broken = _variant(SatisfactionRated, change)

        # when the changed schema is registered
        with pytest.raises(IncompatibleSchemaError) as caught:
            registry.register(subject, broken)

        # then the registry refused it, and the message names the subject and the change
        assert caught.value.subject == subject
        assert subject in str(caught.value) and detail in str(caught.value)
        assert caught.value.status == 409
    assert registry.versions(subject) == [1]


# --- the CLI -------------------------------------------------------------------------------


def _cli(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ONESTOP_SCHEMA_REGISTRY_URL": services.registry_url,
        "ONESTOP_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
    }
    return subprocess.run(
        [ONESTOP, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_schemas_register_then_check_exit_0_and_a_breaking_change_exits_1(
    services: Services, tmp_path: Path
) -> None:
    registered = _cli(services, "schemas", "register")
    assert registered.returncode == 0, registered.stderr
    lines = registered.stdout.splitlines()
    assert len(lines) == len(event_schemas()) and all(" -> " in line for line in lines)

    checked = _cli(services, "schemas", "check")
    assert checked.returncode == 0, checked.stderr
    assert all(": registered (id " in line for line in checked.stdout.splitlines())

    broken = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, broken)
    rating = broken / "vn.dvc.dossier.Rating.avsc"
    schema = json.loads(rating.read_text())
    schema["symbols"].remove("NEUTRAL")
    rating.write_text(json.dumps(schema))

    refused = _cli(services, "schemas", "check", "--avsc-dir", str(broken))

    assert refused.returncode == 1
    subject = "dossier.events-vn.dvc.dossier.SatisfactionRated"
    assert f"{subject}: INCOMPATIBLE" in refused.stdout
    assert "NEUTRAL" in refused.stdout
    assert subject in refused.stderr


# --- topics --------------------------------------------------------------------------------


async def _describe(bootstrap: str, names: list[str]) -> tuple[dict[str, int], dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics(names)
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        )
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in topics}
    configs = {
        r[3]: {e[0]: e[1] for e in r[4]} for response in responses for r in response.resources
    }
    return partitions, configs


def test_topics_are_created_idempotently_with_the_contract_settings(
    services: Services, tmp_path: Path
) -> None:
    settings = Settings.from_env({"ONESTOP_HOME": str(tmp_path)})

    first = _cli(services, "topics", "create")
    assert first.returncode == 0, first.stderr
    again = asyncio.run(ensure_topics(services.kafka_bootstrap, settings))

    names = ["catalogue.events", "dossier.events", "catalogue.events.dlq", "dossier.events.dlq"]
    assert again.created == () and sorted(again.found) == sorted(names)
    partitions, configs = asyncio.run(_describe(services.kafka_bootstrap, names))
    assert partitions == {
        "catalogue.events": 3,
        "dossier.events": 12,
        "catalogue.events.dlq": 1,
        "dossier.events.dlq": 1,
    }
    for name in names:
        assert configs[name]["retention.ms"] == "-1"
        assert configs[name]["cleanup.policy"] == "delete"


def test_an_existing_topic_with_other_partitions_is_a_clear_error(
    services: Services, tmp_path: Path
) -> None:
    settings = Settings.from_env({"ONESTOP_HOME": str(tmp_path)})
    asyncio.run(ensure_topics(services.kafka_bootstrap, settings))
    wants_more = dataclasses.replace(settings, catalogue_partitions=5)

    with pytest.raises(TopicMismatchError) as caught:
        asyncio.run(ensure_topics(services.kafka_bootstrap, wants_more))

    assert "catalogue.events: has 3 partitions, the contract wants 5" in str(caught.value)
