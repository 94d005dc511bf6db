"""`Settings.from_env`: defaults, overrides, the local stack, clear errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import streams.settings as settings_module
from streams.settings import DEV_PII_HMAC_KEY, Settings, SettingsError


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "_local_stack", lambda home: None)


def test_defaults_without_any_variable(tmp_path: Path, no_stack: None) -> None:
    settings = Settings.from_env({"ONESTOP_HOME": str(tmp_path)})

    assert settings.home == tmp_path.resolve()
    assert settings.kafka_bootstrap is None
    assert settings.schema_registry_url is None
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'onestop.db'}"
    assert settings.pii_hmac_key == DEV_PII_HMAC_KEY and settings.is_dev_pii_key
    assert (settings.catalogue_partitions, settings.dossier_partitions) == (3, 12)
    assert (settings.max_record_bytes, settings.batch_size) == (1024 * 1024, 500)


def test_the_default_home_is_the_project_dot_onestop(no_stack: None) -> None:
    settings = Settings.from_env({})

    assert settings.home == Path(settings_module.__file__).resolve().parents[1] / ".onestop"


def test_every_variable_overrides_its_field(tmp_path: Path, no_stack: None) -> None:
    env = {
        "ONESTOP_HOME": str(tmp_path),
        "ONESTOP_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
        "ONESTOP_SCHEMA_REGISTRY_URL": "http://127.0.0.1:8080/apis/ccompat/v7/",
        "ONESTOP_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/onestop",
        "ONESTOP_PII_HMAC_KEY": "s3cret",
        "ONESTOP_CATALOGUE_PARTITIONS": "6",
        "ONESTOP_DOSSIER_PARTITIONS": "24",
        "ONESTOP_MAX_RECORD_BYTES": "2048",
        "ONESTOP_BATCH_SIZE": "1000",
        "ONESTOP_CATCHUP_BATCH_SIZE": "8000",
        "ONESTOP_BACKLOG_PAUSE": "300",
        "ONESTOP_REPLAY_CACHE": "1000",
    }

    settings = Settings.from_env(env)

    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.schema_registry_url == "http://127.0.0.1:8080/apis/ccompat/v7"
    assert settings.database_url == "postgresql+psycopg://u@127.0.0.1:5432/onestop"
    assert settings.pii_hmac_key == "s3cret" and not settings.is_dev_pii_key
    assert (settings.catalogue_partitions, settings.dossier_partitions) == (6, 24)
    assert (settings.max_record_bytes, settings.batch_size) == (2048, 1000)
    assert (settings.catchup_batch_size, settings.backlog_pause) == (8000, 300)
    assert settings.replay_cache == 1000


def test_the_running_local_stack_fills_in_kafka_and_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = SimpleNamespace(
        kafka_bootstrap="127.0.0.1:1111", registry_url="http://127.0.0.1:2222/apis/ccompat/v7"
    )
    seen: list[Any] = []
    monkeypatch.setattr(settings_module, "_local_stack", lambda home: seen.append(home) or stack)

    settings = Settings.from_env(
        {"ONESTOP_HOME": str(tmp_path), "ONESTOP_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    )

    assert seen == [tmp_path.resolve()]
    assert settings.kafka_bootstrap == "127.0.0.1:9"  # the variable wins
    assert settings.schema_registry_url == "http://127.0.0.1:2222/apis/ccompat/v7"


def test_a_home_without_a_stack_finds_none(tmp_path: Path) -> None:
    settings = Settings.from_env({"ONESTOP_HOME": str(tmp_path)})

    assert settings.kafka_bootstrap is None


def test_needing_kafka_without_any_says_how_to_get_it(tmp_path: Path, no_stack: None) -> None:
    settings = Settings.from_env({"ONESTOP_HOME": str(tmp_path)})

    with pytest.raises(
        SettingsError, match="run `onestop infra up` or set ONESTOP_KAFKA_BOOTSTRAP"
    ):
        settings.require_kafka()
    with pytest.raises(SettingsError, match="ONESTOP_SCHEMA_REGISTRY_URL"):
        settings.require_schema_registry()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ONESTOP_DOSSIER_PARTITIONS", "twelve"),
        ("ONESTOP_CATALOGUE_PARTITIONS", "0"),
        ("ONESTOP_BATCH_SIZE", "-5"),
        ("ONESTOP_CATCHUP_BATCH_SIZE", "0"),
        ("ONESTOP_MAX_RECORD_BYTES", "10"),
    ],
)
def test_an_invalid_number_names_the_variable(
    tmp_path: Path, no_stack: None, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"ONESTOP_HOME": str(tmp_path), name: value})


def test_settings_are_frozen(tmp_path: Path, no_stack: None) -> None:
    settings = Settings.from_env({"ONESTOP_HOME": str(tmp_path)})

    with pytest.raises(AttributeError):
        settings.batch_size = 1  # type: ignore[misc]
