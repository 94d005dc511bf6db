"""Scalar converters and problem reporting for the JSON form (private; `schemas.jsonform`).

A decoder takes one JSON value and returns the dataclass value or raises `Invalid`, which
carries every problem found as `(path, reason)` pairs. Paths are relative to the value
decoded; callers prefix their own segment on the way out, so a path costs nothing until
something is wrong. `render_path` turns `("documents", 2, "copies")` into
`documents[2].copies`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Final

__all__ = [
    "LOCAL_TZ",
    "Decode",
    "Encode",
    "Invalid",
    "Path",
    "Problem",
    "decode_bool",
    "decode_date",
    "decode_datetime",
    "decode_long",
    "decode_nonempty_str",
    "decode_positive_long",
    "decode_str",
    "decode_uuid",
    "did_you_mean",
    "encode_date",
    "encode_datetime",
    "encode_enum",
    "invalid",
    "prefixed",
    "render_path",
    "safe_key",
    "show",
    "wrong_type",
]

Path = tuple[str | int, ...]
Problem = tuple[Path, str]
Decode = Callable[[Any], Any]
Encode = Callable[[Any], Any]

LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1
#: Vietnam has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact.
LOCAL_TZ: Final = timezone(timedelta(hours=7))


class Invalid(Exception):
    """One or more problems found while decoding a value."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def invalid(reason: str) -> Invalid:
    return Invalid([((), reason)])


def prefixed(segment: str | int, problems: list[Problem]) -> list[Problem]:
    return [((segment, *path), reason) for path, reason in problems]


def render_path(path: Path) -> str | None:
    """`("documents", 2, "copies")` -> `"documents[2].copies"`; `()` -> None."""
    out: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        else:
            out.append(f".{segment}" if out else segment)
    return "".join(out) or None


_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    type(None): "null",
    list: "array",
    tuple: "array",
    dict: "object",
}


def show(value: Any, limit: int = 80) -> str:
    """A short rendering of a JSON value for an error message ('text' quoted, JSON else)."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def safe_key(key: Any) -> str:
    """An object key fit for a field path: printable UTF-8, at most 80 characters."""
    text = key if isinstance(key, str) else repr(key)
    text = text.encode("utf-8", "backslashreplace").decode()
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(value: Any) -> str:
    kind = _JSON_TYPE_NAMES.get(type(value))
    if kind is None:
        return f"{type(value).__name__} {show(value)}"
    if kind in ("null", "array", "object"):
        return kind if kind == "null" else f"an {kind}"
    return f"{kind} {show(value)}"


def wrong_type(expected: str, value: Any) -> Invalid:
    return invalid(f"expected {expected}, got {_describe(value)}")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, comparing case-insensitively, or None."""
    by_upper = {c.upper(): c for c in candidates}
    close = difflib.get_close_matches(word.upper(), by_upper, n=1, cutoff=0.6)
    return by_upper[close[0]] if close else None


# --- scalar decoders ---------------------------------------------------------------------


def decode_str(value: Any) -> str:
    if not isinstance(value, str):
        raise wrong_type("a string", value)
    text = value if type(value) is str else str.__str__(value)  # e.g. a StrEnum member
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate, from a "\\ud800" escape
            raise invalid(
                f"{show(text)} is not valid Unicode text (lone surrogate at {exc.start})"
            ) from None
    return text


def decode_nonempty_str(value: Any) -> str:
    text = decode_str(value)
    if text:
        return text
    raise invalid("must not be empty")


def decode_long(value: Any) -> int:
    if type(value) is int:  # bool is not an int here
        if LONG_MIN <= value <= LONG_MAX:
            return value
        raise invalid(f"{value} is out of range for a 64-bit integer")
    raise wrong_type("an integer", value)


def decode_positive_long(value: Any) -> int:
    number = decode_long(value)
    if number >= 1:
        return number
    raise invalid(f"must be at least 1, got {number}")


def decode_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise wrong_type("a boolean (true or false)", value)


_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def decode_uuid(value: Any) -> str:
    """A UUID in its canonical 8-4-4-4-12 hex form, normalised to lower case."""
    text = decode_str(value)
    if _UUID_RE.fullmatch(text) is None:
        raise invalid(f"{show(text)} is not a UUID string (8-4-4-4-12 hex digits)")
    return text.lower()


_EXAMPLE_TS: Final = "'2020-11-06T09:15:00+07:00'"


def decode_datetime(value: Any) -> datetime:
    if type(value) is not str:
        raise wrong_type(f"an ISO 8601 timestamp string such as {_EXAMPLE_TS}", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(
            f"{show(value)} is not an ISO 8601 timestamp (expected e.g. {_EXAMPLE_TS})"
        ) from None
    if parsed.tzinfo is None:
        raise invalid(
            f"timestamp {show(value)} has no UTC offset; a naive time is ambiguous, "
            f"write it with one, e.g. {_EXAMPLE_TS}"
        )
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        raise invalid(f"timestamp {show(value)} is out of range") from None
    micros = instant.microsecond
    if micros % 1000:  # Avro timestamp-millis: truncate, never round into the next ms
        instant = instant.replace(microsecond=micros - micros % 1000)
    return instant


_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def decode_date(value: Any) -> date:
    if type(value) is not str:
        raise wrong_type("a date string YYYY-MM-DD", value)
    if _DATE_RE.fullmatch(value) is None:
        raise invalid(f"{show(value)} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise invalid(f"{show(value)} is not a valid date: {exc}") from None


# --- scalar encoders ---------------------------------------------------------------------


def encode_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in an event; events hold UTC instants")
    try:
        local = value.astimezone(LOCAL_TZ)
    except OverflowError:  # within 7 hours of datetime.max: render in UTC instead
        local = value.astimezone(UTC)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def encode_date(value: date) -> str:
    return value.isoformat()


def encode_enum(value: Enum) -> Any:
    return value.value
