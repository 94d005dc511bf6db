"""The in-memory registry against the contract suite; the HTTP adapter's error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from schemas.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    RegistryError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SubjectNotFoundError,
)
from schemas.registry import CompatibilityLevel, HttpSchemaRegistry
from schemas.registry_memory import InMemorySchemaRegistry

try:
    from tests.schemas.registry_contract import V1, V3_REQUIRED, RegistryContract
except ImportError:  # the repository root is not on sys.path; pytest put this folder there
    from registry_contract import (  # type: ignore[no-redef,import-not-found]
        V1,
        V3_REQUIRED,
        RegistryContract,
    )


class TestInMemoryRegistry(RegistryContract):
    @pytest.fixture
    def registry(self) -> Iterator[InMemorySchemaRegistry]:
        registry = InMemorySchemaRegistry()
        yield registry
        registry.close()


def test_fixed_ids_are_kept_and_later_ids_follow_them() -> None:
    registry = InMemorySchemaRegistry()

    assert registry.register_with_id("s-t.R", V1, 500) == 500
    assert registry.register("s2-t.R", V3_REQUIRED) == 501


# --- the HTTP adapter, over a mock transport ---------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]
BASE = "http://registry.test/apis/ccompat/v7"


def _http(handler: Handler) -> HttpSchemaRegistry:
    return HttpSchemaRegistry(BASE, transport=httpx.MockTransport(handler))


def _reply(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_register_posts_the_schema_to_the_quoted_subject() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _reply(200, {"id": 7})

    assert _http(handler).register("dossier.events-vn.dvc.dossier.X", V1) == 7
    (request,) = seen
    assert request.method == "POST"
    assert (
        request.url.raw_path
        == b"/apis/ccompat/v7/subjects/dossier.events-vn.dvc.dossier.X/versions"
    )
    assert json.loads(request.content) == {"schema": V1}
    assert request.headers["content-type"] == "application/vnd.schemaregistry.v1+json"


def test_a_409_on_register_is_incompatible_with_the_registry_message() -> None:
    message = "Incompatible artifact: s [AVRO], list of diff types: [note at /fields/2]"
    registry = _http(lambda _: _reply(409, {"message": message, "error_code": 409}))

    with pytest.raises(IncompatibleSchemaError) as caught:
        registry.register("s", V3_REQUIRED)

    assert caught.value.subject == "s"
    assert caught.value.messages == (message,)
    assert "'s'" in str(caught.value) and "note at /fields/2" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "call", "error"),
    [
        (404, 40403, lambda r: r.get_schema(9), SchemaNotFoundError),
        (404, 40401, lambda r: r.versions("s"), SubjectNotFoundError),
        (422, 42201, lambda r: r.register("s", "{nope"), InvalidSchemaError),
        (500, 50001, lambda r: r.subjects(), RegistryUnavailableError),
        (503, None, lambda r: r.get_schema(1), RegistryUnavailableError),
        (401, 40101, lambda r: r.subjects(), RegistryError),
    ],
)
def test_error_replies_map_to_the_exception_tree(
    status: int, code: int | None, call: Callable[[HttpSchemaRegistry], Any], error: type
) -> None:
    registry = _http(lambda _: _reply(status, {"message": "nope", "error_code": code}))

    with pytest.raises(error) as caught:
        call(registry)

    assert caught.value.status == status


def test_a_transport_failure_is_unavailable_and_chains_the_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RegistryUnavailableError) as caught:
        _http(handler).subjects()

    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert BASE in str(caught.value)


def test_lookup_of_an_unregistered_schema_is_none() -> None:
    registry = _http(lambda _: _reply(404, {"message": "x", "error_code": 40403}))

    assert registry.lookup("s", V1) is None


def test_a_bare_incompatible_answer_is_explained_by_local_analysis() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/compatibility/subjects/s/versions"):
            return _reply(200, {"is_compatible": False})  # what Apicurio answers
        if path.endswith("/config/s"):
            return _reply(200, {"compatibilityLevel": "BACKWARD_TRANSITIVE"})
        if path.endswith("/subjects/s/versions"):
            return _reply(200, [1])
        if path.endswith("/subjects/s/versions/1"):
            return _reply(200, {"subject": "s", "version": 1, "id": 3, "schema": V1})
        return _reply(404, {"error_code": 40401, "message": path})

    result = _http(handler).check_compatibility("s", V3_REQUIRED)

    assert not result.is_compatible
    assert result.messages[0] == "registry answered is_compatible=false without messages"
    assert "field 'note' has no default" in result.messages[1]


def test_confluent_messages_are_used_when_the_registry_sends_them() -> None:
    registry = _http(lambda _: _reply(200, {"is_compatible": False, "messages": ["bad note"]}))

    assert registry.check_compatibility("s", V3_REQUIRED).messages == ("bad note",)


def test_a_confluent_404_on_check_means_a_new_subject() -> None:
    registry = _http(lambda _: _reply(404, {"message": "no subject", "error_code": 40401}))

    assert registry.check_compatibility("s", V1).is_compatible


def test_set_compatibility_puts_the_level() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _reply(200, {"compatibility": "BACKWARD_TRANSITIVE"})

    _http(handler).set_compatibility("s", CompatibilityLevel.BACKWARD_TRANSITIVE)

    assert seen[0].method == "PUT"
    assert json.loads(seen[0].content) == {"compatibility": "BACKWARD_TRANSITIVE"}
