"""Per-record converter tables behind `schemas.jsonform` (private).

`record_spec(cls)` reads a frozen dataclass once (`dataclasses.fields` +
`typing.get_type_hints`) and builds a table saying, for each field, how to decode its JSON
value into the dataclass value, how to encode it back, and what to do when it is absent.
A new field of a supported type needs no new code.

Supported field types: `str`; `int` (an Avro long, 64-bit signed); `bool`; `datetime`
(an instant: ISO 8601 with an offset, normalised to UTC, truncated to milliseconds);
`date` (`YYYY-MM-DD`); `StrEnum` subclasses (symbol strings); nested dataclasses
(objects); `tuple[X, ...]` (arrays); `X | None` (null, or left out).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

from schemas._json_values import (
    Decode,
    Encode,
    Invalid,
    Problem,
    decode_bool,
    decode_date,
    decode_datetime,
    decode_long,
    decode_str,
    did_you_mean,
    encode_date,
    encode_datetime,
    encode_enum,
    invalid,
    prefixed,
    safe_key,
    show,
    wrong_type,
)

__all__ = [
    "DEFAULT",
    "DERIVE",
    "MISSING",
    "NONE",
    "REQUIRED",
    "FieldSpec",
    "RecordSpec",
    "build_record_spec",
    "converters",
    "decode_fields",
    "record_spec",
]

MISSING: Final = object()

# What to do when a field is absent from the JSON object.
REQUIRED: Final = 0  # a problem
DEFAULT: Final = 1  # leave it to the dataclass default
NONE: Final = 2  # pass None (an `X | None` field without a default)
DERIVE: Final = 3  # the caller fills it in (event_id)


# --- combinators -------------------------------------------------------------------------


def _enum_decoder(enum_type: type[Enum]) -> Decode:
    members: dict[str, Enum] = {str(m.value): m for m in enum_type}
    symbols = ", ".join(members)

    def decode(value: Any) -> Enum:
        if isinstance(value, str):
            member = members.get(value)
            if member is not None:
                return member
            close = did_you_mean(value, members)
            hint = f" (did you mean {close}?)" if close else ""
            raise invalid(f"{show(value)} is not one of {symbols}{hint}")
        raise wrong_type(f"one of the symbols {symbols}", value)

    return decode


def _tuple_decoder(item: Decode) -> Decode:
    def decode(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise wrong_type("an array", value)
        try:
            return tuple([item(x) for x in value])
        except Invalid:
            pass
        problems: list[Problem] = []  # slow path: find every bad element
        for index, x in enumerate(value):
            try:
                item(x)
            except Invalid as exc:
                problems.extend(prefixed(index, exc.problems))
        raise Invalid(problems)

    return decode


def _optional_decoder(inner: Decode) -> Decode:
    def decode(value: Any) -> Any:
        return None if value is None else inner(value)

    return decode


# --- encoders (None = the value is already JSON-ready) -----------------------------------


def _tuple_encoder(item: Encode | None) -> Encode:
    if item is None:
        return list
    return lambda value: [item(x) for x in value]


def _optional_encoder(inner: Encode | None) -> Encode | None:
    if inner is None:
        return None
    return lambda value: None if value is None else inner(value)


def _record_encoder(spec: RecordSpec) -> Encode:
    encoders = spec.encoders

    def encode(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, enc in encoders:
            attr = getattr(value, name)
            out[name] = attr if enc is None else enc(attr)
        return out

    return encode


def _record_decoder(spec: RecordSpec) -> Decode:
    make = spec.cls

    def decode(value: Any) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise wrong_type("an object", value)
        kwargs, problems = decode_fields(spec, value)
        if problems:
            raise Invalid(problems)
        return make(**kwargs)

    return decode


def converters(hint: Any) -> tuple[Decode, Encode | None, bool]:
    """(decoder, encoder, optional) for a resolved type hint."""
    origin = typing.get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        args = typing.get_args(hint)
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"unsupported union {hint!r}: only `X | None` is supported")
        decode, encode, _ = converters(inner[0])
        return _optional_decoder(decode), _optional_encoder(encode), True
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"unsupported tuple {hint!r}: only `tuple[X, ...]` is supported")
        decode, encode, _ = converters(args[0])
        return _tuple_decoder(decode), _tuple_encoder(encode), False
    if hint is str:
        return decode_str, None, False
    if hint is bool:
        return decode_bool, None, False
    if hint is int:
        return decode_long, None, False
    if hint is datetime:
        return decode_datetime, encode_datetime, False
    if hint is date:
        return decode_date, encode_date, False
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum_decoder(hint), encode_enum, False
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        spec = record_spec(hint)
        return _record_decoder(spec), _record_encoder(spec), False
    raise TypeError(f"unsupported field type {hint!r} in the JSON form")


# --- record tables -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    decode: Decode
    encode: Encode | None
    absent: int  # REQUIRED, DEFAULT, NONE or DERIVE


@dataclasses.dataclass(frozen=True, slots=True)
class RecordSpec:
    cls: type[Any]
    fields: tuple[FieldSpec, ...]
    # Hot-loop views of `fields`; a decoder of None means `decode_str`, inlined.
    decoders: tuple[tuple[str, Decode | None, int], ...]
    encoders: tuple[tuple[str, Encode | None], ...]
    names: frozenset[str]


def build_record_spec(
    cls: type[Any], overrides: Mapping[str, tuple[Decode, int]] | None = None
) -> RecordSpec:
    """The converter table of a dataclass; `overrides` maps a field name to
    (decoder, absent-rule) where the type alone does not say enough (e.g. `event_id`)."""
    hints = typing.get_type_hints(cls)
    specs: list[FieldSpec] = []
    for field in dataclasses.fields(cls):
        decode, encode, optional = converters(hints[field.name])
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        absent = DEFAULT if has_default else NONE if optional else REQUIRED
        if overrides and field.name in overrides:
            decode, absent = overrides[field.name]
        specs.append(FieldSpec(field.name, decode, encode, absent))
    return RecordSpec(
        cls=cls,
        fields=tuple(specs),
        decoders=tuple(
            (s.name, None if s.decode is decode_str else s.decode, s.absent) for s in specs
        ),
        encoders=tuple((s.name, s.encode) for s in specs),
        names=frozenset(s.name for s in specs),
    )


_RECORD_SPECS: dict[type[Any], RecordSpec] = {}


def record_spec(cls: type[Any]) -> RecordSpec:
    """The (cached) converter table of a nested record type."""
    spec = _RECORD_SPECS.get(cls)
    if spec is None:
        spec = _RECORD_SPECS[cls] = build_record_spec(cls)
    return spec


def decode_fields(
    spec: RecordSpec, obj: Mapping[Any, Any], extra: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[Problem]]:
    """Decode every field of `obj`; the keys in `extra` (all present in `obj`) are ignored.

    Returns the constructor arguments (fields absent under DEFAULT or DERIVE are left out)
    and every problem: missing required fields, bad values, unknown fields.
    """
    kwargs: dict[str, Any] = {}
    problems: list[Problem] = []
    seen = len(extra)
    for name, decode, absent in spec.decoders:
        value = obj.get(name, MISSING)
        if value is MISSING:
            if absent == REQUIRED:
                problems.append(((name,), "required field is missing"))
            elif absent == NONE:
                kwargs[name] = None
            continue
        seen += 1
        if decode is None:  # a plain string field, checked inline: most fields are
            if type(value) is str and value.isascii():
                kwargs[name] = value
                continue
            decode = decode_str
        try:
            kwargs[name] = decode(value)
        except Invalid as exc:
            problems.extend(prefixed(name, exc.problems))
    if seen != len(obj):
        title = spec.cls.__name__
        for key in obj:
            if key in spec.names or key in extra:
                continue
            close = did_you_mean(key, spec.names) if isinstance(key, str) else None
            hint = (
                f"did you mean '{close}'?"
                if close
                else f"its fields are {', '.join(s.name for s in spec.fields)}"
            )
            problems.append(((safe_key(key),), f"unknown field, not a field of {title} ({hint})"))
    return kwargs, problems
