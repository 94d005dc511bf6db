"""Load the `.avsc` files of `schemas/avro/` into standalone, parsed event schemas.

Every file holds one named type and is called `<full name>.avsc`. Event schemas refer
to enums and nested records by full name; `expand` inlines each named type at its first
use (later uses stay references, as Avro requires), which gives the standalone schema
that is registered for the event. The result is the same schema that
`fastavro.schema.load_schema` builds from the same directory (a test checks this).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import fastavro

from schemas.errors import SchemaLoadError
from schemas.events import EVENT_TYPES, Event, full_name

__all__ = [
    "AVRO_DIR",
    "ENVELOPE_NAME",
    "EventSchema",
    "build_event_schema",
    "event_schemas",
    "expand",
    "load_event_schemas",
    "load_named_schemas",
    "subject_name",
]

AVRO_DIR: Final[Path] = Path(__file__).resolve().with_name("avro")
ENVELOPE_NAME: Final[str] = "vn.dvc.Envelope"

_PRIMITIVES: Final[frozenset[str]] = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)


@dataclass(frozen=True, slots=True, eq=False)
class EventSchema:
    """One event type with its standalone Avro schema.

    `schema` is the expanded JSON object, `text` the exact JSON text registered for it,
    `parsed` the fastavro-parsed schema (parsed once, used for every read and write).
    """

    event_type: type[Event]
    full_name: str
    topic: str
    schema: Mapping[str, Any]
    text: str
    parsed: Any

    @property
    def subject(self) -> str:
        """The subject on the event's own topic (topic-record-name strategy)."""
        return subject_name(self.topic, self.full_name)


def subject_name(topic: str, record_full_name: str) -> str:
    """`<topic>-<namespace>.<EventType>`: Confluent's TopicRecordNameStrategy."""
    return f"{topic}-{record_full_name}"


def _own_name(schema: Mapping[str, Any], namespace: str) -> tuple[str, str]:
    """(full name, namespace for names inside it) of a named schema."""
    name = str(schema["name"])
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    ns = str(schema.get("namespace", namespace))
    return (f"{ns}.{name}" if ns else name), ns


def load_named_schemas(directory: Path = AVRO_DIR) -> dict[str, dict[str, Any]]:
    """Every `<full name>.avsc` of `directory`, keyed by full name, checked against it."""
    named: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.avsc")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SchemaLoadError(f"{path.name}: cannot read JSON: {exc}") from exc
        if not isinstance(schema, dict) or "name" not in schema:
            raise SchemaLoadError(f"{path.name}: not a named Avro schema")
        name, _ = _own_name(schema, "")
        if f"{name}.avsc" != path.name:
            raise SchemaLoadError(f"{path.name}: holds {name!r}; the file must be {name}.avsc")
        named[name] = schema
    return named


def expand(schema: Mapping[str, Any], named: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`schema` with every referenced named type inlined at its first use."""
    defined: set[str] = set()

    def walk(node: Any, namespace: str) -> Any:
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return node
            ref = node if "." in node or not namespace else f"{namespace}.{node}"
            if ref in defined:
                return ref
            if ref not in named:
                raise SchemaLoadError(f"unknown named type {ref!r}")
            return walk(copy.deepcopy(dict(named[ref])), namespace)
        if isinstance(node, list):
            return [walk(branch, namespace) for branch in node]
        if not isinstance(node, dict):
            raise SchemaLoadError(f"not an Avro schema: {node!r}")
        kind = node.get("type")
        out = dict(node)
        if kind in ("record", "error", "enum", "fixed"):
            own, inner_ns = _own_name(node, namespace)
            if own in defined:
                raise SchemaLoadError(f"named type {own!r} is defined twice")
            defined.add(own)
            if kind in ("record", "error"):
                out["fields"] = [
                    {**field, "type": walk(field["type"], inner_ns)} for field in node["fields"]
                ]
        elif kind == "array":
            out["items"] = walk(node["items"], namespace)
        elif kind == "map":
            out["values"] = walk(node["values"], namespace)
        else:
            out["type"] = walk(kind, namespace)
            if not isinstance(out["type"], str):  # {"type": {"type": ...}}: unwrap
                return out["type"]
        return out

    result = walk(dict(schema), "")
    if not isinstance(result, dict):
        raise SchemaLoadError("an event schema must be a record")
    return result


def build_event_schema(event_type: type[Event], schema: Mapping[str, Any]) -> EventSchema:
    """An `EventSchema` from a standalone (already expanded) record schema.

    Tests use it for other versions of an event's schema; `event_type` may then be a
    test class whose `NAMESPACE` and `TYPE` give the same full name.
    """
    name = full_name(event_type)
    if schema.get("type") != "record":
        raise SchemaLoadError(f"{name}: an event schema must be a record")
    own, _ = _own_name(schema, "")
    if own != name:
        raise SchemaLoadError(f"schema {own!r} does not match event type {name!r}")
    text = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    try:
        parsed = fastavro.parse_schema(json.loads(text))
    except Exception as exc:  # fastavro raises several unrelated types here
        raise SchemaLoadError(f"{name}: {exc}") from exc
    return EventSchema(
        event_type=event_type,
        full_name=name,
        topic=event_type.TOPIC,
        schema=json.loads(text),
        text=text,
        parsed=parsed,
    )


def _event_schema(event_type: type[Event], named: Mapping[str, Mapping[str, Any]]) -> EventSchema:
    name = full_name(event_type)
    if name not in named:
        raise SchemaLoadError(f"no {name}.avsc for event type {event_type.__name__}")
    return build_event_schema(event_type, expand(named[name], named))


def load_event_schemas(
    directory: Path = AVRO_DIR, event_types: Iterable[type[Event]] | None = None
) -> dict[str, EventSchema]:
    """The standalone schema of every event type, keyed by Avro full name."""
    named = load_named_schemas(directory)
    types = EVENT_TYPES.values() if event_types is None else event_types
    schemas = {}
    for event_type in types:
        schema = _event_schema(event_type, named)
        schemas[schema.full_name] = schema
    return schemas


@cache
def event_schemas() -> Mapping[str, EventSchema]:
    """The project's event schemas from `schemas/avro/`, loaded and parsed once."""
    return load_event_schemas()
