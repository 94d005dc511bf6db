"""`<home>/run/state.json`: what the last `up` started, so later commands find it.

Written as soon as each process exists (status "starting") and again once all are ready, so an
interrupted `up` still leaves enough behind for `down` to stop exactly those pids.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from streams.infra.errors import InfraError
from streams.infra.process import ProcessRef

__all__ = ["ServiceRecord", "StackState", "read_state", "write_state"]

FORMAT = 1


@dataclass(frozen=True)
class ServiceRecord:
    """One running service: its process, where it listens, and its files."""

    name: str
    pid: int
    start_ticks: int
    stop_signal: int
    host: str
    port: int
    url: str
    log: str
    data_dirs: tuple[str, ...]
    ports: dict[str, int] = field(default_factory=dict)
    ready_seconds: float | None = None

    @property
    def ref(self) -> ProcessRef:
        return ProcessRef(self.pid, self.start_ticks)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def ready_after(self, seconds: float) -> ServiceRecord:
        return replace(self, ready_seconds=round(seconds, 2))


@dataclass(frozen=True)
class StackState:
    """Everything `up` recorded under one home."""

    home: str
    status: str  # "starting" or "ready"
    versions: dict[str, str]
    services: tuple[ServiceRecord, ...]
    env: dict[str, str] = field(default_factory=dict)

    def service(self, name: str) -> ServiceRecord | None:
        return next((s for s in self.services if s.name == name), None)

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StackState:
        data: dict[str, Any] = json.loads(text)
        if data.pop("format", None) != FORMAT:
            raise ValueError("unknown state format")
        services = tuple(
            ServiceRecord(**{**s, "data_dirs": tuple(s["data_dirs"])}) for s in data["services"]
        )
        return cls(**{**data, "services": services})


def read_state(path: Path) -> StackState | None:
    """The recorded state, or None if nothing is recorded."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return StackState.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise InfraError(
            f"{path} is unreadable ({exc}); stop any services it started by hand, then delete it"
        ) from exc


def write_state(path: Path, state: StackState) -> None:
    """Replace the state file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)
