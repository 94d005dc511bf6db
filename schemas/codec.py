"""`AvroCodec`: events <-> Confluent-framed Avro, schema ids from a schema registry.

Frame: magic byte `0`, the schema id as 4 big-endian bytes, the Avro binary body.

Encoding registers (or looks up) the event's standalone schema under the subject
`<topic>-<namespace>.<EventType>` once per (topic, type) and caches the id. Decoding
fetches the writer schema by id once, caches a reader for it, and reads with today's
reader schema of the same full name (Avro schema resolution: fields added with a default
are filled in, fields removed are skipped). Every failure becomes a `DecodeError` with a
DLQ `error_class`; `decode_batch` returns those in place of events so one bad record
never breaks a batch. Registry outages raise `RegistryUnavailableError` instead: those are
not the record's fault and must not send it to the DLQ.

The registry client is synchronous; ids are cached, so the hot path does no I/O. An async
caller (the faust worker) awaits `prefetch(batch)` / `prepare(topic, types)` first, which
fetch unknown ids in a worker thread, then calls the sync methods.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import fastavro
from fastavro.schema import to_parsing_canonical_form

from schemas import compat
from schemas.avro_schemas import EventSchema, event_schemas, subject_name
from schemas.errors import (
    BadValueError,
    DecodeError,
    EncodeError,
    IncompatibleWriterSchemaError,
    NotAvroError,
    RecordTooLargeError,
    SchemaLoadError,
    SchemaNotFoundError,
    SubjectNotFoundError,
    TruncatedRecordError,
    UnknownEnumSymbolError,
    UnknownEventTypeError,
    UnknownSchemaIdError,
)
from schemas.events import Event
from schemas.records import EventConverter, build_converter
from schemas.registry import SchemaRegistryClient

__all__ = ["MAGIC_BYTE", "AvroCodec", "schema_id_of"]

MAGIC_BYTE: Final[int] = 0
_HEADER: Final[struct.Struct] = struct.Struct(">bI")


def schema_id_of(data: bytes) -> int:
    """The schema id of a Confluent-framed record; `NotAvroError` if it is not one."""
    if len(data) < _HEADER.size:
        raise NotAvroError(f"record of {len(data)} bytes is shorter than the 5-byte header")
    if data[0] != MAGIC_BYTE:
        raise NotAvroError(f"magic byte is {data[0]}, expected {MAGIC_BYTE}")
    return int.from_bytes(data[1:5], "big")


@dataclass(frozen=True, slots=True)
class _Writer:
    """What encoding one event type to one topic needs."""

    header: bytes
    parsed: Any
    converter: EventConverter


@dataclass(frozen=True, slots=True)
class _Reader:
    """What decoding records of one schema id needs (or the error they all raise)."""

    schema_id: int
    writer: Any = None
    reader: Any = None  # None: the writer schema is today's schema, no resolution needed
    converter: EventConverter | None = None
    error: DecodeError | None = None


class AvroCodec:
    """Encode events for a topic and decode records of any of our topics.

    `schemas` defaults to the project's `.avsc` files; tests pass other versions.
    With `auto_register=False`, encoding only looks schemas up and fails if the subject
    does not hold them (run `onestop schemas register` first).
    """

    def __init__(
        self,
        registry: SchemaRegistryClient,
        *,
        schemas: Mapping[str, EventSchema] | None = None,
        auto_register: bool = True,
        max_record_bytes: int | None = None,
    ) -> None:
        self.registry = registry
        self._schemas = dict(event_schemas() if schemas is None else schemas)
        _check_schemas(self._schemas)
        self._by_type = {s.event_type: s for s in self._schemas.values()}
        self._converters = {
            name: build_converter(s.event_type, s.schema) for name, s in self._schemas.items()
        }
        self._canonical = {
            name: to_parsing_canonical_form(s.parsed) for name, s in self._schemas.items()
        }
        self._auto_register = auto_register
        self._max_record_bytes = max_record_bytes
        self._writers: dict[tuple[str, type[Event]], _Writer] = {}
        self._readers: dict[int, _Reader] = {}
        self._lock = threading.Lock()

    # --- encoding ------------------------------------------------------------------------

    def schema_id(self, topic: str, event_type: type[Event]) -> int:
        """The registry id of `event_type`'s schema under its subject on `topic` (cached)."""
        return int.from_bytes(self._writer(topic, event_type).header[1:5], "big")

    def _writer(self, topic: str, event_type: type[Event]) -> _Writer:
        key = (topic, event_type)
        writer = self._writers.get(key)
        if writer is not None:
            return writer
        schema = self._by_type.get(event_type)
        if schema is None:
            raise EncodeError(event_type.__name__, None, "not an event type of this codec")
        subject = subject_name(topic, schema.full_name)
        if self._auto_register:
            schema_id = self.registry.register(subject, schema.text)
        else:
            found = self.registry.lookup(subject, schema.text)
            if found is None:
                raise SubjectNotFoundError(
                    f"schema {schema.full_name} is not registered under {subject!r}: "
                    "run `onestop schemas register`"
                )
            schema_id = found.schema_id
        writer = _Writer(
            header=_HEADER.pack(MAGIC_BYTE, schema_id),
            parsed=schema.parsed,
            converter=self._converters[schema.full_name],
        )
        with self._lock:
            self._writers[key] = writer
        return writer

    def encode(self, topic: str, event: Event) -> bytes:
        """The framed Avro bytes of `event` for `topic`; `EncodeError` names a bad field."""
        writer = self._writer(topic, type(event))
        record = writer.converter.to_record(event)
        out = io.BytesIO()
        out.write(writer.header)
        try:
            fastavro.schemaless_writer(out, writer.parsed, record)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(event.TYPE, None, str(exc)) from exc
        data = out.getvalue()
        if self._max_record_bytes is not None and len(data) > self._max_record_bytes:
            raise RecordTooLargeError(
                event.TYPE, None, f"{len(data)} bytes exceed the limit of {self._max_record_bytes}"
            )
        return data

    async def prepare(self, topic: str, event_types: Iterable[type[Event]]) -> None:
        """Resolve the schema ids of `event_types` on `topic` off the event loop."""
        for event_type in event_types:
            if (topic, event_type) not in self._writers:
                await asyncio.to_thread(self._writer, topic, event_type)

    # --- decoding ------------------------------------------------------------------------

    def _reader(self, schema_id: int) -> _Reader:
        reader = self._readers.get(schema_id)
        if reader is None:
            reader = self._load_reader(schema_id)
            if not isinstance(reader.error, UnknownSchemaIdError):  # may be registered later
                with self._lock:
                    self._readers[schema_id] = reader
        return reader

    def _load_reader(self, schema_id: int) -> _Reader:
        try:
            text = self.registry.get_schema(schema_id)
        except SchemaNotFoundError as exc:
            unknown = UnknownSchemaIdError(str(exc), schema_id=schema_id)
            unknown.__cause__ = exc
            return _Reader(schema_id, error=unknown)
        try:
            writer = fastavro.parse_schema(json.loads(text))
        except Exception as exc:  # json and fastavro raise many unrelated types
            bad = IncompatibleWriterSchemaError(
                f"writer schema {schema_id} does not parse: {exc}", schema_id=schema_id
            )
            bad.__cause__ = exc
            return _Reader(schema_id, error=bad)
        name = writer.get("name") if isinstance(writer, dict) else None
        if name not in self._schemas:
            error = UnknownEventTypeError(
                f"schema {schema_id} is {name or 'not a record'}, not an event type",
                schema_id=schema_id,
            )
            return _Reader(schema_id, error=error)
        same = to_parsing_canonical_form(writer) == self._canonical[name]
        return _Reader(
            schema_id,
            writer=writer,
            reader=None if same else self._schemas[name].parsed,
            converter=self._converters[name],
        )

    def check_reader(self, schema_id: int) -> DecodeError | None:
        """Why records written with `schema_id` cannot all be read with today's reader
        (None: they can), without reading a record: the writer schema is fetched (cached)
        and checked against today's schema of the same name by Avro's resolution rules
        (`schemas.compat`). Registry outages raise `RegistryUnavailableError`."""
        reader = self._reader(schema_id)
        if reader.error is not None:
            return reader.error
        if reader.reader is None:
            return None
        found = compat.problems(reader.reader, reader.writer)
        if not found:
            return None
        return IncompatibleWriterSchemaError(
            f"writer schema {schema_id} cannot be resolved to today's reader: "
            + "; ".join(found),
            schema_id=schema_id,
        )

    def decode(self, data: bytes) -> Event:
        """The event in a framed record; a `DecodeError` subclass says why not."""
        schema_id = schema_id_of(data)
        reader = self._readers.get(schema_id) or self._reader(schema_id)
        if reader.error is not None:
            raise reader.error
        assert reader.converter is not None
        body = io.BytesIO(data)
        body.seek(_HEADER.size)
        try:
            record = fastavro.schemaless_reader(body, reader.writer, reader.reader)
        except EOFError as exc:
            raise TruncatedRecordError(
                f"Avro body ends early ({len(data)} bytes): {exc}", schema_id=schema_id
            ) from exc
        except fastavro.read.SchemaResolutionError as exc:
            raise self._resolution_error(exc, schema_id) from exc
        except (ValueError, IndexError, TypeError, OverflowError) as exc:
            raise BadValueError(
                f"malformed Avro body: {type(exc).__name__}: {exc}", schema_id=schema_id
            ) from exc
        if not isinstance(record, dict):
            raise BadValueError(f"writer schema {schema_id} is not a record", schema_id=schema_id)
        if body.tell() != len(data):
            raise BadValueError(
                f"{len(data) - body.tell()} trailing bytes after the record", schema_id=schema_id
            )
        try:
            return reader.converter.from_record(record)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadValueError(
                f"value rejected by the event type: {exc}", schema_id=schema_id
            ) from exc

    @staticmethod
    def _resolution_error(exc: Exception, schema_id: int) -> DecodeError:
        text = str(exc)
        if "not found in reader symbol list" in text:
            return UnknownEnumSymbolError(f"unknown enum symbol: {text}", schema_id=schema_id)
        return IncompatibleWriterSchemaError(
            f"cannot resolve writer schema {schema_id}: {text}", schema_id=schema_id
        )

    def decode_batch(self, batch: Sequence[bytes]) -> list[Event | DecodeError]:
        """Decode every record; a record that cannot be decoded yields its `DecodeError`."""
        out: list[Event | DecodeError] = []
        for data in batch:
            try:
                out.append(self.decode(data))
            except DecodeError as exc:
                out.append(exc)
        return out

    async def prefetch(self, batch: Iterable[bytes]) -> None:
        """Fetch the writer schemas of `batch` that are not cached yet, off the event loop."""
        missing: set[int] = set()
        for data in batch:
            if len(data) >= _HEADER.size and data[0] == MAGIC_BYTE:
                schema_id = int.from_bytes(data[1:5], "big")
                if schema_id not in self._readers:
                    missing.add(schema_id)
        for schema_id in sorted(missing):
            await asyncio.to_thread(self._reader, schema_id)

    async def decode_batch_async(self, batch: Sequence[bytes]) -> list[Event | DecodeError]:
        """`prefetch` then `decode_batch`."""
        await self.prefetch(batch)
        return self.decode_batch(batch)


def _check_schemas(schemas: Mapping[str, EventSchema]) -> None:
    """Raise `SchemaLoadError` if a key is not the schema's full name."""
    for name, schema in schemas.items():
        if name != schema.full_name:
            raise SchemaLoadError(f"schema {schema.full_name} is keyed as {name!r}")
