"""The local stack: a KRaft Kafka broker, Apicurio Registry and PostgreSQL 15, started here.

    from streams.infra import up, down, status, load_services, default_home
    services = up(default_home(), progress=print)   # idempotent; ~30-60 s cold on 2 cores
    services.kafka_bootstrap, services.registry_url, services.database_url, services.env()
    down(default_home())

Everything binds to 127.0.0.1 on free ports, lives under `<home>` (see `paths`), and is stopped
by recorded pid only. Errors are `InfraError` (tree in `streams.infra.errors`).
"""

from __future__ import annotations

from streams.infra.errors import InfraError, PortInUse, ServiceFailed, ToolMissing
from streams.infra.health import ServiceStatus, load_services, status
from streams.infra.paths import default_home, project_root
from streams.infra.services import Services, render_env
from streams.infra.stack import down, up

__all__ = [
    "InfraError",
    "PortInUse",
    "ServiceFailed",
    "ServiceStatus",
    "Services",
    "ToolMissing",
    "default_home",
    "down",
    "load_services",
    "project_root",
    "render_env",
    "status",
    "up",
]
