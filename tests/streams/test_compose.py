"""docker-compose.yml cannot run here (no Docker engine); keep it structurally valid and in
step with the settings and the local stack."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_stack_has_every_service_of_the_design() -> None:
    services = load()["services"]
    assert set(services) == {"kafka", "registry", "postgres", "worker", "api"}
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "apicurio" in services["registry"]["image"]
    assert services["postgres"]["image"].startswith("postgres:15")


def test_published_ports_bind_to_loopback_only() -> None:
    for name, service in load()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_worker_and_api_get_the_settings_the_code_reads() -> None:
    services = load()["services"]
    for name in ("worker", "api"):
        env = services[name]["environment"]
        assert {"ONESTOP_KAFKA_BOOTSTRAP", "ONESTOP_SCHEMA_REGISTRY_URL", "ONESTOP_DATABASE_URL",
                "ONESTOP_PII_HMAC_KEY"} <= set(env)
        assert env["ONESTOP_SCHEMA_REGISTRY_URL"].endswith("/apis/ccompat/v7")
        assert env["ONESTOP_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert set(services[name]["depends_on"]) <= set(services)


def test_the_images_match_the_versions_the_local_stack_fetches() -> None:
    from streams.infra import maven  # the versions `onestop infra up` fetches

    text = (ROOT / "docker-compose.yml").read_text()
    source = Path(maven.__file__).read_text()
    for image in ("apache/kafka:3.9.1", "apicurio/apicurio-registry:3.3.3"):
        assert image in text
        assert image.split(":")[1] in source
