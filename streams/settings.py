"""`Settings`: the one frozen, typed configuration object, built at the edge from `ONESTOP_*`.

| variable | field | default |
|---|---|---|
| `ONESTOP_HOME` | `home` | `<project root>/.onestop` (else `~/.onestop`) |
| `ONESTOP_KAFKA_BOOTSTRAP` | `kafka_bootstrap` | the stack of `onestop infra up`, if running |
| `ONESTOP_SCHEMA_REGISTRY_URL` | `schema_registry_url` | the same stack's registry |
| `ONESTOP_DATABASE_URL` | `database_url` | `sqlite:///<home>/onestop.db` |
| `ONESTOP_PII_HMAC_KEY` | `pii_hmac_key` | a dev-only key (`is_dev_pii_key` tells) |
| `ONESTOP_CATALOGUE_PARTITIONS` | `catalogue_partitions` | 3 |
| `ONESTOP_DOSSIER_PARTITIONS` | `dossier_partitions` | 12 |
| `ONESTOP_MAX_RECORD_BYTES` | `max_record_bytes` | 1 MiB |
| `ONESTOP_BATCH_SIZE` | `batch_size` | 500 |
| `ONESTOP_CATCHUP_BATCH_SIZE` | `catchup_batch_size` | 5000 (per commit while behind) |
| `ONESTOP_BACKLOG_PAUSE` | `backlog_pause` | 20000 (deferred dossier records) |
| `ONESTOP_REPLAY_CACHE` | `replay_cache` | 200000 (aggregates per projection) |

`ONESTOP_SCHEMA_REGISTRY_URL` is the root of the Confluent REST API (for Apicurio
`http://host:port/apis/ccompat/v7`). Everything else gets explicit arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = ["DEV_PII_HMAC_KEY", "Settings", "SettingsError"]

DEV_PII_HMAC_KEY: Final[str] = "INSECURE-dev-only-pii-hmac-key-set-ONESTOP_PII_HMAC_KEY"
_PREFIX: Final[str] = "ONESTOP_"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable and the fix."""


def _project_root() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "streams").is_dir():
            return parent
    return None


def _default_home() -> Path:
    root = _project_root()
    return root / ".onestop" if root is not None else Path.home() / ".onestop"


def _local_stack(home: Path) -> Any | None:
    """The running stack of `onestop infra up` under `home`, if the infra package is here."""
    try:
        from streams import infra
    except ImportError as exc:  # tolerate only the package's absence, not its bugs
        if exc.name not in ("streams.infra", "streams"):
            raise
        return None
    load: Callable[[Path], Any] | None = getattr(infra, "load_services", None)
    return None if load is None else load(home)


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(_PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{_PREFIX}{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise SettingsError(f"{_PREFIX}{name}={value} must be at least {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of every `onestop` command; build it with `Settings.from_env()`."""

    home: Path
    kafka_bootstrap: str | None
    schema_registry_url: str | None
    database_url: str
    pii_hmac_key: str = DEV_PII_HMAC_KEY
    catalogue_partitions: int = 3
    dossier_partitions: int = 12
    max_record_bytes: int = 1024 * 1024
    batch_size: int = 500
    catchup_batch_size: int = 5000
    backlog_pause: int = 20_000
    replay_cache: int = 200_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `ONESTOP_*` from `environ` (default `os.environ`); `SettingsError` if invalid."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(_PREFIX + name, "").strip()
            return value or None

        raw_home = text("HOME")
        home = Path(raw_home).expanduser().resolve() if raw_home else _default_home()
        kafka, registry = text("KAFKA_BOOTSTRAP"), text("SCHEMA_REGISTRY_URL")
        if kafka is None or registry is None:
            stack = _local_stack(home)
            if stack is not None:
                kafka = kafka or str(stack.kafka_bootstrap)
                registry = registry or str(stack.registry_url)
        return cls(
            home=home,
            kafka_bootstrap=kafka,
            schema_registry_url=registry.rstrip("/") if registry else None,
            database_url=text("DATABASE_URL") or f"sqlite:///{home / 'onestop.db'}",
            pii_hmac_key=text("PII_HMAC_KEY") or DEV_PII_HMAC_KEY,
            catalogue_partitions=_int(env, "CATALOGUE_PARTITIONS", 3),
            dossier_partitions=_int(env, "DOSSIER_PARTITIONS", 12),
            max_record_bytes=_int(env, "MAX_RECORD_BYTES", 1024 * 1024, minimum=1024),
            batch_size=_int(env, "BATCH_SIZE", 500),
            catchup_batch_size=_int(env, "CATCHUP_BATCH_SIZE", 5000),
            backlog_pause=_int(env, "BACKLOG_PAUSE", 20_000),
            replay_cache=_int(env, "REPLAY_CACHE", 200_000),
        )

    @property
    def is_dev_pii_key(self) -> bool:
        """True while the PII HMAC key is the public development default."""
        return self.pii_hmac_key == DEV_PII_HMAC_KEY

    def require_kafka(self) -> str:
        """The bootstrap servers, or a `SettingsError` saying how to get some."""
        if not self.kafka_bootstrap:
            raise SettingsError(
                "no Kafka configured: run `onestop infra up` or set ONESTOP_KAFKA_BOOTSTRAP"
            )
        return self.kafka_bootstrap

    def require_schema_registry(self) -> str:
        """The registry's Confluent API root, or a `SettingsError` saying how to get one."""
        if not self.schema_registry_url:
            raise SettingsError(
                "no schema registry configured: run `onestop infra up` or set "
                "ONESTOP_SCHEMA_REGISTRY_URL (for Apicurio: http://host:port/apis/ccompat/v7)"
            )
        return self.schema_registry_url
