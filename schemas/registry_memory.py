"""`InMemorySchemaRegistry`: the shipped fake of `SchemaRegistryClient` for unit tests.

It behaves like Apicurio's ccompat API where the contract tests pin it down: global
content-based ids (the same text under two subjects gets one id); registering a schema
that a subject already holds up to formatting and docs (same parsing canonical form)
returns that version's id without a new version; compatibility enforced on registration
with `schemas.compat`; default level `NONE`. `register_with_id` pins ids for golden bytes.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Literal

import fastavro
from fastavro.schema import to_parsing_canonical_form

from schemas import compat
from schemas.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    SchemaNotFoundError,
    SubjectNotFoundError,
    VersionNotFoundError,
)
from schemas.registry import CompatibilityLevel, CompatibilityResult, RegisteredSchema

__all__ = ["InMemorySchemaRegistry"]


class InMemorySchemaRegistry:
    """A schema registry held in dicts; thread-safe, no I/O."""

    def __init__(
        self,
        *,
        first_id: int = 1,
        default_compatibility: CompatibilityLevel = CompatibilityLevel.NONE,
    ) -> None:
        self._lock = threading.Lock()
        self._next_id = first_id
        self._default = default_compatibility
        self._by_id: dict[int, str] = {}
        self._id_by_text: dict[str, int] = {}
        self._subjects: dict[str, list[int]] = {}
        self._levels: dict[str, CompatibilityLevel] = {}
        self.requests = 0
        """How many calls reached the registry (tests use it to check caching)."""

    def __enter__(self) -> InMemorySchemaRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _parse(schema: str) -> Any:
        try:
            parsed = json.loads(schema)
            fastavro.parse_schema(parsed)
        except Exception as exc:  # json and fastavro raise many unrelated types
            raise InvalidSchemaError(f"invalid Avro schema: {exc}", status=422) from exc
        return parsed

    def _canonical(self, schema: str) -> str:
        return str(to_parsing_canonical_form(fastavro.parse_schema(self._parse(schema))))

    def _held(self, subject: str, schema: str) -> int | None:
        """The id of the version of `subject` equal to `schema` up to canonical form."""
        canonical = self._canonical(schema)
        for schema_id in self._subjects.get(subject, []):
            if self._canonical(self._by_id[schema_id]) == canonical:
                return schema_id
        return None

    def _problems(self, subject: str, schema: str) -> list[str]:
        level = self._levels.get(subject, self._default)
        registered = [json.loads(self._by_id[i]) for i in self._subjects.get(subject, [])]
        return compat.check(str(level), self._parse(schema), registered)

    def _add(self, subject: str, schema: str, schema_id: int | None) -> int:
        held = self._subjects.setdefault(subject, [])
        same = self._held(subject, schema)
        if same is not None:
            return same
        existing = self._id_by_text.get(schema)
        problems = self._problems(subject, schema)
        if problems:
            raise IncompatibleSchemaError(subject, tuple(problems), status=409)
        if existing is None:
            existing = schema_id if schema_id is not None else self._next_id
            if existing in self._by_id:
                raise ValueError(f"schema id {existing} is already taken")
            self._next_id = max(self._next_id, existing + 1)
            self._by_id[existing] = schema
            self._id_by_text[schema] = existing
        held.append(existing)
        return existing

    # --- the port ------------------------------------------------------------------------

    def register(self, subject: str, schema: str) -> int:
        with self._lock:
            self.requests += 1
            return self._add(subject, schema, None)

    def register_with_id(self, subject: str, schema: str, schema_id: int) -> int:
        """Fake only: register `schema` under `subject` with a chosen global id."""
        with self._lock:
            return self._add(subject, schema, schema_id)

    def lookup(self, subject: str, schema: str) -> RegisteredSchema | None:
        with self._lock:
            self.requests += 1
            schema_id = self._held(subject, schema)
            if schema_id is None:
                return None
            held = self._subjects[subject]
            return RegisteredSchema(
                subject, held.index(schema_id) + 1, schema_id, self._by_id[schema_id]
            )

    def get_schema(self, schema_id: int) -> str:
        with self._lock:
            self.requests += 1
            if schema_id not in self._by_id:
                raise SchemaNotFoundError(f"Schema {schema_id} not found.", status=404)
            return self._by_id[schema_id]

    def subjects(self) -> list[str]:
        with self._lock:
            return sorted(s for s, held in self._subjects.items() if held)

    def versions(self, subject: str) -> list[int]:
        with self._lock:
            held = self._subjects.get(subject)
            if not held:
                raise SubjectNotFoundError(f"Subject '{subject}' not found.", status=404)
            return list(range(1, len(held) + 1))

    def get_version(self, subject: str, version: int | Literal["latest"]) -> RegisteredSchema:
        with self._lock:
            held = self._subjects.get(subject)
            if not held:
                raise SubjectNotFoundError(f"Subject '{subject}' not found.", status=404)
            number = len(held) if version == "latest" else version
            if not 1 <= number <= len(held):
                raise VersionNotFoundError(f"Version {version} not found.", status=404)
            schema_id = held[number - 1]
            return RegisteredSchema(subject, number, schema_id, self._by_id[schema_id])

    def get_compatibility(self, subject: str) -> CompatibilityLevel | None:
        with self._lock:
            if subject in self._levels:
                return self._levels[subject]
            return self._default if self._subjects.get(subject) else None

    def set_compatibility(self, subject: str, level: CompatibilityLevel) -> None:
        with self._lock:
            self._levels[subject] = CompatibilityLevel(level)

    def check_compatibility(self, subject: str, schema: str) -> CompatibilityResult:
        with self._lock:
            problems = self._problems(subject, schema)
        return CompatibilityResult(subject, not problems, tuple(problems))

    def close(self) -> None:
        """Nothing to release."""
