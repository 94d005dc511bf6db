"""Event dataclass <-> fastavro record dict, with converters built once per event type.

`build_converter` walks an expanded event schema and the event class together and
returns two closures: `to_record` (strict: checks every value against its Avro type and
raises `EncodeError` naming the field, so nothing invalid reaches the wire) and
`from_record` (fast: only the fields that need it are converted — uuid to `str`, enum
symbol to `StrEnum` member, array to `tuple`, nested record to its dataclass).

Python types for named Avro types (enums, nested records) are looked up by short name in
`schemas.events`, or in the `python_types` mapping given by the caller.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

from schemas import events
from schemas.errors import EncodeError, SchemaLoadError
from schemas.events import Event, full_name

__all__ = ["EventConverter", "build_converter"]

ToAvro = Callable[[Any, str], Any]
"""(value, dotted field path) -> value for fastavro; raises `_Invalid`."""
FromAvro = Callable[[Any], Any]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class _Invalid(Exception):
    """Raised by a `ToAvro` step; `build_converter` turns it into an `EncodeError`."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def _got(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


@dataclass(frozen=True, slots=True)
class EventConverter:
    """The two directions for one event type, built once."""

    event_type: type[Event]
    to_record: Callable[[Event], dict[str, Any]]
    from_record: Callable[[dict[str, Any]], Event]


# --- primitive steps ---------------------------------------------------------------------


def _check_str(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return value
    raise _Invalid(path, f"expected a string, got {_got(value)}")


def _check_uuid(value: Any, path: str) -> Any:
    if isinstance(value, str):
        try:
            if str(uuid.UUID(value)) == value:
                return value
        except ValueError:
            pass
    raise _Invalid(path, f"expected a canonical lowercase UUID string, got {_got(value)}")


def _int_range(low: int, high: int, avro: str) -> ToAvro:
    def check(value: Any, path: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise _Invalid(path, f"expected an Avro {avro} (integer {low}..{high}), got {_got(value)}")

    return check


def _check_bool(value: Any, path: str) -> Any:
    if isinstance(value, bool):
        return value
    raise _Invalid(path, f"expected a boolean, got {_got(value)}")


def _check_date(value: Any, path: str) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise _Invalid(path, f"expected a date, got {_got(value)}")


def _check_timestamp(value: Any, path: str) -> Any:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    raise _Invalid(path, f"expected a timezone-aware datetime, got {_got(value)}")


_PRIMITIVE_STEPS: Final[dict[tuple[str, str | None], ToAvro]] = {
    ("string", None): _check_str,
    ("string", "uuid"): _check_uuid,
    ("int", None): _int_range(_INT_MIN, _INT_MAX, "int"),
    ("long", None): _int_range(_LONG_MIN, _LONG_MAX, "long"),
    ("boolean", None): _check_bool,
    ("int", "date"): _check_date,
    ("long", "timestamp-millis"): _check_timestamp,
}


def _read_uuid(value: Any) -> str:
    """fastavro gives `uuid.UUID`, or a `str` if the writer schema had no logical type."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


_PRIMITIVE_READS: Final[dict[tuple[str, str | None], FromAvro | None]] = {
    ("string", "uuid"): _read_uuid,
}


# --- the walk ----------------------------------------------------------------------------


class _Builder:
    """Walks one expanded schema; remembers named types for later references."""

    def __init__(self, python_types: Mapping[str, type]) -> None:
        self._python_types = python_types
        self._named: dict[str, tuple[ToAvro, FromAvro | None]] = {}

    def python_type(self, avro_name: str) -> type:
        short = avro_name.rsplit(".", 1)[-1]
        found = self._python_types.get(avro_name) or getattr(events, short, None)
        if not isinstance(found, type):
            raise SchemaLoadError(f"no Python type for Avro type {avro_name!r}")
        return found

    def steps(self, node: Any, namespace: str) -> tuple[ToAvro, FromAvro | None]:
        if isinstance(node, str):
            if (node, None) in _PRIMITIVE_STEPS:
                return _PRIMITIVE_STEPS[(node, None)], None
            ref = node if "." in node else f"{namespace}.{node}"
            if ref not in self._named:
                raise SchemaLoadError(f"unsupported or unknown Avro type {node!r}")
            return self._named[ref]
        if isinstance(node, list):
            return self._nullable(node, namespace)
        kind = node["type"]
        if kind == "enum":
            return self._enum(node, namespace)
        if kind == "record":
            return self._record(node, namespace)
        if kind == "array":
            return self._array(node, namespace)
        key = (kind, node.get("logicalType"))
        if key in _PRIMITIVE_STEPS:
            return _PRIMITIVE_STEPS[key], _PRIMITIVE_READS.get(key)
        if isinstance(kind, str) and node.get("logicalType") is None:
            return self.steps(kind, namespace)
        raise SchemaLoadError(f"unsupported Avro type {node!r}")

    def _full_name(self, node: Mapping[str, Any], namespace: str) -> tuple[str, str]:
        name = str(node["name"])
        if "." in name:
            return name, name.rsplit(".", 1)[0]
        ns = str(node.get("namespace", namespace))
        return f"{ns}.{name}", ns

    def _nullable(self, branches: list[Any], namespace: str) -> tuple[ToAvro, FromAvro | None]:
        others = [b for b in branches if b != "null"]
        if len(branches) != 2 or len(others) != 1:
            raise SchemaLoadError(f"only [null, X] unions are supported, got {branches!r}")
        write, read = self.steps(others[0], namespace)

        def to_avro(value: Any, path: str) -> Any:
            return None if value is None else write(value, path)

        if read is None:
            return to_avro, None
        inner_read = read

        def from_avro(value: Any) -> Any:
            return None if value is None else inner_read(value)

        return to_avro, from_avro

    def _enum(self, node: Mapping[str, Any], namespace: str) -> tuple[ToAvro, FromAvro | None]:
        name, _ = self._full_name(node, namespace)
        enum_type = self.python_type(name)
        if not issubclass(enum_type, Enum):
            raise SchemaLoadError(f"{name}: {enum_type.__name__} is not an Enum")
        members: dict[str, Any] = {str(m.value): m for m in enum_type}
        symbols = frozenset(node["symbols"])
        if frozenset(members) != symbols:
            raise SchemaLoadError(
                f"{name}: symbols {sorted(symbols)} differ from {enum_type.__name__} "
                f"{sorted(members)}"
            )

        def to_avro(value: Any, path: str) -> Any:
            if isinstance(value, str) and value in symbols:
                if isinstance(value, Enum) and not isinstance(value, enum_type):
                    raise _Invalid(path, f"expected a {enum_type.__name__}, got {value!r}")
                return value
            raise _Invalid(path, f"expected one of {sorted(symbols)}, got {_got(value)}")

        steps: tuple[ToAvro, FromAvro | None] = (to_avro, members.__getitem__)
        self._named[name] = steps
        return steps

    def _array(self, node: Mapping[str, Any], namespace: str) -> tuple[ToAvro, FromAvro | None]:
        write, read = self.steps(node["items"], namespace)

        def to_avro(value: Any, path: str) -> Any:
            if not isinstance(value, (tuple, list)):
                raise _Invalid(path, f"expected a tuple, got {_got(value)}")
            return [write(item, f"{path}[{i}]") for i, item in enumerate(value)]

        if read is None:
            return to_avro, tuple
        item_read = read

        def from_avro(value: Any) -> Any:
            return tuple(map(item_read, value))

        return to_avro, from_avro

    def record_steps(
        self, node: Mapping[str, Any], namespace: str
    ) -> tuple[type, list[tuple[str, ToAvro]], list[tuple[str, FromAvro]]]:
        """The class, per-field write steps, and the read steps of fields that need one."""
        name, inner_ns = self._full_name(node, namespace)
        record_type = self.python_type(name)
        if not dataclasses.is_dataclass(record_type):
            raise SchemaLoadError(f"{name}: {record_type.__name__} is not a dataclass")
        field_names = [f.name for f in dataclasses.fields(record_type)]
        avro_names = [str(f["name"]) for f in node["fields"]]
        if field_names != avro_names:
            raise SchemaLoadError(
                f"{name}: Avro fields {avro_names} differ from {record_type.__name__} "
                f"fields {field_names} (names and order must match)"
            )
        writes: list[tuple[str, ToAvro]] = []
        reads: list[tuple[str, FromAvro]] = []
        for field in node["fields"]:
            write, read = self.steps(field["type"], inner_ns)
            writes.append((str(field["name"]), write))
            if read is not None:
                reads.append((str(field["name"]), read))
        return record_type, writes, reads

    def _record(self, node: Mapping[str, Any], namespace: str) -> tuple[ToAvro, FromAvro | None]:
        name, _ = self._full_name(node, namespace)
        record_type, writes, reads = self.record_steps(node, namespace)

        def to_avro(value: Any, path: str) -> Any:
            if not isinstance(value, record_type):
                raise _Invalid(path, f"expected a {record_type.__name__}, got {_got(value)}")
            return {n: w(getattr(value, n), f"{path}.{n}") for n, w in writes}

        def from_avro(value: Any) -> Any:
            for n, r in reads:
                value[n] = r(value[n])
            return record_type(**value)

        steps: tuple[ToAvro, FromAvro | None] = (to_avro, from_avro)
        self._named[name] = steps
        return steps


def build_converter(
    event_type: type[Event],
    schema: Mapping[str, Any],
    python_types: Mapping[str, type] | None = None,
) -> EventConverter:
    """Converters between `event_type` and records of the expanded `schema`.

    Raises `SchemaLoadError` when the schema and the class disagree (field names or
    order, enum symbols, unsupported Avro types).
    """
    builder = _Builder({full_name(event_type): event_type, **(python_types or {})})
    record_type, writes, reads = builder.record_steps(schema, "")
    if record_type is not event_type:
        raise SchemaLoadError(f"schema {schema.get('name')!r} is not {event_type.__name__}")
    type_name = event_type.TYPE or event_type.__name__

    def to_record(event: Event) -> dict[str, Any]:
        if type(event) is not event_type:
            raise EncodeError(type_name, None, f"expected a {type_name}, got {_got(event)}")
        try:
            return {n: w(getattr(event, n), n) for n, w in writes}
        except _Invalid as exc:
            raise EncodeError(type_name, exc.path, exc.reason) from exc

    def from_record(record: dict[str, Any]) -> Event:
        for n, r in reads:
            record[n] = r(record[n])
        return event_type(**record)

    return EventConverter(event_type=event_type, to_record=to_record, from_record=from_record)
