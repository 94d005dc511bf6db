"""Where the local stack keeps its files.

`<home>` is `$ONESTOP_HOME`, else `<project root>/.onestop` (the project root is the directory
holding `pyproject.toml` above the `streams` package), else `~/.onestop`. Inside it:

    cache/                    fetched jars and unpacked apps, kept by `down`
                              (`$ONESTOP_CACHE` puts it elsewhere, e.g. shared by homes)
    run/state.json            what is running: pids, ports, logs, data dirs
    run/<service>/            per-service config, logs, data and temp dirs
    infra.lock                serialises `up` / `down` on this home
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout", "default_home", "project_root"]


def project_root() -> Path | None:
    """The directory above this package that holds `pyproject.toml`, if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "streams").is_dir():
            return parent
    return None


def default_home() -> Path:
    """`$ONESTOP_HOME`, else `<project root>/.onestop`, else `~/.onestop`."""
    env = os.environ.get("ONESTOP_HOME")
    if env:
        return Path(env).expanduser().resolve()
    root = project_root()
    if root is not None:
        return root / ".onestop"
    return Path.home() / ".onestop"


@dataclass(frozen=True)
class Layout:
    """The paths of one home; `cache` may be shared between homes."""

    home: Path
    cache: Path

    @classmethod
    def of(cls, home: Path, cache: Path | None = None) -> Layout:
        """`cache` defaults to `$ONESTOP_CACHE`, else `<home>/cache`."""
        home = home.expanduser().resolve()
        env = os.environ.get("ONESTOP_CACHE")
        chosen = cache or (Path(env) if env else home / "cache")
        return cls(home=home, cache=chosen.expanduser().resolve())

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def state_file(self) -> Path:
        return self.run / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.home / "infra.lock"

    def service_dir(self, name: str) -> Path:
        return self.run / name
