"""Schema registry port, and its adapter for the Confluent REST API over httpx.

`SchemaRegistryClient` is the interface the codec and the CLI use; `HttpSchemaRegistry`
speaks the Confluent REST API (Confluent Schema Registry, or Apicurio Registry's
`/apis/ccompat/v7`), and `schemas.registry_memory.InMemorySchemaRegistry` is the fake for
unit tests. One contract test suite runs against both.

Observed Apicurio 3.3 ccompat behaviour that shapes this client:
- registering under a subject whose compatibility is `BACKWARD_TRANSITIVE` is checked
  against every version; an incompatible schema gets HTTP 409 with the registry's
  explanation (`Incompatible artifact: <subject> [AVRO], ... list of diff types: [...]`);
- `POST /compatibility/subjects/{s}/versions/latest` checks the latest version only, even
  under a transitive level; `POST /compatibility/subjects/{s}/versions` checks the way a
  registration would. Neither returns `messages` (even with `verbose=true`), so
  `check_compatibility` adds a local analysis (`schemas.compat`) when the answer is no;
- checking a subject that does not exist answers `is_compatible: true` (Confluent: 404);
- registering (or looking up) a schema that a subject already holds up to formatting and
  `doc`s returns that version: no new version, same id;
- schema ids are global and content-based: the same text under two subjects gets one id;
  ids start at 1 and are not always contiguous.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote

import httpx

from schemas import compat
from schemas.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    NotFoundError,
    RegistryError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SubjectNotFoundError,
    VersionNotFoundError,
)

__all__ = [
    "CompatibilityLevel",
    "CompatibilityResult",
    "HttpSchemaRegistry",
    "RegisteredSchema",
    "SchemaRegistryClient",
]

_CONTENT_TYPE: Final[str] = "application/vnd.schemaregistry.v1+json"
_NOT_FOUND: Final[dict[int, type[NotFoundError]]] = {
    40401: SubjectNotFoundError,
    40402: VersionNotFoundError,
    40403: SchemaNotFoundError,
}


class CompatibilityLevel(StrEnum):
    """Compatibility rules of the Confluent API."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """One version of a subject."""

    subject: str
    version: int
    schema_id: int
    schema: str


@dataclass(frozen=True, slots=True)
class CompatibilityResult:
    """Whether a schema may be registered under `subject`, and why not."""

    subject: str
    is_compatible: bool
    messages: tuple[str, ...] = ()


class SchemaRegistryClient(Protocol):
    """What the project needs from a schema registry (the Confluent REST API's model)."""

    def register(self, subject: str, schema: str) -> int:
        """Register `schema` (Avro JSON text) under `subject`; return its global id.

        Registering a schema the subject already holds returns the existing id. Raises
        `IncompatibleSchemaError` if the subject's compatibility rule rejects it.
        """
        ...

    def lookup(self, subject: str, schema: str) -> RegisteredSchema | None:
        """The version of `subject` holding exactly `schema`, or None."""
        ...

    def get_schema(self, schema_id: int) -> str:
        """The schema text with that global id; `SchemaNotFoundError` if none."""
        ...

    def subjects(self) -> list[str]:
        """Every subject."""
        ...

    def versions(self, subject: str) -> list[int]:
        """The version numbers of `subject`; `SubjectNotFoundError` if none."""
        ...

    def get_version(self, subject: str, version: int | Literal["latest"]) -> RegisteredSchema:
        """One version of `subject`."""
        ...

    def get_compatibility(self, subject: str) -> CompatibilityLevel | None:
        """The subject's compatibility level (the global default if the subject has none
        of its own, as the registry reports it); None for an unknown subject."""
        ...

    def set_compatibility(self, subject: str, level: CompatibilityLevel) -> None:
        """Set the compatibility level of `subject` (which need not exist yet)."""
        ...

    def check_compatibility(self, subject: str, schema: str) -> CompatibilityResult:
        """Would registering `schema` under `subject` pass its compatibility rule?

        A subject that does not exist yet accepts anything.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class HttpSchemaRegistry:
    """`SchemaRegistryClient` over the Confluent REST API.

    `base_url` is the API root: `http://host:port` for Confluent, or
    `http://host:port/apis/ccompat/v7` for Apicurio. `transport` lets tests inject an
    `httpx.MockTransport`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE},
        )

    def __enter__(self) -> HttpSchemaRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- transport -----------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, subject: str = ""
    ) -> Any:
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            response = self._http.request(method, path, content=content)
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(
                f"schema registry {self.base_url} unreachable ({method} {path}): {exc}"
            ) from exc
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise RegistryError(
                    f"schema registry sent non-JSON for {method} {path}: {response.text[:200]!r}",
                    status=response.status_code,
                ) from exc
        raise self._error(response, f"{method} {path}", subject)

    def _error(self, response: httpx.Response, what: str, subject: str) -> RegistryError:
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        message = str(payload.get("message") or response.text[:300] or response.reason_phrase)
        code = payload.get("error_code")
        code = code if isinstance(code, int) else None
        status = response.status_code
        if status == 409 and subject:
            return IncompatibleSchemaError(subject, (message,), status=status, error_code=code)
        if status == 404:
            kind = _NOT_FOUND.get(code or 0, NotFoundError)
            return kind(f"{message} ({what})", status=status, error_code=code)
        if status == 422:
            return InvalidSchemaError(
                f"registry rejected the schema ({what}): {message}", status=status, error_code=code
            )
        if status >= 500:
            return RegistryUnavailableError(
                f"schema registry failed ({what}): HTTP {status}: {message}",
                status=status,
                error_code=code,
            )
        return RegistryError(f"{what}: HTTP {status}: {message}", status=status, error_code=code)

    @staticmethod
    def _s(subject: str) -> str:
        return quote(subject, safe="")

    # --- the port ------------------------------------------------------------------------

    def register(self, subject: str, schema: str) -> int:
        path = f"/subjects/{self._s(subject)}/versions"
        reply = self._request("POST", path, {"schema": schema}, subject=subject)
        return int(reply["id"])

    def lookup(self, subject: str, schema: str) -> RegisteredSchema | None:
        try:
            reply = self._request("POST", f"/subjects/{self._s(subject)}", {"schema": schema})
        except (SubjectNotFoundError, SchemaNotFoundError):
            return None
        return RegisteredSchema(
            subject=subject,
            version=int(reply["version"]),
            schema_id=int(reply["id"]),
            schema=str(reply.get("schema", schema)),
        )

    def get_schema(self, schema_id: int) -> str:
        try:
            reply = self._request("GET", f"/schemas/ids/{int(schema_id)}")
        except NotFoundError as exc:
            raise SchemaNotFoundError(
                f"schema id {schema_id} not found", status=exc.status, error_code=exc.error_code
            ) from exc
        return str(reply["schema"])

    def subjects(self) -> list[str]:
        return [str(s) for s in self._request("GET", "/subjects")]

    def versions(self, subject: str) -> list[int]:
        return [int(v) for v in self._request("GET", f"/subjects/{self._s(subject)}/versions")]

    def get_version(self, subject: str, version: int | Literal["latest"]) -> RegisteredSchema:
        reply = self._request("GET", f"/subjects/{self._s(subject)}/versions/{version}")
        return RegisteredSchema(
            subject=subject,
            version=int(reply["version"]),
            schema_id=int(reply["id"]),
            schema=str(reply["schema"]),
        )

    def get_compatibility(self, subject: str) -> CompatibilityLevel | None:
        try:
            reply = self._request("GET", f"/config/{self._s(subject)}")
        except NotFoundError:
            return None
        return CompatibilityLevel(reply.get("compatibilityLevel") or reply["compatibility"])

    def set_compatibility(self, subject: str, level: CompatibilityLevel) -> None:
        self._request("PUT", f"/config/{self._s(subject)}", {"compatibility": str(level)})

    def check_compatibility(self, subject: str, schema: str) -> CompatibilityResult:
        path = f"/compatibility/subjects/{self._s(subject)}/versions?verbose=true"
        try:
            reply = self._request("POST", path, {"schema": schema})
        except SubjectNotFoundError:
            return CompatibilityResult(subject=subject, is_compatible=True)
        if reply.get("is_compatible") is True:
            return CompatibilityResult(subject=subject, is_compatible=True)
        messages = tuple(str(m) for m in reply.get("messages") or ())
        if not messages:
            messages = (
                "registry answered is_compatible=false without messages",
                *self._local_analysis(subject, schema),
            )
        return CompatibilityResult(subject=subject, is_compatible=False, messages=messages)

    def _local_analysis(self, subject: str, schema: str) -> list[str]:
        """Explain a bare `is_compatible: false` with `schemas.compat`."""
        level = self.get_compatibility(subject) or CompatibilityLevel.NONE
        registered = [
            json.loads(self.get_version(subject, v).schema) for v in self.versions(subject)
        ]
        found = compat.check(str(level), json.loads(schema), registered)
        return [f"local analysis ({level}): {p}" for p in found]
