"""The JSON form of events: round trips, a table of lines that must fail, derived ids."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
import uuid
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas._json_fields import build_record_spec, decode_fields
from schemas.events import (
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    ApplicantKind,
    CatalogueEvent,
    DossierEvent,
    DossierReceived,
    Event,
    Rating,
    TimeLimit,
    TimeUnit,
)
from schemas.jsonform import (
    JsonFormError,
    derive_event_id,
    event_from_json,
    event_to_json,
    parse_jsonl,
)
from tests.schemas.samples import DOSSIER_ID, sample_events

SAMPLES = {type(e).TYPE: e for e in sample_events()}


NULL = object()  # a change to JSON null (None means: leave the field out)


def sample_json(type_name: str, **changes: Any) -> dict[str, Any]:
    """The JSON form of the sample of `type_name`, with fields changed (None = dropped)."""
    obj: dict[str, Any] = json.loads(json.dumps(event_to_json(SAMPLES[type_name])))
    for name, value in changes.items():
        if value is None:
            obj.pop(name, None)
        else:
            obj[name] = None if value is NULL else value
    return obj


def line(type_name: str, **changes: Any) -> str:
    return json.dumps(sample_json(type_name, **changes), ensure_ascii=False)


# --- round trips -------------------------------------------------------------------------


def test_there_is_one_sample_per_event_type() -> None:
    assert list(SAMPLES) == list(EVENT_TYPES)


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: type(e).TYPE)
def test_every_event_type_round_trips_through_json_text(event: Event) -> None:
    text = json.dumps(event_to_json(event), ensure_ascii=False)

    assert event_from_json(json.loads(text)) == event
    assert parse_jsonl([text]) == ([event], [])


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: type(e).TYPE)
def test_to_json_puts_type_first_then_envelope_then_fields(event: Event) -> None:
    obj = event_to_json(event)

    own = [f.name for f in dataclasses.fields(event) if f.name not in ENVELOPE_FIELDS]
    assert list(obj) == ["type", *ENVELOPE_FIELDS, *own]
    assert obj["type"] == type(event).TYPE
    assert json.loads(json.dumps(obj)) == obj  # JSON-ready: plain lists, str, int, bool


def test_to_json_renders_vietnam_time_dates_and_symbols() -> None:
    obj = event_to_json(SAMPLES["ProcedureAmended"])

    assert obj["occurred_at"] == "2020-09-01T09:00:00.250+07:00"
    assert obj["effective_from"] == "2020-09-15"
    assert obj["levels"] == ["COMMUNE", "DISTRICT"]
    assert type(obj["levels"][0]) is str
    assert obj["time_limit"] == {"value": 1, "unit": "WORKING_DAY"}
    assert event_to_json(SAMPLES["DossierReceived"])["due_at"] == "2020-11-13T17:00:00+07:00"


def test_the_contract_example_line_reads() -> None:
    text = (
        '{"type": "DossierReceived", "aggregate_id": "' + DOSSIER_ID + '", "aggregate_seq": 2,'
        ' "occurred_at": "2020-11-06T09:15:00+07:00", "source_system": "motcua.H56.14",'
        ' "province_code": "H56", "dossier_code": "000.00.14.H56-201106-0001",'
        ' "handling_agency_code": "H56.14", "due_at": "2020-11-13T17:00:00+07:00"}'
    )

    (event,), errors = parse_jsonl([text])

    assert errors == []
    assert event == DossierReceived(
        event_id=derive_event_id("motcua.H56.14", DOSSIER_ID, 2),
        aggregate_id=DOSSIER_ID,
        aggregate_seq=2,
        occurred_at=datetime(2020, 11, 6, 2, 15, tzinfo=UTC),
        source_system="motcua.H56.14",
        province_code="H56",
        correlation_id=None,
        dossier_code="000.00.14.H56-201106-0001",
        handling_agency_code="H56.14",
        due_at=datetime(2020, 11, 13, 10, 0, tzinfo=UTC),
    )
    assert event.occurred_at.tzinfo is UTC


def test_event_to_json_refuses_a_naive_time_and_a_foreign_class() -> None:
    naive = dataclasses.replace(SAMPLES["DossierResumed"], occurred_at=datetime(2020, 11, 6))
    with pytest.raises(ValueError, match="naive"):
        event_to_json(naive)
    with pytest.raises(TypeError, match="not an event type"):
        event_to_json(Event(**{name: getattr(naive, name) for name in ENVELOPE_FIELDS}))


# --- reading: accepted variations --------------------------------------------------------


def test_optional_fields_may_be_left_out_or_null() -> None:
    received = event_from_json(sample_json("DossierReceived", due_at=None))
    submitted_obj = sample_json("DossierSubmitted")
    submitted_obj["applicant"] = {"kind": "BUSINESS", "name": "Công ty TNHH Hải Sản Sông Cầu"}
    submitted = event_from_json(submitted_obj)
    dissolved = event_from_json(sample_json("AgencyDissolved", successor_code=NULL))
    with_corr = event_from_json(sample_json("DossierResumed", correlation_id="abc"))

    assert isinstance(received, DossierReceived) and received.due_at is None
    assert received.correlation_id is None
    assert submitted.applicant.phone is None and submitted.applicant.email is None  # type: ignore[attr-defined]
    assert submitted.applicant.kind is ApplicantKind.BUSINESS  # type: ignore[attr-defined]
    assert dissolved.successor_code is None  # type: ignore[attr-defined]
    assert with_corr.correlation_id == "abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-11-06T09:15:00+07:00", datetime(2020, 11, 6, 2, 15, tzinfo=UTC)),
        ("2020-11-06T02:15:00Z", datetime(2020, 11, 6, 2, 15, tzinfo=UTC)),
        ("2020-11-06T02:15:00.5+00:00", datetime(2020, 11, 6, 2, 15, 0, 500_000, tzinfo=UTC)),
        ("2020-11-06T09:15:00.1239+07:00", datetime(2020, 11, 6, 2, 15, 0, 123_000, tzinfo=UTC)),
        ("2020-11-06T09:15:00.999999+07:00", datetime(2020, 11, 6, 2, 15, 0, 999_000, tzinfo=UTC)),
        ("2020-11-05T21:15:00-05:00", datetime(2020, 11, 6, 2, 15, tzinfo=UTC)),
    ],
)
def test_timestamps_are_normalised_to_utc_and_truncated_to_milliseconds(
    text: str, expected: datetime
) -> None:
    event = event_from_json(sample_json("DossierResumed", occurred_at=text))

    assert event.occurred_at == expected
    assert event.occurred_at.utcoffset() == expected.utcoffset()
    assert event.occurred_at.microsecond == expected.microsecond


def test_uuids_are_stored_lower_case() -> None:
    upper = DOSSIER_ID.upper()
    given_id = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"

    derived = event_from_json(sample_json("DossierResumed", aggregate_id=upper, event_id=None))
    explicit = event_from_json(sample_json("DossierResumed", event_id=given_id))

    assert derived.aggregate_id == DOSSIER_ID
    assert derived.event_id == derive_event_id("motcua.H56.14", DOSSIER_ID, 10)
    assert explicit.event_id == given_id.lower()


def test_blank_lines_and_a_byte_order_mark_are_skipped() -> None:
    lines = ["\ufeff" + line("SectorDefined") + "\n", "\n", "   \t\n", "", line("DossierResumed")]

    events, errors = parse_jsonl(lines)

    assert errors == []
    assert events == [SAMPLES["SectorDefined"], SAMPLES["DossierResumed"]]


def test_an_identical_resend_in_one_file_is_not_an_error() -> None:
    events, errors = parse_jsonl([line("DossierResumed"), line("DossierResumed")])

    assert errors == []
    assert events == [SAMPLES["DossierResumed"]] * 2


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _FutureRecord:
    """Field shapes no event uses yet: they must work without new code."""

    ratings: tuple[Rating, ...] | None = None
    limit: TimeLimit | None
    days: tuple[date, ...] = ()


def test_a_new_field_of_a_supported_shape_needs_no_new_code() -> None:
    spec = build_record_spec(_FutureRecord)
    obj = {"ratings": ["NEUTRAL"], "limit": {"value": 3, "unit": "HOUR"}}

    kwargs, problems = decode_fields(spec, obj)

    assert problems == []
    assert _FutureRecord(**kwargs) == _FutureRecord(
        ratings=(Rating.NEUTRAL,), limit=TimeLimit(value=3, unit=TimeUnit.HOUR)
    )
    assert decode_fields(spec, {"limit": None, "days": ["2021-13-01"]})[1] == [
        (("days", 0), "'2021-13-01' is not a valid date: month must be in 1..12")
    ]


# --- derived event ids -------------------------------------------------------------------


def test_derived_event_id_is_the_documented_uuid5() -> None:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:onestop-sync:event")

    derived = derive_event_id("motcua.H56.14", DOSSIER_ID, 2)

    assert derived == str(uuid.uuid5(namespace, f"motcua.H56.14|{DOSSIER_ID}|2"))
    assert derived == "269845bc-a2b4-572c-af35-c4f7fb95a0f2"  # pinned: never change it
    assert uuid.UUID(derived).version == 5


def test_derived_event_id_is_stable_and_differs_when_seq_or_source_differs() -> None:
    first = derive_event_id("motcua.H56.14", DOSSIER_ID, 2)

    assert derive_event_id("motcua.H56.14", DOSSIER_ID, 2) == first
    assert derive_event_id("motcua.H56.14", DOSSIER_ID, 3) != first
    assert derive_event_id("motcua.H56.15", DOSSIER_ID, 2) != first
    assert derive_event_id("motcua.H56.14", "1.001193", 2) != first


def test_republishing_a_file_without_event_ids_gives_the_same_ids() -> None:
    lines = [line("DossierSubmitted", event_id=None), line("DossierReceived", event_id=NULL)]

    first, _ = parse_jsonl(lines)
    again, _ = parse_jsonl(list(lines))

    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id == derive_event_id("motcua.H56.14", DOSSIER_ID, 1)
    assert first[1].event_id == derive_event_id("motcua.H56.14", DOSSIER_ID, 2)  # null = derive
    assert first[0].event_id != first[1].event_id


# --- reading: lines that must fail -------------------------------------------------------

P = "ProcedurePublished"
BAD_LINES: list[tuple[str, str, str | None, str]] = [
    # (case, line, field path, reason fragment)
    ("missing field", line("DossierReceived", dossier_code=None), "dossier_code",
     "required field is missing"),
    ("missing envelope field", line("DossierResumed", occurred_at=None), "occurred_at",
     "required field is missing"),
    ("unknown field", line("DossierReceived", handling_agency="H56.14"), "handling_agency",
     "unknown field, not a field of DossierReceived (did you mean 'handling_agency_code'?)"),
    ("unknown field, nothing close", line("DossierResumed", ghi_chu="x"), "ghi_chu",
     "its fields are event_id, aggregate_id"),
    ("int for str", line("DossierReceived", dossier_code=42), "dossier_code",
     "expected a string, got integer 42"),
    ("str for int", line("DossierResumed", aggregate_seq="10"), "aggregate_seq",
     "expected an integer, got string '10'"),
    ("float for long", line("FinancialObligationRequested", amount_vnd=8000.0), "amount_vnd",
     "expected an integer, got number 8000.0"),
    ("bool for int", line("DossierResumed", aggregate_seq=True), "aggregate_seq",
     "expected an integer, got boolean true"),
    ("int for bool", line("DossierResolved", electronic_result=1), "electronic_result",
     "expected a boolean (true or false), got integer 1"),
    ("null for required", line("DossierReceived", dossier_code=NULL), "dossier_code",
     "expected a string, got null"),
    ("array for str", line("DossierReceived", handling_agency_code=[]),
     "handling_agency_code", "expected a string, got an array"),
    ("object for enum", line("DossierResolved", outcome={"code": 1}), "outcome",
     "expected one of the symbols APPROVED, REFUSED, got an object"),
    ("long out of range", line(P, fee_vnd=2**63), "fee_vnd", "out of range for a 64-bit"),
    ("seq below 1", line("DossierResumed", aggregate_seq=0), "aggregate_seq",
     "must be at least 1, got 0"),
    ("empty source", line("DossierResumed", source_system=""), "source_system",
     "must not be empty"),
    ("naive timestamp", line("DossierResumed", occurred_at="2020-11-06T09:15:00"),
     "occurred_at", "has no UTC offset"),
    ("date for timestamp", line("DossierReceived", due_at="2020-11-13"), "due_at",
     "has no UTC offset"),
    ("not a timestamp", line("DossierResumed", occurred_at="06/11/2020 09:15"), "occurred_at",
     "is not an ISO 8601 timestamp"),
    ("epoch millis", line("DossierResumed", occurred_at=1604628900000), "occurred_at",
     "expected an ISO 8601 timestamp string"),
    ("impossible date", line(P, effective_from="2020-02-30"), "effective_from",
     "'2020-02-30' is not a valid date"),
    ("date in another form", line(P, effective_from="15/03/2020"), "effective_from",
     "is not a date in the form YYYY-MM-DD"),
    ("week date", line(P, effective_from="2020-W11-7"), "effective_from", "YYYY-MM-DD"),
    ("date in array", line("WorkingCalendarPublished", holidays=["2021-01-01", "2021-2-10"]),
     "holidays[1]", "YYYY-MM-DD"),
    ("unknown enum symbol",
     line("DossierSubmitted", applicant={"kind": "CITIZENS", "name": "Trần Văn An"}),
     "applicant.kind",
     "'CITIZENS' is not one of CITIZEN, BUSINESS, ORGANISATION, STATE_AGENCY, OTHER"
     " (did you mean CITIZEN?)"),
    ("enum symbols are upper case", line("DossierSubmitted", channel="online"), "channel",
     "is not one of IN_PERSON, ONLINE, POSTAL (did you mean ONLINE?)"),
    ("enum in array", line(P, levels=["COMMUNE", "WARD"]), "levels[1]",
     "'WARD' is not one of PROVINCE, DISTRICT, COMMUNE"),
    ("array expected", line(P, levels="COMMUNE"), "levels", "expected an array"),
    ("object expected", line("DossierSubmitted", applicant="Trần Văn An"), "applicant",
     "expected an object"),
    ("nested field path",
     line(P, documents=[{"name": "Tờ khai", "originals": 1, "copies": 0},
                        {"name": "Giấy chứng sinh", "originals": 1, "copies": "1"}]),
     "documents[1].copies", "expected an integer, got string '1'"),
    ("nested missing field", line(P, time_limit={"value": 1}), "time_limit.unit",
     "required field is missing"),
    ("nested unknown field",
     line(P, documents=[{"name": "Tờ khai", "originals": 1, "copies": 0, "copy": 0}]),
     "documents[0].copy", "not a field of Document (did you mean 'copies'?)"),
    ("unknown type", line("DossierReceived", type="DossierRecieved"), "type",
     "unknown event type 'DossierRecieved' (did you mean DossierReceived?)"),
    ("unknown type, nothing close", line("DossierReceived", type="Zzz"), "type",
     "no type is close, known: SectorDefined, AgencyRegistered"),
    ("missing type", line("DossierReceived", type=None), "type", "required field is missing"),
    ("type not a string", line("DossierReceived", type=7), "type", "expected a string"),
    ("bad JSON", '{"type": "DossierResumed", "aggregate_seq": 2,', None,
     "invalid JSON: Expecting property name enclosed in double quotes (column 47)"),
    ("bad JSON value", '{"type": "DossierResumed", "aggregate_seq": 02}', None,
     "invalid JSON: Expecting ',' delimiter (column 46)"),
    ("not an object", '["DossierResumed"]', None, "expected a JSON object, got an array"),
    ("lone surrogate in a key", line("DossierResumed", **{"ghi_ch\udcfa": 1}),
     "ghi_ch\\udcfa", "unknown field"),
    ("lone surrogate", line("DossierIntakeRefused", reason="H\ud800"), "reason",
     "is not valid Unicode text (lone surrogate at 1)"),
    ("non-UUID event_id", line("DossierResumed", event_id="evt-0001"), "event_id",
     "'evt-0001' is not a UUID string"),
    ("non-UUID dossier aggregate_id",
     line("DossierResumed", aggregate_id="000.00.14.H56-201106-0001"), "aggregate_id",
     "'000.00.14.H56-201106-0001' is not a UUID string"),
    ("catalogue key mismatch", line(P, aggregate_id="1.000001"), "aggregate_id",
     "'1.000001' must be the aggregate key '1.001193' (from procedure_code"),
    ("calendar key mismatch", line("WorkingCalendarPublished", aggregate_id="2021"),
     "aggregate_id", "must be the aggregate key 'calendar-2021' (from year"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "field", "fragment"),
    [case[1:] for case in BAD_LINES],
    ids=[case[0] for case in BAD_LINES],
)
def test_a_bad_line_is_reported_with_line_field_and_reason(
    bad: str, field: str | None, fragment: str
) -> None:
    lines = [line("SectorDefined"), "", bad, line("DossierResumed", aggregate_seq=42)]

    events, errors = parse_jsonl(lines)

    assert [e.TYPE for e in events] == ["SectorDefined", "DossierResumed"]
    assert [(e.line, e.field) for e in errors] == [(3, field)]
    assert fragment in errors[0].reason
    assert str(errors[0]).startswith("line 3: " + (f"field '{field}': " if field else ""))


def test_error_text_names_line_field_and_reason() -> None:
    bad = line("DossierSubmitted", applicant={"kind": "CITIZENS", "name": "Trần Văn An"})

    _, (error,) = parse_jsonl([""] * 11 + [bad])

    assert str(error) == (
        "line 12: field 'applicant.kind': 'CITIZENS' is not one of "
        "CITIZEN, BUSINESS, ORGANISATION, STATE_AGENCY, OTHER (did you mean CITIZEN?)"
    )
    assert str(JsonFormError("invalid JSON: x", 3)) == "line 3: invalid JSON: x"
    assert str(JsonFormError("bad", field="type")) == "field 'type': bad"
    assert isinstance(error, ValueError)


def test_every_problem_of_a_line_is_named() -> None:
    bad = line("DossierReceived", dossier_code=None, handling_agency_code=None,
               aggregate_seq=True, extra=1, occurred_at="2020-11-06 09:15")  # fmt: skip

    _, errors = parse_jsonl([bad])

    assert [(e.line, e.field) for e in errors] == [
        (1, "aggregate_seq"),
        (1, "occurred_at"),
        (1, "dossier_code"),
        (1, "handling_agency_code"),
        (1, "extra"),
    ]


def test_every_bad_line_of_a_file_is_reported_in_order() -> None:
    lines = [
        line("DossierSubmitted"),
        "{oops",
        line("DossierReceived", due_at="2020-11-13T17:00"),
        "",
        line("SupplementRequested"),
        line("DossierResumed", type="DossierResume"),
    ]

    events, errors = parse_jsonl(lines)

    assert [e.TYPE for e in events] == ["DossierSubmitted", "SupplementRequested"]
    assert [(e.line, e.field) for e in errors] == [(2, None), (3, "due_at"), (6, "type")]


def test_event_from_json_raises_the_first_problem_and_keeps_them_all() -> None:
    obj = sample_json("DossierReceived", dossier_code=None, due_at="soon")

    with pytest.raises(JsonFormError) as caught:
        event_from_json(obj, line=7)

    assert (caught.value.line, caught.value.field) == (7, "dossier_code")
    assert [(e.line, e.field) for e in caught.value.errors] == [(7, "dossier_code"), (7, "due_at")]


def test_two_different_events_may_not_share_a_position_or_an_event_id() -> None:
    given_id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    lines = [
        line("DossierResumed"),
        line("DossierSuspended", aggregate_seq=10),  # DossierResumed's aggregate_seq
        line("DossierResolved", event_id=given_id),
        line("ResultDelivered", event_id=given_id),
    ]

    events, errors = parse_jsonl(lines)

    assert [e.TYPE for e in events] == ["DossierResumed", "DossierResolved"]
    assert [(e.line, e.field) for e in errors] == [(2, "aggregate_seq"), (4, "event_id")]
    assert "already has aggregate_seq 10 on line 1" in errors[0].reason
    assert "already used on line 3" in errors[1].reason


# --- property: every valid event survives the trip ---------------------------------------

LONG = st.integers(-(2**63), 2**63 - 1)


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a field type as the dataclasses declare it, built from the type hints."""
    origin = typing.get_origin(hint)
    if origin is types.UnionType:
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return st.none() | strategy_for(inner)
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(hint)[0]), max_size=3).map(tuple)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=12),
        bool: st.booleans(),
        int: LONG,
        datetime: st.datetimes(timezones=st.just(UTC)).map(_ms),
        date: st.dates(),
    }
    if hint in simple:
        return simple[hint]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(hint)
    hints = typing.get_type_hints(hint)
    return st.builds(
        hint, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(hint)}
    )


CATALOGUE_KEYS = ("procedure_code", "agency_code", "sector_code")


def _catalogue_key(event: Event) -> str:
    for name in CATALOGUE_KEYS:
        if hasattr(event, name):
            return str(getattr(event, name))
    return f"calendar-{event.year}"  # type: ignore[attr-defined]


def event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    overrides = {
        "event_id": st.uuids().map(str),
        "aggregate_seq": st.integers(1, 2**63 - 1),
        "source_system": st.text(min_size=1, max_size=12),
        "province_code": st.text(min_size=1, max_size=4),
        "aggregate_id": st.uuids().map(str) if issubclass(cls, DossierEvent) else st.just("k"),
        # a catalogue key must not be empty: it becomes the aggregate_id
        **{key: st.text(min_size=1, max_size=12) for key in CATALOGUE_KEYS},
    }
    hints = typing.get_type_hints(cls)
    built = st.builds(
        cls,
        **{
            f.name: overrides[f.name] if f.name in overrides else strategy_for(hints[f.name])
            for f in dataclasses.fields(cls)
        },
    )
    if issubclass(cls, CatalogueEvent):
        return built.map(lambda e: dataclasses.replace(e, aggregate_id=_catalogue_key(e)))
    return built


ANY_EVENT = st.sampled_from(list(EVENT_TYPES.values())).flatmap(event_strategy)


@given(ANY_EVENT)
def test_property_from_json_of_to_json_is_identity(event: Event) -> None:
    text = json.dumps(event_to_json(event))

    assert event_from_json(json.loads(text)) == event
    assert parse_jsonl([text]) == ([event], [])


@given(ANY_EVENT)
def test_property_a_left_out_event_id_is_derived(event: Event) -> None:
    obj = event_to_json(event)
    del obj["event_id"]

    derived = event_from_json(obj)

    assert derived.event_id == derive_event_id(
        event.source_system, event.aggregate_id, event.aggregate_seq
    )
    assert dataclasses.replace(derived, event_id=event.event_id) == event


@given(st.text(), st.text(), st.integers(1, 2**63 - 1))
def test_property_derived_event_id_is_uuid5_of_the_documented_name(
    source: str, aggregate_id: str, seq: int
) -> None:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:onestop-sync:event")

    derived = derive_event_id(source, aggregate_id, seq)

    assert derived == str(uuid.uuid5(namespace, f"{source}|{aggregate_id}|{seq}"))


ANY_CHAR_TEXT = st.text(st.characters(exclude_categories=()), max_size=8)  # with surrogates
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_CHAR_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_CHAR_TEXT, inner, max_size=3),
    max_leaves=6,
)


@given(st.sampled_from(list(EVENT_TYPES)), st.data())
def test_property_any_json_in_any_field_gives_an_event_or_errors_never_a_crash(
    type_name: str, data: st.DataObject
) -> None:
    obj = sample_json(type_name)
    name = data.draw(st.sampled_from(list(obj)) | ANY_CHAR_TEXT, label="field")
    obj[name] = data.draw(JSON_VALUES, label="value")

    events, errors = parse_jsonl([json.dumps(obj)])

    assert len(events) + len({e.line for e in errors}) == 1
    assert all(e.line == 1 and e.reason for e in errors)
    assert all(str(e).encode() for e in errors)  # printable: no lone surrogate in a message


@given(st.text(st.characters(exclude_categories=())))
def test_property_any_text_line_gives_an_event_or_errors_never_a_crash(text: str) -> None:
    events, errors = parse_jsonl([text])

    assert events == [] or errors == []
