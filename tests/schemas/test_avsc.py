"""The `.avsc` files: one per named type, the envelope first in every event, contract types."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from fastavro.schema import load_schema, to_parsing_canonical_form

from schemas.avro_schemas import (
    AVRO_DIR,
    ENVELOPE_NAME,
    event_schemas,
    expand,
    load_event_schemas,
    load_named_schemas,
)
from schemas.errors import SchemaLoadError
from schemas.events import (
    CATALOGUE_NAMESPACE,
    DOSSIER_NAMESPACE,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    SectorDefined,
    full_name,
)
from schemas.records import build_converter

NAMED = load_named_schemas()
EVENTS = event_schemas()
NESTED = {
    "vn.dvc.catalogue.GovLevel",
    "vn.dvc.catalogue.AgencyKind",
    "vn.dvc.catalogue.ServiceLevel",
    "vn.dvc.catalogue.TimeUnit",
    "vn.dvc.catalogue.TimeLimit",
    "vn.dvc.catalogue.Document",
    "vn.dvc.dossier.Channel",
    "vn.dvc.dossier.ApplicantKind",
    "vn.dvc.dossier.PaymentMethod",
    "vn.dvc.dossier.Outcome",
    "vn.dvc.dossier.DeliveryMethod",
    "vn.dvc.dossier.ForwardMode",
    "vn.dvc.dossier.Rating",
    "vn.dvc.dossier.Applicant",
}


def _fields(schema: dict[str, Any] | Any) -> list[dict[str, Any]]:
    return list(schema["fields"])


def test_one_file_per_event_enum_nested_record_and_the_envelope() -> None:
    expected = {full_name(t) for t in EVENT_TYPES.values()} | NESTED | {ENVELOPE_NAME}
    assert set(NAMED) == expected
    assert len(list(AVRO_DIR.glob("*.avsc"))) == len(expected) == 27 + 14 + 1


def test_envelope_record_lists_the_contract_envelope_fields() -> None:
    assert [f["name"] for f in _fields(NAMED[ENVELOPE_NAME])] == list(ENVELOPE_FIELDS)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_event_starts_with_exactly_the_envelope_fields(name: str) -> None:
    envelope = _fields(NAMED[ENVELOPE_NAME])
    assert _fields(NAMED[name])[: len(envelope)] == envelope


@pytest.mark.parametrize("event_type", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_record_name_namespace_and_fields_match_the_event_class(event_type: type) -> None:
    schema = NAMED[full_name(event_type)]
    assert schema["type"] == "record"
    assert schema["name"] == event_type.TYPE
    assert schema["namespace"] in (CATALOGUE_NAMESPACE, DOSSIER_NAMESPACE)
    assert schema["namespace"] == event_type.NAMESPACE
    assert [f["name"] for f in schema["fields"]] == [f.name for f in dataclasses.fields(event_type)]
    build_converter(event_type, EVENTS[full_name(event_type)].schema)  # types agree too


@pytest.mark.parametrize("name", sorted(NAMED))
def test_every_schema_has_a_doc(name: str) -> None:
    assert NAMED[name].get("doc")


def test_envelope_types_are_the_contract_types() -> None:
    types = {f["name"]: f["type"] for f in _fields(NAMED[ENVELOPE_NAME])}
    assert types["event_id"] == {"type": "string", "logicalType": "uuid"}
    assert types["aggregate_seq"] == "long"
    assert types["occurred_at"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert types["correlation_id"] == ["null", "string"]


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_nullable_fields_are_null_first_with_default_null(name: str) -> None:
    for field in _fields(EVENTS[name].schema):
        if isinstance(field["type"], list):
            assert field["type"][0] == "null", field["name"]
            assert "default" in field and field["default"] is None, field["name"]


def test_dates_timestamps_and_arrays_use_the_contract_types() -> None:
    published = {
        f["name"]: f["type"] for f in _fields(NAMED["vn.dvc.catalogue.ProcedurePublished"])
    }
    calendar = {
        f["name"]: f["type"] for f in _fields(NAMED["vn.dvc.catalogue.WorkingCalendarPublished"])
    }
    received = {f["name"]: f["type"] for f in _fields(NAMED["vn.dvc.dossier.DossierReceived"])}
    date = {"type": "int", "logicalType": "date"}
    assert published["effective_from"] == date
    assert published["levels"] == {"type": "array", "items": "vn.dvc.catalogue.GovLevel"}
    assert published["documents"] == {"type": "array", "items": "vn.dvc.catalogue.Document"}
    assert published["legal_bases"] == {"type": "array", "items": "string"}
    assert published["fee_vnd"] == "long"
    assert (
        calendar["holidays"] == calendar["swapped_working_days"] == {"type": "array", "items": date}
    )
    assert received["due_at"] == ["null", {"type": "long", "logicalType": "timestamp-millis"}]


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_expanded_schema_is_what_fastavro_load_schema_builds(name: str) -> None:
    from_repo = load_schema(str(AVRO_DIR / f"{name}.avsc"))
    assert to_parsing_canonical_form(EVENTS[name].parsed) == to_parsing_canonical_form(from_repo)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_registered_text_is_standalone_json(name: str) -> None:
    text = EVENTS[name].text
    schema = json.loads(text)
    assert schema == EVENTS[name].schema
    assert "vn.dvc" in text and not any(key.startswith("__") for key in schema)


def test_a_named_type_used_twice_is_inlined_once_then_referenced() -> None:
    fields = {
        f["name"]: f["type"] for f in _fields(EVENTS["vn.dvc.catalogue.ServiceLevelChanged"].schema)
    }
    assert fields["from_level"]["type"] == "enum"
    assert fields["to_level"] == "vn.dvc.catalogue.ServiceLevel"


def test_topics_and_subjects_follow_the_contract() -> None:
    sector = EVENTS[full_name(SectorDefined)]
    assert sector.topic == "catalogue.events"
    assert sector.subject == "catalogue.events-vn.dvc.catalogue.SectorDefined"
    received = EVENTS["vn.dvc.dossier.DossierReceived"]
    assert received.subject == "dossier.events-vn.dvc.dossier.DossierReceived"


def test_an_unknown_reference_is_a_load_error() -> None:
    schema = {"type": "record", "name": "x.R", "fields": [{"name": "a", "type": "x.Missing"}]}
    with pytest.raises(SchemaLoadError, match=r"x\.Missing"):
        expand(schema, {})


def test_a_file_whose_name_is_not_its_full_name_is_a_load_error(tmp_path: Any) -> None:
    (tmp_path / "Wrong.avsc").write_text(
        json.dumps({"type": "enum", "name": "x.E", "symbols": ["A"]})
    )
    with pytest.raises(SchemaLoadError, match=r"x\.E\.avsc"):
        load_named_schemas(tmp_path)


def test_a_missing_event_file_is_a_load_error(tmp_path: Any) -> None:
    with pytest.raises(SchemaLoadError, match="SectorDefined"):
        load_event_schemas(tmp_path, [SectorDefined])
