"""`onestop schemas register | check` and `topics create` against the in-memory registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import streams.commands.schemas as commands
from schemas.avro_schemas import AVRO_DIR, event_schemas
from schemas.registry import CompatibilityLevel
from schemas.registry_memory import InMemorySchemaRegistry
from streams.cli import main

SUBJECTS = sorted(s.subject for s in event_schemas().values())


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> InMemorySchemaRegistry:
    fake = InMemorySchemaRegistry()
    monkeypatch.setattr(commands, "HttpSchemaRegistry", lambda url: fake)
    return fake


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--registry-url", "http://fake"])
    return result.exit_code, result.output


def _broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, target)
    sector = target / "vn.dvc.catalogue.SectorDefined.avsc"
    schema = json.loads(sector.read_text())
    schema["fields"].append({"name": "owner", "type": "string"})
    sector.write_text(json.dumps(schema))
    resumed = target / "vn.dvc.dossier.DossierResumed.avsc"
    schema = json.loads(resumed.read_text())
    schema["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    resumed.write_text(json.dumps(schema))
    return target


def test_check_on_an_empty_registry_reports_every_subject_new(
    registry: InMemorySchemaRegistry,
) -> None:
    code, output = _run("schemas", "check")

    assert code == 0
    assert output.splitlines() == [f"{s}: new" for s in SUBJECTS]


def test_register_sets_backward_transitive_and_prints_subject_and_id(
    registry: InMemorySchemaRegistry,
) -> None:
    code, output = _run("schemas", "register")

    assert code == 0
    lines = output.splitlines()
    assert [line.split(" -> ")[0] for line in lines] == SUBJECTS
    assert all(line.split(" -> ")[1].isdigit() for line in lines)
    assert all(
        registry.get_compatibility(s) == CompatibilityLevel.BACKWARD_TRANSITIVE for s in SUBJECTS
    )


def test_register_twice_changes_nothing(registry: InMemorySchemaRegistry) -> None:
    _, first = _run("schemas", "register")
    code, second = _run("schemas", "register")

    assert code == 0
    assert first == second
    assert all(registry.versions(s) == [1] for s in SUBJECTS)


def test_check_after_register_reports_every_schema_registered(
    registry: InMemorySchemaRegistry,
) -> None:
    _run("schemas", "register")

    code, output = _run("schemas", "check")

    assert code == 0
    assert all(": registered (id " in line for line in output.splitlines())


def test_check_exits_1_listing_incompatible_schemas_with_the_reason(
    registry: InMemorySchemaRegistry, tmp_path: Path
) -> None:
    _run("schemas", "register")

    code, output = _run("schemas", "check", "--avsc-dir", str(_broken_copy(tmp_path)))

    assert code == 1
    assert "dossier.events-vn.dvc.dossier.DossierResumed: compatible" in output
    assert "catalogue.events-vn.dvc.catalogue.SectorDefined: INCOMPATIBLE: " in output
    assert "field 'owner' has no default" in output
    assert "1 schema(s) incompatible" in output


def test_register_of_an_incompatible_schema_exits_1_and_registers_the_rest(
    registry: InMemorySchemaRegistry, tmp_path: Path
) -> None:
    _run("schemas", "register")

    code, output = _run("schemas", "register", "--avsc-dir", str(_broken_copy(tmp_path)))

    assert code == 1
    assert "catalogue.events-vn.dvc.catalogue.SectorDefined -> REJECTED" in output
    assert "1 schema(s) rejected" in output
    assert registry.versions("dossier.events-vn.dvc.dossier.DossierResumed") == [1, 2]


def test_without_a_registry_the_commands_say_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ONESTOP_HOME", str(tmp_path))
    monkeypatch.delenv("ONESTOP_SCHEMA_REGISTRY_URL", raising=False)
    monkeypatch.delenv("ONESTOP_KAFKA_BOOTSTRAP", raising=False)

    check = CliRunner().invoke(main, ["schemas", "check"])
    create = CliRunner().invoke(main, ["topics", "create"])

    assert check.exit_code == 1 and "ONESTOP_SCHEMA_REGISTRY_URL" in check.output
    assert create.exit_code == 1
    assert "no Kafka configured: run `onestop infra up`" in create.output
