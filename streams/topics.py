"""The contract's topics, and `ensure_topics` to create them idempotently.

| topic | partitions | configs |
|---|---|---|
| `catalogue.events` | 3 (`catalogue_partitions`) | `retention.ms=-1 cleanup.policy=delete` |
| `dossier.events` | 12 (`dossier_partitions`) | the same |
| `catalogue.events.dlq`, `dossier.events.dlq` | 1 | the same |

Topics are the system of record: kept forever, never compacted. An existing topic with
the right partition count and these configs is fine; anything else is a
`TopicMismatchError` listing every difference (partitions cannot be changed safely for a
keyed topic, and compaction would lose events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.settings import Settings

__all__ = [
    "CATALOGUE_DLQ_TOPIC",
    "DOSSIER_DLQ_TOPIC",
    "EnsureResult",
    "TopicAdminError",
    "TopicMismatchError",
    "TopicSpec",
    "contract_topics",
    "dlq_topic",
    "ensure_topics",
    "reset_topics",
]

TOPIC_CONFIGS: Final[Mapping[str, str]] = {"retention.ms": "-1", "cleanup.policy": "delete"}
CATALOGUE_DLQ_TOPIC: Final[str] = f"{CATALOGUE_TOPIC}.dlq"
DOSSIER_DLQ_TOPIC: Final[str] = f"{DOSSIER_TOPIC}.dlq"


def dlq_topic(topic: str) -> str:
    """`<topic>.dlq`."""
    return f"{topic}.dlq"


class TopicAdminError(Exception):
    """Kafka refused or failed a topic operation."""


class TopicMismatchError(TopicAdminError):
    """Existing topics differ from the contract; `problems` lists each difference."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "existing topics differ from the contract:\n  " + "\n  ".join(self.problems)
        )


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the contract wants it."""

    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=lambda: dict(TOPIC_CONFIGS))
    replication_factor: int = 1


@dataclass(frozen=True, slots=True)
class EnsureResult:
    """Which topics `ensure_topics` created and which were already there."""

    created: tuple[str, ...]
    found: tuple[str, ...]


def contract_topics(settings: Settings, replication_factor: int = 1) -> tuple[TopicSpec, ...]:
    """The four topics of CONTRACT.md with the partition counts of `settings`."""
    return (
        TopicSpec(
            CATALOGUE_TOPIC, settings.catalogue_partitions, TOPIC_CONFIGS, replication_factor
        ),
        TopicSpec(DOSSIER_TOPIC, settings.dossier_partitions, TOPIC_CONFIGS, replication_factor),
        TopicSpec(CATALOGUE_DLQ_TOPIC, 1, TOPIC_CONFIGS, replication_factor),
        TopicSpec(DOSSIER_DLQ_TOPIC, 1, TOPIC_CONFIGS, replication_factor),
    )


async def _create(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    """Create `specs`; the names actually created (a concurrent creator may win)."""
    if not specs:
        return []
    request = [
        NewTopic(
            name=s.name,
            num_partitions=s.partitions,
            replication_factor=s.replication_factor,
            topic_configs=dict(s.configs),
        )
        for s in specs
    ]
    response = await admin.create_topics(request)
    created: list[str] = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code == 0:
            created.append(name)
            continue
        error = for_code(code)
        if error is not TopicAlreadyExistsError:
            raise TopicAdminError(f"cannot create topic {name!r}: {error.__name__}: {message}")
    return created


async def _partitions(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, int]:
    described: list[dict[str, Any]] = await admin.describe_topics(list(names))
    return {str(t["topic"]): len(t["partitions"]) for t in described if t["error_code"] == 0}


async def _configs(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, None) for n in names]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            error_code, _message, _type, name, entries = resource[:5]
            if error_code == 0:
                out[str(name)] = {str(e[0]): str(e[1]) for e in entries}
    return out


def _problems(
    specs: Sequence[TopicSpec], partitions: Mapping[str, int], configs: Mapping[str, Any]
) -> list[str]:
    problems: list[str] = []
    for spec in specs:
        have = partitions.get(spec.name)
        if have is None:
            problems.append(f"{spec.name}: not found after creation")
            continue
        if have != spec.partitions:
            problems.append(
                f"{spec.name}: has {have} partitions, the contract wants {spec.partitions}"
                " (recreate it or set ONESTOP_*_PARTITIONS to match)"
            )
        current = configs.get(spec.name, {})
        for key, want in spec.configs.items():
            if current.get(key) != want:
                problems.append(
                    f"{spec.name}: {key}={current.get(key)!r}, the contract wants {want!r}"
                )
    return problems


async def ensure_topics(
    bootstrap: str, settings: Settings, *, replication_factor: int = 1
) -> EnsureResult:
    """Create the contract's topics that are missing; check the ones that exist."""
    specs = contract_topics(settings, replication_factor)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="onestop-topics")
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        created = await _create(admin, [s for s in specs if s.name not in existing])
        names = [s.name for s in specs]
        problems = _problems(specs, await _partitions(admin, names), await _configs(admin, names))
    except KafkaError as exc:
        raise TopicAdminError(f"Kafka at {bootstrap}: {type(exc).__name__}: {exc}") from exc
    finally:
        await admin.close()
    if problems:
        raise TopicMismatchError(problems)
    found = tuple(s.name for s in specs if s.name not in created)
    return EnsureResult(created=tuple(created), found=found)


async def reset_topics(bootstrap: str, settings: Settings, *, timeout_s: float = 90) -> None:
    """Delete the contract's topics (losing every event in them) and create them empty.

    For throw-away stacks only: the e2e tests and `onestop bench` on their own brokers.
    `TopicAdminError` if the broker does not finish within `timeout_s`.
    """
    names = [spec.name for spec in contract_topics(settings)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="onestop-topics-reset")
    try:
        await admin.start()
        doomed = [n for n in names if n in set(await admin.list_topics())]
        if doomed:
            await admin.delete_topics(doomed, timeout_ms=30_000)
        async with asyncio.timeout(timeout_s):
            while set(await admin.list_topics()) & set(doomed):
                await asyncio.sleep(0.2)
    except (KafkaError, TimeoutError) as exc:
        raise TopicAdminError(f"Kafka at {bootstrap}: deleting the topics: {exc!r}") from exc
    finally:
        await admin.close()
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:  # the broker may still be finishing the deletion
        try:
            await ensure_topics(bootstrap, settings)
            return
        except TopicAdminError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
