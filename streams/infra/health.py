"""Is the recorded stack there and answering? `status`, `load_services` and the probes.

Liveness is by recorded pid and start time (`process.is_running`); readiness is a
client-level check per service (`kafka.probe`, `registry.probe`, `postgres.probe`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streams.infra import kafka, postgres, registry
from streams.infra.errors import InfraError
from streams.infra.paths import Layout
from streams.infra.process import is_running
from streams.infra.services import Services
from streams.infra.state import ServiceRecord, StackState, read_state

__all__ = [
    "PROBES",
    "ServiceStatus",
    "load_services",
    "safe_probe",
    "services_of",
    "status",
]

PROBES: dict[str, Callable[[ServiceRecord, bool], bool]] = {
    "kafka": kafka.probe,
    "registry": registry.probe,
    "postgres": postgres.probe,
}


@dataclass(frozen=True)
class ServiceStatus:
    """What `status` found for one recorded service."""

    name: str
    pid: int
    alive: bool
    address: str
    ready: bool
    log: str


def services_of(state: StackState) -> Services:
    """The addresses recorded in `state`."""
    urls = {s.name: s.url for s in state.services}
    return Services(
        kafka_bootstrap=urls["kafka"], registry_url=urls["registry"], database_url=urls["postgres"]
    )


def safe_probe(record: ServiceRecord, deep: bool) -> bool:
    """The service's readiness check, with any failure meaning "not ready"."""
    try:
        return PROBES[record.name](record, deep)
    except Exception:  # not answering is exactly what we are asking about
        return False


def status(home: Path) -> list[ServiceStatus]:
    """Each recorded service: pid, alive, address, ready (a quick client-level check)."""
    state = read_state(Layout.of(home).state_file)
    if state is None:
        return []
    result = []
    for record in state.services:
        alive = is_running(record.ref)
        ready = alive and safe_probe(record, False)
        result.append(ServiceStatus(record.name, record.pid, alive, record.url, ready, record.log))
    return result


def load_services(home: Path) -> Services | None:
    """The recorded stack if it finished starting and its processes are alive (no network)."""
    try:
        state = read_state(Layout.of(home).state_file)
    except InfraError:
        return None
    if state is None or state.status != "ready":
        return None
    if not all(is_running(s.ref) for s in state.services):
        return None
    return services_of(state)
