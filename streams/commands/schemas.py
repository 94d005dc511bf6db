"""`onestop schemas register | check` and `onestop topics create`.

`schemas register` sets `BACKWARD_TRANSITIVE` on each event's subject
(`<topic>-<namespace>.<EventType>`) and registers the event's standalone schema, printing
`subject -> id`. `schemas check` compares every `.avsc` event schema with the registry
without changing it: `new` (subject not registered yet), `registered` (this exact schema
is already a version), `compatible`, or `INCOMPATIBLE` with the reasons; exit 1 if any is
incompatible. `topics create` creates the contract's topics (idempotent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from schemas import (
    AVRO_DIR,
    CompatibilityLevel,
    EventSchema,
    HttpSchemaRegistry,
    IncompatibleSchemaError,
    OnestopSchemaError,
    load_event_schemas,
)
from streams.settings import Settings, SettingsError
from streams.topics import TopicAdminError, ensure_topics

__all__ = ["schemas", "topics"]

_REGISTRY_HELP = (
    "Confluent API root of the schema registry (default: $ONESTOP_SCHEMA_REGISTRY_URL)."
)
_AVSC_HELP = "Directory of .avsc files (default: the project's schemas/avro)."


@contextmanager
def _registry(url: str | None) -> Iterator[HttpSchemaRegistry]:
    try:
        base = url or Settings.from_env().require_schema_registry()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    with HttpSchemaRegistry(base) as registry:
        yield registry


def _event_schemas(avsc_dir: Path | None) -> list[EventSchema]:
    try:
        loaded = load_event_schemas(avsc_dir or AVRO_DIR)
    except OnestopSchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    return sorted(loaded.values(), key=lambda s: (s.topic, s.full_name))


@click.group()
def schemas() -> None:
    """Register the event schemas and check them against the registry."""


@schemas.command()
@click.option("--registry-url", help=_REGISTRY_HELP)
@click.option("--avsc-dir", type=click.Path(path_type=Path, file_okay=False), help=_AVSC_HELP)
def register(registry_url: str | None, avsc_dir: Path | None) -> None:
    """Set BACKWARD_TRANSITIVE and register every event schema; print subject -> id."""
    failed: list[str] = []
    with _registry(registry_url) as registry:
        for schema in _event_schemas(avsc_dir):
            try:
                registry.set_compatibility(schema.subject, CompatibilityLevel.BACKWARD_TRANSITIVE)
                schema_id = registry.register(schema.subject, schema.text)
            except IncompatibleSchemaError as exc:
                failed.append(str(exc))
                click.echo(f"{schema.subject} -> REJECTED", err=True)
                continue
            except OnestopSchemaError as exc:
                raise click.ClickException(f"{schema.subject}: {exc}") from exc
            click.echo(f"{schema.subject} -> {schema_id}")
    if failed:
        raise click.ClickException(f"{len(failed)} schema(s) rejected:\n  " + "\n  ".join(failed))


@schemas.command()
@click.option("--registry-url", help=_REGISTRY_HELP)
@click.option("--avsc-dir", type=click.Path(path_type=Path, file_okay=False), help=_AVSC_HELP)
def check(registry_url: str | None, avsc_dir: Path | None) -> None:
    """Is every event schema compatible with what the registry holds? Exit 1 if not."""
    incompatible: list[str] = []
    with _registry(registry_url) as registry:
        try:
            known = set(registry.subjects())
            for schema in _event_schemas(avsc_dir):
                subject = schema.subject
                if subject not in known:
                    click.echo(f"{subject}: new")
                    continue
                held = registry.lookup(subject, schema.text)
                if held is not None:
                    click.echo(f"{subject}: registered (id {held.schema_id}, v{held.version})")
                    continue
                result = registry.check_compatibility(subject, schema.text)
                if result.is_compatible:
                    click.echo(f"{subject}: compatible")
                    continue
                reasons = "; ".join(result.messages) or "no reason given"
                incompatible.append(f"{subject}: {reasons}")
                click.echo(f"{subject}: INCOMPATIBLE: {reasons}")
        except OnestopSchemaError as exc:
            raise click.ClickException(str(exc)) from exc
    if incompatible:
        raise click.ClickException(
            f"{len(incompatible)} schema(s) incompatible with the registry:\n  "
            + "\n  ".join(incompatible)
        )


@click.group()
def topics() -> None:
    """Create the contract's topics."""


@topics.command()
@click.option("--bootstrap", help="Kafka bootstrap servers (default: $ONESTOP_KAFKA_BOOTSTRAP).")
def create(bootstrap: str | None) -> None:
    """Create catalogue.events, dossier.events and their .dlq topics (idempotent)."""
    try:
        settings = Settings.from_env()
        servers = bootstrap or settings.require_kafka()
        result = asyncio.run(ensure_topics(servers, settings))
    except (SettingsError, TopicAdminError) as exc:
        raise click.ClickException(str(exc)) from exc
    for name in result.created:
        click.echo(f"{name}: created")
    for name in result.found:
        click.echo(f"{name}: exists")
