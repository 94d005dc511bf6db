"""Encoding checks every value and names the field; encode/decode round-trips any valid event."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.avro_schemas import event_schemas
from schemas.codec import AvroCodec
from schemas.errors import EncodeError, RecordTooLargeError
from schemas.events import (
    EVENT_TYPES,
    Channel,
    Document,
    Event,
    GovLevel,
    full_name,
)
from schemas.registry_memory import InMemorySchemaRegistry

try:
    from tests.schemas.samples import sample_events
except ImportError:  # the repository root is not on sys.path; pytest put this folder there
    from samples import sample_events  # type: ignore[no-redef,import-not-found]

SAMPLES: dict[str, Event] = {type(e).TYPE: e for e in sample_events()}


def _with(event_type: str, /, **changes: Any) -> Event:
    return dataclasses.replace(SAMPLES[event_type], **changes)


def _nested(event_type: str, attr: str, /, **changes: Any) -> Event:
    inner = dataclasses.replace(getattr(SAMPLES[event_type], attr), **changes)
    return _with(event_type, **{attr: inner})


_NOW = datetime.now(UTC)
_UPPER = "8D3C2A4E-5B1F-4C6D-9E7A-0F1B2C3D4E5F"


BAD_EVENTS: list[tuple[str, Event, str]] = [
    ("str for a long", _with("SectorDefined", aggregate_seq="1"), "aggregate_seq"),
    ("bool for a long", _with("SectorDefined", aggregate_seq=True), "aggregate_seq"),
    ("float for a long", _with("FinancialObligationRequested", amount_vnd=1.5), "amount_vnd"),
    ("long overflow", _with("ProcedurePublished", fee_vnd=2**63), "fee_vnd"),
    ("int overflow", _with("WorkingCalendarPublished", year=2**31), "year"),
    ("naive datetime", _with("SectorDefined", occurred_at=datetime(2020, 1, 1)), "occurred_at"),
    ("date for a timestamp", _with("SectorDefined", occurred_at=date(2020, 1, 1)), "occurred_at"),
    ("str for a timestamp", _with("DossierReceived", due_at="2020-11-13"), "due_at"),
    ("datetime for a date", _with("ProcedureAbolished", effective_from=_NOW), "effective_from"),
    ("str for a date", _with("ProcedureAbolished", effective_from="2020-10-20"), "effective_from"),
    ("not a uuid", _with("SectorDefined", event_id="not-a-uuid"), "event_id"),
    ("upper-case uuid", _with("SectorDefined", event_id=_UPPER), "event_id"),
    ("None for a string", _with("SectorDefined", name=None), "name"),
    ("bytes for a string", _with("SectorDefined", name=b"x"), "name"),
    ("str for a boolean", _with("OnlinePaymentConfigured", enabled="yes"), "enabled"),
    ("int for a boolean", _with("OnlinePaymentConfigured", enabled=1), "enabled"),
    ("unknown symbol", _with("DossierSubmitted", channel="CARRIER_PIGEON"), "channel"),
    ("another enum's member", _with("ResultDelivered", method=Channel.ONLINE), "method"),
    ("nested enum", _nested("DossierSubmitted", "applicant", kind="ALIEN"), "applicant.kind"),
    ("nested str", _nested("DossierSubmitted", "applicant", phone=905123456), "applicant.phone"),
    ("wrong nested type", _with("ProcedurePublished", time_limit={"value": 1}), "time_limit"),
    ("array item", _with("ProcedurePublished", levels=(GovLevel.COMMUNE, "MOON")), "levels[1]"),
    (
        "record in array",
        _with("ProcedurePublished", documents=(Document("a", 1, 0), Document("b", 1, 1.5))),
        "documents[1].copies",
    ),
    ("str for an array", _with("ProcedurePublished", legal_bases="Luật 60/2014"), "legal_bases"),
    ("date array item", _with("WorkingCalendarPublished", holidays=("2021-01-01",)), "holidays[0]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "field"), [row[1:] for row in BAD_EVENTS], ids=[row[0] for row in BAD_EVENTS]
)
def test_a_wrong_value_is_an_encode_error_naming_the_field(event: Event, field: str) -> None:
    codec = AvroCodec(InMemorySchemaRegistry())

    with pytest.raises(EncodeError) as caught:
        codec.encode(event.TOPIC, event)

    assert caught.value.field == field
    assert caught.value.event_type == event.TYPE
    assert f"{event.TYPE}.{field}" in str(caught.value)


def test_a_record_over_the_size_limit_is_refused() -> None:
    codec = AvroCodec(InMemorySchemaRegistry(), max_record_bytes=1024)
    event = _with("SectorDefined", name="x" * 2000)

    with pytest.raises(RecordTooLargeError) as caught:
        codec.encode(event.TOPIC, event)

    assert caught.value.error_class == "record_too_large"


def test_encoding_something_that_is_not_an_event_type_is_an_encode_error() -> None:
    class NotOurs(Event):
        pass

    codec = AvroCodec(InMemorySchemaRegistry())
    event = NotOurs(
        event_id="00000000-0000-4000-8000-000000000001",
        aggregate_id="a",
        aggregate_seq=1,
        occurred_at=datetime.now(UTC),
        source_system="s",
        province_code="H56",
    )
    with pytest.raises(EncodeError):
        codec.encode("catalogue.events", event)


# --- round trip under Hypothesis ---------------------------------------------------------

_MILLIS = st.integers(min_value=-(10**12), max_value=4 * 10**12)
_TIMESTAMPS = _MILLIS.map(lambda ms: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))
_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
_TEXT = st.text(max_size=20)


def _strategy(avro: Any, schema_names: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for an Avro type of our schemas, as the event classes hold them."""
    import schemas.events as events

    if isinstance(avro, list):
        return st.none() | _strategy(avro[1], schema_names)
    if isinstance(avro, str):
        if avro in schema_names:
            return _strategy(schema_names[avro], schema_names)
        return {
            "string": _TEXT,
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "boolean": st.booleans(),
        }[avro]
    logical = avro.get("logicalType")
    if logical == "uuid":
        return st.uuids().map(str)
    if logical == "date":
        return _DATES
    if logical == "timestamp-millis":
        return _TIMESTAMPS
    kind = avro["type"]
    if kind == "array":
        return st.lists(_strategy(avro["items"], schema_names), max_size=4).map(tuple)
    if kind in ("enum", "record"):
        full = f"{avro['namespace']}.{avro['name']}"
        schema_names[full] = avro
        python_type = getattr(events, avro["name"])
        if kind == "enum":
            assert issubclass(python_type, Enum)
            return st.sampled_from(list(python_type))
        fields = {f["name"]: _strategy(f["type"], schema_names) for f in avro["fields"]}
        return st.builds(python_type, **fields)
    return _strategy(kind, schema_names)


def _event_strategy(event_type: type[Event]) -> st.SearchStrategy[Event]:
    schema = event_schemas()[full_name(event_type)].schema
    named: dict[str, Any] = {}
    fields = {f["name"]: _strategy(f["type"], named) for f in schema["fields"]}
    return st.builds(event_type, **fields)


ANY_EVENT = st.one_of([_event_strategy(t) for t in EVENT_TYPES.values()])
CODEC = AvroCodec(InMemorySchemaRegistry())


@settings(max_examples=300, deadline=None)
@given(ANY_EVENT)
def test_decode_of_encode_is_the_event(event: Event) -> None:
    assert CODEC.decode(CODEC.encode(event.TOPIC, event)) == event


@settings(max_examples=100, deadline=None)
@given(st.lists(ANY_EVENT, max_size=10), st.binary(max_size=40))
def test_a_batch_with_junk_decodes_the_rest(events: list[Event], junk: bytes) -> None:
    batch = [CODEC.encode(e.TOPIC, e) for e in events]
    middle = len(batch) // 2

    results = CODEC.decode_batch([*batch[:middle], junk, *batch[middle:]])

    assert [r for i, r in enumerate(results) if i != middle] == events
