"""The JSON form of events (CONTRACT.md, "JSON form"), both ways, for `onestop publish`
and HTTP ingest.

One JSON object per line. `"type"` names the event; the envelope and the event's fields
follow by name at the top level::

    {"type": "DossierReceived", "aggregate_id": "8d3c2a4e-...", "aggregate_seq": 2,
     "occurred_at": "2020-11-06T09:15:00+07:00", "source_system": "motcua.H56.14",
     "province_code": "H56", "dossier_code": "000.00.14.H56-201106-0001",
     "handling_agency_code": "H56.14", "due_at": "2020-11-13T17:00:00+07:00"}

Reading (`event_from_json`, `parse_jsonl`) checks, and names line and field path
(`documents[2].copies`, `applicant.kind`) for every problem:

- the type is known (else near matches, or the list of types, are named);
- every required field is there and no unknown field is (a typo is never dropped silently);
  fields typed `X | None` (and `correlation_id`) may be left out and then are None;
- JSON types are exact: a string for text, an integer (64-bit) for numbers, never a float
  or `true` for an integer, `true`/`false` for booleans, an array for `levels`,
  `legal_bases`, `documents`, `holidays`, `swapped_working_days`, an object for
  `time_limit`, `documents[i]` and `applicant`;
- timestamps are ISO 8601 **with** an offset (`2020-11-06T09:15:00+07:00`, `...Z`); a naive
  time is rejected. They are normalised to UTC and **truncated** (not rounded) to
  milliseconds, the precision of Avro `timestamp-millis`;
- dates are exactly `YYYY-MM-DD`; enums are their symbol strings (case matters); text is
  valid Unicode (a lone surrogate from a `\\ud800` escape is rejected);
- `aggregate_seq` >= 1; `aggregate_id`, `source_system`, `province_code` are not empty;
- `event_id`, if given, is a UUID (8-4-4-4-12 hex, any case, stored lower case); left out
  or null, it is derived (below);
- the key: a dossier event's `aggregate_id` is a UUID (the dossier id, stored lower case);
  a catalogue event's `aggregate_id` is its `procedure_code`, else its `agency_code`, else
  its `sector_code`, else `calendar-<year>` (CONTRACT.md, "Topics").

`parse_jsonl` also checks a whole file: blank lines are skipped, every error is collected
(it never stops at the first), and two different events may not claim the same
(topic, `aggregate_id`, `aggregate_seq`) or the same `event_id` (an identical repeat is
fine: it is a re-send).

Not checked here: a key repeated within one object (JSON decoding keeps the last); the
32-bit range of the Avro `int` fields (`year`, `time_limit.value`, `originals`, `copies`:
every integer is checked as a 64-bit long; the codec rejects larger `int`s); business rules
(transitions, gaps in `aggregate_seq`), which the processors apply.

Event ids
---------
When `event_id` is left out it is derived, so re-publishing the same file changes
nothing::

    namespace = uuid5(NAMESPACE_URL, "urn:onestop-sync:event")
    event_id  = str(uuid5(namespace, f"{source_system}|{aggregate_id}|{aggregate_seq}"))

using the values as stored (a dossier `aggregate_id` in lower case). See
`derive_event_id`.

Writing (`event_to_json`) gives `"type"` first, then the envelope, then the fields in
declaration order, every field present (`null` when None); times in Vietnam time
(`+07:00`, with milliseconds only when non-zero), dates as `YYYY-MM-DD`, enums as symbols,
tuples as lists. `event_from_json(event_to_json(e)) == e` for every valid event.

Exceptions
----------
::

    OnestopSchemaError (schemas.errors), ValueError
     └── JsonFormError    a line or object is not a valid event in JSON form: reject it
                          (publish nothing / HTTP 400), naming `line`, `field`, `reason`
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final

from schemas._json_fields import (
    DERIVE,
    REQUIRED,
    RecordSpec,
    build_record_spec,
    decode_fields,
)
from schemas._json_values import (
    Decode,
    Problem,
    decode_nonempty_str,
    decode_positive_long,
    decode_uuid,
    did_you_mean,
    render_path,
    show,
)
from schemas.errors import OnestopSchemaError
from schemas.events import EVENT_TYPES, CatalogueEvent, DossierEvent, Event

__all__ = [
    "EVENT_ID_NAMESPACE",
    "JsonFormError",
    "derive_event_id",
    "event_from_json",
    "event_to_json",
    "parse_jsonl",
]

#: The UUIDv5 namespace of derived event ids.
EVENT_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:onestop-sync:event")


class JsonFormError(OnestopSchemaError, ValueError):
    """A line or object that is not a valid event in JSON form.

    `line` is 1-based (None outside a file), `field` a path such as `documents[2].copies`
    (None when the problem is the whole line). When `event_from_json` finds several
    problems in one object it raises the first, and `errors` holds them all.
    """

    def __init__(self, reason: str, line: int | None = None, field: str | None = None) -> None:
        super().__init__(reason, line, field)
        self.reason = reason
        self.line = line
        self.field = field
        self.errors: tuple[JsonFormError, ...] = (self,)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        if self.field is not None:
            where += f"field '{self.field}': "
        return where + self.reason


_NAMESPACE_BYTES: Final = EVENT_ID_NAMESPACE.bytes


def derive_event_id(source_system: str, aggregate_id: str, aggregate_seq: int) -> str:
    """The event id used when a JSON line leaves it out: UUIDv5, deterministic.

    Equal to `str(uuid.uuid5(EVENT_ID_NAMESPACE, name))` with
    `name = f"{source_system}|{aggregate_id}|{aggregate_seq}"`, computed without building
    `UUID` objects (several times faster; it runs once per line).
    """
    name = f"{source_system}|{aggregate_id}|{aggregate_seq}".encode()
    h = hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).hexdigest()
    variant = "89ab"[int(h[16], 16) & 3]  # RFC 4122 variant bits; "5" is the version
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


# --- per-type tables, built once ---------------------------------------------------------


def _decode_optional_uuid(value: Any) -> str | None:
    return None if value is None else decode_uuid(value)


_ENVELOPE_RULES: Final[dict[str, tuple[Decode, int]]] = {
    "event_id": (_decode_optional_uuid, DERIVE),
    "aggregate_id": (decode_nonempty_str, REQUIRED),
    "aggregate_seq": (decode_positive_long, REQUIRED),
    "source_system": (decode_nonempty_str, REQUIRED),
    "province_code": (decode_nonempty_str, REQUIRED),
}
_DOSSIER_RULES: Final = {**_ENVELOPE_RULES, "aggregate_id": (decode_uuid, REQUIRED)}
_CATALOGUE_KEY_FIELDS: Final = ("procedure_code", "agency_code", "sector_code", "year")
_TYPE_KEY: Final = frozenset({"type"})


def _key_field(cls: type[Event]) -> str | None:
    """The field a catalogue event's aggregate_id must match, or None."""
    if not issubclass(cls, CatalogueEvent):
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return next((name for name in _CATALOGUE_KEY_FIELDS if name in names), None)


def _build(cls: type[Event]) -> tuple[RecordSpec, str | None]:
    rules = _DOSSIER_RULES if issubclass(cls, DossierEvent) else _ENVELOPE_RULES
    return build_record_spec(cls, rules), _key_field(cls)


_SPECS: Final[dict[str, tuple[RecordSpec, str | None]]] = {
    name: _build(cls) for name, cls in EVENT_TYPES.items()
}
_SPECS_BY_CLASS: Final = {spec.cls: spec for spec, _ in _SPECS.values()}


# --- reading -----------------------------------------------------------------------------


def _unknown_type(name: str) -> str:
    close = did_you_mean(name, EVENT_TYPES)
    if close:
        return f"unknown event type {show(name)} (did you mean {close}?)"
    return f"unknown event type {show(name)}; no type is close, known: {', '.join(EVENT_TYPES)}"


def _decode(obj: Any) -> Event | list[tuple[str | None, str]]:
    """The event, or every problem as (field path, reason)."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        kind = "an array" if isinstance(obj, list) else show(obj)
        return [(None, f"expected a JSON object, got {kind}")]
    if "type" not in obj:
        return [("type", "required field is missing")]
    type_name = obj["type"]
    if not isinstance(type_name, str):
        return [("type", f"expected a string naming the event type, got {show(type_name)}")]
    entry = _SPECS.get(type_name)
    if entry is None:
        return [("type", _unknown_type(type_name))]
    spec, key_field = entry
    kwargs, problems = decode_fields(spec, obj, _TYPE_KEY)
    if key_field is not None and "aggregate_id" in kwargs and key_field in kwargs:
        key_problem = _check_key(kwargs["aggregate_id"], key_field, kwargs[key_field])
        if key_problem:
            problems.append(key_problem)
    if problems:
        return [(render_path(path), reason) for path, reason in problems]
    if kwargs.get("event_id") is None:
        kwargs["event_id"] = derive_event_id(
            kwargs["source_system"], kwargs["aggregate_id"], kwargs["aggregate_seq"]
        )
    event: Event = spec.cls(**kwargs)
    return event


def _check_key(aggregate_id: str, key_field: str, key_value: Any) -> Problem | None:
    expected = f"calendar-{key_value}" if key_field == "year" else key_value
    if aggregate_id == expected:
        return None
    return (
        ("aggregate_id",),
        f"{show(aggregate_id)} must be the aggregate key {show(expected)} "
        f"(from {key_field}; see CONTRACT.md, Topics)",
    )


def event_from_json(obj: Mapping[str, Any], *, line: int | None = None) -> Event:
    """Validate a decoded JSON object and build its event.

    Raises `JsonFormError` (the first problem; `.errors` holds every one).
    """
    result = _decode(obj)
    if isinstance(result, Event):
        return result
    errors = [JsonFormError(reason, line, field) for field, reason in result]
    first = errors[0]
    first.errors = tuple(errors)
    raise first


def parse_jsonl(lines: Iterable[str]) -> tuple[list[Event], list[JsonFormError]]:
    """Parse JSON lines (line numbers from 1; blank lines skipped), collecting every error.

    Returns the valid events in file order and the errors in line order; a caller that
    must publish all or nothing publishes only when the error list is empty.
    """
    events: list[Event] = []
    errors: list[JsonFormError] = []
    by_position: dict[tuple[str, str, int], tuple[int, Event]] = {}
    by_id: dict[str, tuple[int, Event]] = {}
    loads = json.loads
    for number, text in enumerate(lines, start=1):
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]  # a UTF-8 byte order mark read as text
        if not text or text.isspace():
            continue
        try:
            obj = loads(text)
        except json.JSONDecodeError as exc:
            errors.append(JsonFormError(f"invalid JSON: {exc.msg} (column {exc.colno})", number))
            continue
        except (ValueError, RecursionError) as exc:  # e.g. an integer with too many digits
            errors.append(JsonFormError(f"invalid JSON: {exc}", number))
            continue
        result = _decode(obj)
        if not isinstance(result, Event):
            errors.extend(JsonFormError(reason, number, field) for field, reason in result)
            continue
        position = (result.TOPIC, result.aggregate_id, result.aggregate_seq)
        seen = by_position.setdefault(position, (number, result))
        if seen[1] is not result and seen[1] != result:
            errors.append(
                JsonFormError(
                    f"aggregate {show(result.aggregate_id)} already has aggregate_seq "
                    f"{result.aggregate_seq} on line {seen[0]}, a different event",
                    number,
                    "aggregate_seq",
                )
            )
            continue
        seen = by_id.setdefault(result.event_id, (number, result))
        if seen[1] is not result and seen[1] != result:
            errors.append(
                JsonFormError(
                    f"event_id {result.event_id} is already used on line {seen[0]} "
                    "by a different event",
                    number,
                    "event_id",
                )
            )
            continue
        events.append(result)
    return events, errors


# --- writing -----------------------------------------------------------------------------


def event_to_json(event: Event) -> dict[str, Any]:
    """A JSON-ready dict: "type" first, then the envelope, then the event's fields."""
    spec = _SPECS_BY_CLASS.get(type(event))
    if spec is None:
        raise TypeError(f"{type(event).__name__} is not an event type of the contract")
    out: dict[str, Any] = {"type": event.TYPE}
    for name, encode in spec.encoders:
        value = getattr(event, name)
        out[name] = value if encode is None else encode(value)
    return out
