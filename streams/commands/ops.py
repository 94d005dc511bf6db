"""Operator commands: `onestop status` and `onestop dlq list | show | retry | release`.

Exit codes: 0 done; 1 error (bad arguments, services unreachable, nothing found); `dlq
release` exits 3 when the aggregate is still parked afterwards (rejected again).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from aiokafka.errors import KafkaError

from projections.policy import build_policies
from projections.store import ProjectionStore, make_engine
from schemas.codec import AvroCodec, schema_id_of
from schemas.errors import OnestopSchemaError
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC, Event
from schemas.jsonform import event_to_json
from streams.compose import live_stores, open_codec, open_engine
from streams.dlq import dlq_topic
from streams.dlq_release import (
    ReleaseError,
    ReleaseReport,
    kafka_sink,
    parked_aggregates,
    release_aggregate,
    release_hint,
)
from streams.dlq_tools import (
    DlqEntry,
    decode_value,
    parse_coordinates,
    read_dlq,
    read_dlq_at,
    republish,
)
from streams.settings import Settings, SettingsError
from streams.status import build_status, read_log, read_store, render_status

__all__ = ["dlq", "status"]

ORIGINS = click.Choice([CATALOGUE_TOPIC, DOSSIER_TOPIC])
STILL_PARKED = 3


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _guarded(action: Callable[[], Any]) -> Any:
    """Run `action`; configuration and service errors become `error: ...` and exit 1."""
    try:
        return action()
    except (SettingsError, KafkaError, OnestopSchemaError, ReleaseError, ValueError) as exc:
        _fail(f"{type(exc).__name__}: {exc}" if isinstance(exc, KafkaError) else str(exc))


# --- status -------------------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (stable keys)")
def status(as_json: bool) -> None:
    """Per projection and partition: stored position vs log end, lag in events and seconds,
    parked aggregates; per DLQ: record counts (by error class)."""

    def collect() -> Any:
        settings = Settings.from_env()
        engine = make_engine(settings.database_url, sqlite_begin="DEFERRED")
        try:
            versions = read_store(engine)
        finally:
            engine.dispose()
        log = asyncio.run(read_log(settings.require_kafka(), [v.positions for v in versions]))
        return build_status(versions, log)

    result = _guarded(collect)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else render_status(result))


# --- dlq ----------------------------------------------------------------------------------


@click.group()
def dlq() -> None:
    """Dead-letter queues: list, show, retry a record after a fix, release a parked aggregate."""


def _codec(settings: Settings) -> AvroCodec | None:
    return open_codec(settings) if settings.schema_registry_url else None


def _decode(codec: AvroCodec | None, value: bytes) -> tuple[Event | None, str | None]:
    if codec is None:
        return None, "no schema registry configured"
    return decode_value(codec, value)


def _key(entry: DlqEntry) -> str:
    key = entry.record.key
    return "-" if key is None else key.decode("utf-8", "replace")


def _summary(entry: DlqEntry, event: Event | None, error: str | None) -> dict[str, Any]:
    r = entry.record
    return {
        "dlq": entry.coordinates, "topic": r.topic, "partition": r.partition,
        "offset": r.offset, "error_class": r.error_class, "reason": r.reason,
        "origin": {"topic": r.origin_topic, "partition": r.origin_partition,
                   "offset": r.origin_offset},
        "key": None if r.key is None else _key(entry),
        "timestamp": datetime.fromtimestamp(entry.timestamp_ms / 1000, UTC).isoformat(),
        "event": None if event is None else {"type": event.TYPE,
                                             "aggregate_id": event.aggregate_id,
                                             "aggregate_seq": event.aggregate_seq},
        "decode_error": error,
    }


def _topics(topic: str | None) -> list[str]:
    return [dlq_topic(t) for t in ([topic] if topic else [CATALOGUE_TOPIC, DOSSIER_TOPIC])]


@dlq.command("list")
@click.option("--topic", type=ORIGINS, default=None, help="only this origin topic's DLQ")
@click.option("--class", "error_class", default=None, help="only this error.class")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="at most N records")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def list_command(topic: str | None, error_class: str | None, limit: int | None,
                 as_json: bool) -> None:
    """DLQ records from the beginning, one line each: where, why, and what it was."""
    settings = _guarded(Settings.from_env)
    entries = _guarded(lambda: asyncio.run(read_dlq(settings.require_kafka(), _topics(topic))))
    chosen = [e for e in entries if error_class in (None, e.record.error_class)][:limit]
    codec = _guarded(lambda: _codec(settings))
    for entry in chosen:
        event, error = _decode(codec, entry.record.value)
        if as_json:
            click.echo(json.dumps(_summary(entry, event, error), ensure_ascii=False))
            continue
        what = (f"{event.TYPE} {event.aggregate_id} seq {event.aggregate_seq}" if event
                else f"undecodable ({(error or '').split(':', 1)[0]})")
        if event is None or _key(entry) != event.aggregate_id:
            what = f"key={_key(entry)}  {what}"
        reason = entry.record.reason.replace("\n", " ")
        reason = reason if len(reason) <= 90 else reason[:87] + "..."
        click.echo(f"{entry.coordinates:<24} {entry.record.error_class:<20} "
                   f"{entry.origin:<22} {what}  {reason}")
    if not as_json:
        click.echo(f"{len(chosen)} of {len(entries)} DLQ records shown", err=True)


def _entries_at(settings: Settings, coordinates: Sequence[str]) -> list[DlqEntry]:
    out = []
    for text in coordinates:
        topic, partition, offset = parse_coordinates(text)
        if not topic.endswith(".dlq"):
            raise ValueError(f"{text}: not a DLQ topic (e.g. {dlq_topic(DOSSIER_TOPIC)}:0)")
        entry = asyncio.run(read_dlq_at(settings.require_kafka(), topic, partition, offset))
        if entry is None:
            raise ValueError(f"{text}: no such DLQ record")
        out.append(entry)
    return out


@dlq.command()
@click.argument("coordinates", required=False, metavar="DLQ_TOPIC:OFFSET")
@click.option("--origin", default=None, metavar="TOPIC:PARTITION:OFFSET",
              help="the DLQ records of this origin record instead")
@click.option("--json", "as_json", is_flag=True)
def show(coordinates: str | None, origin: str | None, as_json: bool) -> None:
    """One DLQ record in full: headers, and the event in JSON form (or the raw bytes)."""
    if (coordinates is None) == (origin is None):
        _fail("give DLQ_TOPIC:OFFSET or --origin TOPIC:PARTITION:OFFSET")
    settings = _guarded(Settings.from_env)
    if coordinates is not None:
        entries = _guarded(lambda: _entries_at(settings, [coordinates]))
    else:
        wanted = _guarded(lambda: parse_coordinates(origin or ""))
        found = _guarded(lambda: asyncio.run(read_dlq(settings.require_kafka(),
                                                      [dlq_topic(wanted[0])])))
        entries = [e for e in found if (e.record.origin_topic, e.record.origin_partition,
                                        e.record.origin_offset) == wanted]
        if not entries:
            _fail(f"no DLQ record comes from {origin}")
    codec = _guarded(lambda: _codec(settings))
    for entry in entries:
        _show(entry, codec, as_json)


def _show(entry: DlqEntry, codec: AvroCodec | None, as_json: bool) -> None:
    value = entry.record.value
    event, error = _decode(codec, value)
    detail = _summary(entry, event, error)
    detail["headers"] = {k: v.decode("utf-8", "replace") for k, v in entry.headers}
    detail["value_bytes"] = len(value)
    detail["event"] = None if event is None else event_to_json(event)
    detail["value_head_hex"] = None if event is not None else value[:64].hex()
    if as_json:
        click.echo(json.dumps(detail, ensure_ascii=False, indent=2))
        return
    click.echo(f"{entry.coordinates} (partition {entry.record.partition}), "
               f"written {detail['timestamp']}")
    click.echo("headers:")
    for name, text in entry.headers:
        click.echo(f"  {name}: {text.decode('utf-8', 'replace')}")
    click.echo(f"key: {_key(entry)}")
    try:
        framing = f", schema id {schema_id_of(value)}"
    except OnestopSchemaError:
        framing = ""
    click.echo(f"value: {len(value)} bytes{framing}")
    if event is not None:
        click.echo("event:")
        click.echo(json.dumps(detail["event"], ensure_ascii=False, indent=2))
    else:
        click.echo(f"not decodable: {error}")
        click.echo(f"first {min(64, len(value))} bytes: {value[:64].hex()}")


@dlq.command()
@click.argument("coordinates", nargs=-1, metavar="[DLQ_TOPIC:OFFSET]...")
@click.option("--class", "error_class", default=None, help="every record of this error.class")
@click.option("--all", "everything", is_flag=True, help="every DLQ record")
@click.option("--topic", type=ORIGINS, default=None, help="with --class/--all: only this DLQ")
@click.option("--dry-run", is_flag=True, help="say what would be re-published, publish nothing")
def retry(coordinates: tuple[str, ...], error_class: str | None, everything: bool,
          topic: str | None, dry_run: bool) -> None:
    """Re-publish DLQ records' original key and value to their origin topic and partition
    (header onestop.retry-of), after the cause is fixed. Safe to repeat: the projections
    skip events they already applied."""
    if sum((bool(coordinates), error_class is not None, everything)) != 1:
        _fail("give DLQ_TOPIC:OFFSET..., --class CLASS or --all (exactly one)")
    settings = _guarded(Settings.from_env)
    if coordinates:
        entries = _guarded(lambda: _entries_at(settings, coordinates))
    else:
        found = _guarded(lambda: asyncio.run(read_dlq(settings.require_kafka(), _topics(topic))))
        entries, seen = [], set()
        for e in found:  # one re-publication per origin record (the DLQ may repeat one)
            if error_class in (None, e.record.error_class) and e.origin not in seen:
                seen.add(e.origin)
                entries.append(e)
    unknown = [e.coordinates for e in entries if e.record.origin_partition < 0]
    if unknown:
        _fail(f"DLQ records without origin headers: {', '.join(unknown)}")
    if dry_run:
        for e in entries:
            click.echo(f"would re-publish {e.coordinates} ({e.record.error_class}) "
                       f"to {e.record.origin_topic}:{e.record.origin_partition} (was {e.origin})")
        click.echo(f"dry run: {len(entries)} records would be re-published")
        return
    placed = _guarded(lambda: asyncio.run(republish(settings.require_kafka(), entries)))
    for e, (partition, offset) in zip(entries, placed, strict=True):
        click.echo(f"re-published {e.coordinates} ({e.record.error_class}) as "
                   f"{e.record.origin_topic}:{partition}:{offset} (was {e.origin})")
    click.echo(f"{len(entries)} records re-published; `onestop worker` applies them")
    _parked_notes(settings, entries)


def _parked_notes(settings: Settings, entries: Sequence[DlqEntry]) -> None:
    """Tell which re-published records will only be parked again behind their aggregate."""
    codec = _codec(settings)
    keys = {(ev.TOPIC, ev.aggregate_id) for ev in (_decode(codec, e.record.value)[0]
                                                   for e in entries) if ev is not None}
    engine = make_engine(settings.database_url, sqlite_begin="DEFERRED")
    try:
        stores = {v.projection: ProjectionStore(engine, v.projection, v.version)
                  for v in read_store(engine) if v.role == "live" and v.version is not None}
        parked = parked_aggregates(engine, stores, keys) if keys and stores else set()
    finally:
        engine.dispose()
    for key in sorted(parked):
        click.echo(f"note: {key[0]} aggregate {key[1]} is parked; its re-published record will "
                   f"be parked behind it: run `{release_hint(key)}` once the worker consumed it")


@dlq.command()
@click.argument("aggregate_id")
@click.option("--topic", type=ORIGINS, default=DOSSIER_TOPIC, show_default=True,
              help="the aggregate's topic")
@click.option("--dry-run", is_flag=True, help="fold and report, then roll back")
def release(aggregate_id: str, topic: str, dry_run: bool) -> None:
    """Apply a parked aggregate's held-back events in aggregate_seq order, in every
    projection (one transaction each); what is rejected again is parked again and sent to
    the DLQ again. Exit 3 if the aggregate is still parked afterwards."""
    settings = _guarded(Settings.from_env)

    def run() -> list[ReleaseReport]:
        engine = open_engine(settings)
        try:
            return release_aggregate(
                engine, live_stores(engine), open_codec(settings),
                build_policies(settings.pii_hmac_key.encode("utf-8")), (topic, aggregate_id),
                max_record_bytes=settings.max_record_bytes,
                send=kafka_sink(settings.require_kafka),
                dry_run=dry_run)
        finally:
            engine.dispose()

    reports: list[ReleaseReport] = _guarded(run)
    for report in reports:
        click.echo(report.describe((topic, aggregate_id)))
    if dry_run:
        click.echo("dry run: nothing written, nothing sent")
    if any(r.after[1] is not None for r in reports):
        sys.exit(STILL_PARKED)

