"""Apicurio Registry 3.x (Quarkus fast-jar) on 127.0.0.1, used through its Confluent API.

Storage is Apicurio's default in-memory H2 database, so a restart forgets every schema.
Besides the HTTP port, Quarkus opens a management interface (health, metrics) that defaults to
0.0.0.0:9000; it gets a free loopback port of its own. Temp, snapshot and import directories are
moved out of /tmp into the run directory. Authentication is off by default in this build
(`quarkus.oidc.tenant-enabled=false`); CORS only admits Apicurio's own UI origins, which does
not matter for server-side clients.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from streams.infra.java import Java
from streams.infra.ports import HOST
from streams.infra.process import spawn
from streams.infra.state import ServiceRecord

__all__ = ["PORT_NAMES", "RegistryPlan", "ccompat_url", "launch", "probe", "server_argv"]

PORT_NAMES = ("registry", "registry-management")
CCOMPAT_PATH = "/apis/ccompat/v7"


@dataclass(frozen=True)
class RegistryPlan:
    """What is needed to start the registry: a JVM (21+ for 3.3) and the unpacked app."""

    java: Java
    app_dir: Path
    version: str
    run_dir: Path

    @property
    def tmp_dir(self) -> Path:
        return self.run_dir / "tmp"

    @property
    def log(self) -> Path:
        return self.run_dir / "registry.log"


def ccompat_url(port: int) -> str:
    """Base URL of the Confluent-compatible API (what Confluent clients call the registry URL)."""
    return f"http://{HOST}:{port}{CCOMPAT_PATH}"


def server_argv(
    plan: RegistryPlan, ports: Mapping[str, int], extra: Sequence[str] = ()
) -> list[str]:
    """The registry's command line."""
    tmp = str(plan.tmp_dir)
    return [
        str(plan.java.path),
        "-Xmx512m",
        "-XX:+UseSerialGC",
        f"-Djava.io.tmpdir={tmp}",
        f"-Dquarkus.http.host={HOST}",
        f"-Dquarkus.http.port={ports['registry']}",
        f"-Dquarkus.management.host={HOST}",
        f"-Dquarkus.management.port={ports['registry-management']}",
        "-Dquarkus.http.access-log.enabled=false",
        f"-Dapicurio.storage.snapshot.location={tmp}",
        f"-Dapicurio.import.work-dir={tmp}",
        # local test stack: let tests clean up subjects and versions
        "-Dapicurio.rest.deletion.group.enabled=true",
        "-Dapicurio.rest.deletion.artifact.enabled=true",
        "-Dapicurio.rest.deletion.artifact-version.enabled=true",
        *extra,
        "-jar",
        str(plan.app_dir / "quarkus-run.jar"),
    ]


def launch(plan: RegistryPlan, ports: Mapping[str, int], extra: Sequence[str]) -> ServiceRecord:
    """Spawn the registry (in-memory storage, nothing to prepare but a temp dir)."""
    if plan.tmp_dir.exists():
        shutil.rmtree(plan.tmp_dir)
    plan.tmp_dir.mkdir(parents=True)
    ref = spawn(server_argv(plan, ports, extra), log_path=plan.log, cwd=plan.run_dir)
    return ServiceRecord(
        name="registry",
        pid=ref.pid,
        start_ticks=ref.start_ticks,
        stop_signal=int(signal.SIGTERM),
        host=HOST,
        port=ports["registry"],
        url=ccompat_url(ports["registry"]),
        log=str(plan.log),
        data_dirs=(str(plan.tmp_dir),),
        ports=dict(ports),
    )


def probe(record: ServiceRecord, deep: bool) -> bool:
    """True if `GET <ccompat>/subjects` answers 200."""
    response = httpx.get(f"{record.url}/subjects", timeout=5.0 if deep else 3.0)
    return response.status_code == 200
