"""The schema registry contract: one suite, run against the fake and the real registry.

Subclass `RegistryContract` and provide a `registry` fixture. Subjects are unique per
test, so the suite can run against a registry shared with other tests.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from schemas.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    SchemaNotFoundError,
    SubjectNotFoundError,
)
from schemas.registry import CompatibilityLevel, SchemaRegistryClient

__all__ = ["RegistryContract"]


def _schema(*fields: dict[str, Any], symbols: tuple[str, ...] = ("A", "B")) -> str:
    enum = {"type": "enum", "name": "Kind", "symbols": list(symbols)}
    base = [{"name": "id", "type": "string"}, {"name": "kind", "type": enum}]
    record = {
        "type": "record",
        "name": "R",
        "namespace": "contract.t",
        "fields": base + list(fields),
    }
    return json.dumps(record, separators=(",", ":"))


V1 = _schema()
V2_DEFAULT = _schema({"name": "note", "type": ["null", "string"], "default": None})
V3_REQUIRED = _schema({"name": "note", "type": "string"})
FEWER_SYMBOLS = _schema(symbols=("A",))
MORE_SYMBOLS = _schema(symbols=("A", "B", "C"))


class RegistryContract:
    """What every `SchemaRegistryClient` must do (the Confluent REST API's behaviour)."""

    @pytest.fixture
    def subject(self) -> str:
        return f"contract-{uuid.uuid4().hex[:12]}-contract.t.R"

    @pytest.fixture
    def strict(self, registry: SchemaRegistryClient, subject: str) -> str:
        """`subject` under BACKWARD_TRANSITIVE holding V1."""
        registry.set_compatibility(subject, CompatibilityLevel.BACKWARD_TRANSITIVE)
        registry.register(subject, V1)
        return subject

    def test_registering_the_same_schema_twice_gives_one_id_and_one_version(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        first = registry.register(subject, V1)
        again = registry.register(subject, V1)

        assert first == again
        assert registry.versions(subject) == [1]

    def test_a_schema_differing_only_in_formatting_is_the_same_version(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        first = registry.register(subject, V1)
        spaced = json.dumps(json.loads(V1), indent=2)

        assert registry.register(subject, spaced) == first
        assert registry.versions(subject) == [1]
        found = registry.lookup(subject, spaced)
        assert found is not None and found.schema_id == first

    def test_a_schema_is_fetched_back_by_its_id(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        schema_id = registry.register(subject, V1)

        assert json.loads(registry.get_schema(schema_id)) == json.loads(V1)

    def test_an_unknown_id_is_schema_not_found(self, registry: SchemaRegistryClient) -> None:
        with pytest.raises(SchemaNotFoundError):
            registry.get_schema(2_000_000_000)

    def test_subjects_and_versions_list_what_was_registered(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        v1 = registry.register(subject, V1)
        v2 = registry.register(subject, V2_DEFAULT)

        assert v1 != v2
        assert subject in registry.subjects()
        assert registry.versions(subject) == [1, 2]
        assert registry.get_version(subject, 1).schema_id == v1
        latest = registry.get_version(subject, "latest")
        assert (latest.version, latest.schema_id) == (2, v2)
        assert json.loads(latest.schema) == json.loads(V2_DEFAULT)

    def test_versions_of_an_unknown_subject_is_subject_not_found(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        with pytest.raises(SubjectNotFoundError):
            registry.versions(subject)

    def test_lookup_finds_a_registered_schema_and_nothing_else(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        schema_id = registry.register(subject, V1)

        found = registry.lookup(subject, V1)

        assert found is not None
        assert (found.subject, found.version, found.schema_id) == (subject, 1, schema_id)
        assert registry.lookup(subject, V2_DEFAULT) is None
        assert registry.lookup(subject + "-other", V1) is None

    def test_compatibility_level_is_set_per_subject(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        registry.set_compatibility(subject, CompatibilityLevel.BACKWARD_TRANSITIVE)
        registry.register(subject, V1)

        assert registry.get_compatibility(subject) == CompatibilityLevel.BACKWARD_TRANSITIVE

    def test_the_compatibility_of_an_unknown_subject_is_none(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        assert registry.get_compatibility(subject) is None

    def test_check_accepts_a_field_added_with_a_default(
        self, registry: SchemaRegistryClient, strict: str
    ) -> None:
        result = registry.check_compatibility(strict, V2_DEFAULT)

        assert result.is_compatible
        assert result.subject == strict

    def test_check_refuses_a_field_added_without_default_and_says_why(
        self, registry: SchemaRegistryClient, strict: str
    ) -> None:
        result = registry.check_compatibility(strict, V3_REQUIRED)

        assert not result.is_compatible
        assert any("note" in message for message in result.messages)

    def test_check_of_a_subject_not_registered_yet_accepts_anything(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        assert registry.check_compatibility(subject, V3_REQUIRED).is_compatible

    def test_registering_an_incompatible_schema_is_refused_naming_the_subject(
        self, registry: SchemaRegistryClient, strict: str
    ) -> None:
        with pytest.raises(IncompatibleSchemaError) as caught:
            registry.register(strict, V3_REQUIRED)

        assert caught.value.subject == strict
        assert strict in str(caught.value)
        assert "note" in str(caught.value)
        assert registry.versions(strict) == [1]

    def test_backward_transitive_checks_every_version_not_only_the_latest(
        self, registry: SchemaRegistryClient, strict: str
    ) -> None:
        registry.register(strict, V2_DEFAULT)  # v3 can read v2 data, not v1 data

        assert not registry.check_compatibility(strict, V3_REQUIRED).is_compatible
        with pytest.raises(IncompatibleSchemaError):
            registry.register(strict, V3_REQUIRED)

    def test_removing_an_enum_symbol_is_refused_adding_one_is_not(
        self, registry: SchemaRegistryClient, strict: str
    ) -> None:
        with pytest.raises(IncompatibleSchemaError) as caught:
            registry.register(strict, FEWER_SYMBOLS)

        assert "B" in str(caught.value)
        assert registry.register(strict, MORE_SYMBOLS) > 0

    def test_the_same_schema_under_two_subjects_has_one_id(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        assert registry.register(subject, V1) == registry.register(subject + "-b", V1)

    def test_a_schema_that_is_not_avro_is_invalid(
        self, registry: SchemaRegistryClient, subject: str
    ) -> None:
        with pytest.raises(InvalidSchemaError):
            registry.register(subject, "{nope")
