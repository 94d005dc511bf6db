"""The wire contract: event types, `.avsc` schemas, the Avro codec and the registry client.

Modules (import what you need; the names below are also re-exported lazily, so
`import schemas.events` stays cheap and does not load fastavro or httpx):

- `schemas.events`: the events as frozen dataclasses;
- `schemas.avro_schemas`: the `.avsc` files loaded into standalone event schemas;
- `schemas.records`: event <-> fastavro record conversion;
- `schemas.codec`: `AvroCodec`, Confluent framing;
- `schemas.registry`, `schemas.registry_memory`: the registry port, its HTTP adapter, its fake;
- `schemas.compat`: Avro compatibility rules without I/O;
- `schemas.errors`: the exception tree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.avro_schemas import (
        AVRO_DIR,
        EventSchema,
        build_event_schema,
        event_schemas,
        load_event_schemas,
        subject_name,
    )
    from schemas.codec import AvroCodec, schema_id_of
    from schemas.errors import (
        BadValueError,
        DecodeError,
        EncodeError,
        IncompatibleSchemaError,
        IncompatibleWriterSchemaError,
        InvalidSchemaError,
        NotAvroError,
        NotFoundError,
        OnestopSchemaError,
        RecordTooLargeError,
        RegistryError,
        RegistryUnavailableError,
        SchemaLoadError,
        SchemaNotFoundError,
        SubjectNotFoundError,
        TruncatedRecordError,
        UnknownEnumSymbolError,
        UnknownEventTypeError,
        UnknownSchemaIdError,
        VersionNotFoundError,
    )
    from schemas.registry import (
        CompatibilityLevel,
        CompatibilityResult,
        HttpSchemaRegistry,
        RegisteredSchema,
        SchemaRegistryClient,
    )
    from schemas.registry_memory import InMemorySchemaRegistry

__all__ = [
    "AVRO_DIR",
    "AvroCodec",
    "BadValueError",
    "CompatibilityLevel",
    "CompatibilityResult",
    "DecodeError",
    "EncodeError",
    "EventSchema",
    "HttpSchemaRegistry",
    "InMemorySchemaRegistry",
    "IncompatibleSchemaError",
    "IncompatibleWriterSchemaError",
    "InvalidSchemaError",
    "NotAvroError",
    "NotFoundError",
    "OnestopSchemaError",
    "RecordTooLargeError",
    "RegisteredSchema",
    "RegistryError",
    "RegistryUnavailableError",
    "SchemaLoadError",
    "SchemaNotFoundError",
    "SchemaRegistryClient",
    "SubjectNotFoundError",
    "TruncatedRecordError",
    "UnknownEnumSymbolError",
    "UnknownEventTypeError",
    "UnknownSchemaIdError",
    "VersionNotFoundError",
    "build_event_schema",
    "event_schemas",
    "load_event_schemas",
    "schema_id_of",
    "subject_name",
]

_HOME = {
    **dict.fromkeys(
        [
            "AVRO_DIR",
            "EventSchema",
            "build_event_schema",
            "event_schemas",
            "load_event_schemas",
            "subject_name",
        ],
        "schemas.avro_schemas",
    ),
    **dict.fromkeys(["AvroCodec", "schema_id_of"], "schemas.codec"),
    **dict.fromkeys(
        [
            "CompatibilityLevel",
            "CompatibilityResult",
            "HttpSchemaRegistry",
            "RegisteredSchema",
            "SchemaRegistryClient",
        ],
        "schemas.registry",
    ),
    "InMemorySchemaRegistry": "schemas.registry_memory",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        module = _HOME[name]
    elif name in __all__:
        module = "schemas.errors"
    else:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
