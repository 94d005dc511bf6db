"""The exceptions of the `schemas` package, named for what the caller must do.

```
OnestopSchemaError                      root: every error this package raises
├── SchemaLoadError                     .avsc files and event classes disagree: fix the code
├── EncodeError                         an event cannot be written: reject it, name the field
│   └── RecordTooLargeError             the encoded record exceeds the size limit
├── DecodeError                         a record cannot be read: send it to the DLQ (`error_class`)
│   ├── NotAvroError                    not Confluent-framed Avro (too short, bad magic byte)
│   ├── UnknownSchemaIdError            the registry does not know the schema id
│   ├── UnknownEventTypeError           the writer schema is not one of our event types
│   ├── TruncatedRecordError            the Avro body ends early
│   ├── BadValueError                   the body is malformed (bad union index, invalid UTF-8,
│   │                                   trailing bytes, a value the event type rejects)
│   ├── UnknownEnumSymbolError          the writer used an enum symbol this reader lacks
│   └── IncompatibleWriterSchemaError   the writer schema cannot be resolved to the reader's
└── RegistryError                       the schema registry said no or cannot be reached
    ├── RegistryUnavailableError        transport failure or 5xx: retry later, do not DLQ
    ├── InvalidSchemaError              the registry rejected the schema text (422)
    ├── IncompatibleSchemaError         the schema breaks the subject's compatibility rule
    └── NotFoundError                   404
        ├── SubjectNotFoundError
        ├── VersionNotFoundError
        └── SchemaNotFoundError
```

Every `DecodeError` carries a stable machine string `error_class` (the DLQ header
`error.class`) and a human `reason` (the DLQ header `error.reason`). Library errors
(fastavro, httpx) are always wrapped with `raise ... from exc`.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadValueError",
    "DecodeError",
    "EncodeError",
    "IncompatibleSchemaError",
    "IncompatibleWriterSchemaError",
    "InvalidSchemaError",
    "NotAvroError",
    "NotFoundError",
    "OnestopSchemaError",
    "RecordTooLargeError",
    "RegistryError",
    "RegistryUnavailableError",
    "SchemaLoadError",
    "SchemaNotFoundError",
    "SubjectNotFoundError",
    "TruncatedRecordError",
    "UnknownEnumSymbolError",
    "UnknownEventTypeError",
    "UnknownSchemaIdError",
    "VersionNotFoundError",
]

_MAX_REASON = 500


def _clip(text: str) -> str:
    """Keep reasons short enough for a Kafka header and a log line."""
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


class OnestopSchemaError(Exception):
    """Root of every error raised by the `schemas` package."""


class SchemaLoadError(OnestopSchemaError):
    """The `.avsc` files are invalid or disagree with the event classes."""


class EncodeError(OnestopSchemaError):
    """An event cannot be encoded; `field` names the offending field (dotted path)."""

    error_class: ClassVar[str] = "invalid_event"

    def __init__(self, event_type: str, field: str | None, reason: str) -> None:
        self.event_type = event_type
        self.field = field
        self.reason = _clip(reason)
        where = f"{event_type}.{field}" if field else event_type
        super().__init__(f"cannot encode {where}: {self.reason}")


class RecordTooLargeError(EncodeError):
    """The encoded record is larger than the configured maximum."""

    error_class: ClassVar[str] = "record_too_large"


class DecodeError(OnestopSchemaError):
    """A record cannot be decoded; it belongs in the DLQ under `error_class`."""

    error_class: ClassVar[str] = "decode_error"

    def __init__(self, reason: str, *, schema_id: int | None = None) -> None:
        self.reason = _clip(reason)
        self.schema_id = schema_id
        super().__init__(self.reason)


class NotAvroError(DecodeError):
    """Not Confluent-framed Avro: shorter than 5 bytes or a magic byte other than 0."""

    error_class: ClassVar[str] = "not_avro"


class UnknownSchemaIdError(DecodeError):
    """The schema id in the frame is unknown to the registry."""

    error_class: ClassVar[str] = "unknown_schema_id"


class UnknownEventTypeError(DecodeError):
    """The writer schema names a type that is not one of the contract's events."""

    error_class: ClassVar[str] = "unknown_event_type"


class TruncatedRecordError(DecodeError):
    """The Avro body ended before the record was complete."""

    error_class: ClassVar[str] = "truncated_avro"


class BadValueError(DecodeError):
    """The Avro body is malformed or holds a value the event type rejects."""

    error_class: ClassVar[str] = "bad_value"


class UnknownEnumSymbolError(DecodeError):
    """The writer used an enum symbol that today's reader schema does not have."""

    error_class: ClassVar[str] = "unknown_enum_symbol"


class IncompatibleWriterSchemaError(DecodeError):
    """The writer schema cannot be resolved against today's reader schema."""

    error_class: ClassVar[str] = "incompatible_writer_schema"


class RegistryError(OnestopSchemaError):
    """The schema registry refused a request; `status` and `error_code` as it sent them."""

    def __init__(
        self, message: str, *, status: int | None = None, error_code: int | None = None
    ) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(message)


class RegistryUnavailableError(RegistryError):
    """The registry cannot be reached or failed (5xx): retry later."""


class InvalidSchemaError(RegistryError):
    """The registry rejected the schema text itself (HTTP 422)."""


class IncompatibleSchemaError(RegistryError):
    """The schema breaks the compatibility rule of `subject`; `messages` say why."""

    def __init__(
        self,
        subject: str,
        messages: tuple[str, ...],
        *,
        status: int | None = None,
        error_code: int | None = None,
    ) -> None:
        self.subject = subject
        self.messages = messages
        detail = "; ".join(messages) if messages else "no detail given"
        super().__init__(
            f"schema for subject {subject!r} is incompatible with its registered versions: "
            f"{detail}",
            status=status,
            error_code=error_code,
        )


class NotFoundError(RegistryError):
    """The registry answered 404."""


class SubjectNotFoundError(NotFoundError):
    """No such subject (Confluent error code 40401)."""


class VersionNotFoundError(NotFoundError):
    """No such version of the subject (Confluent error code 40402)."""


class SchemaNotFoundError(NotFoundError):
    """No schema with that id, or the schema is not registered under the subject (40403)."""
