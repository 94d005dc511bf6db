"""`Services`: the addresses of a running local stack, as the rest of the project needs them."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Services", "render_env"]

SQLALCHEMY_SCHEME = "postgresql+psycopg"


@dataclass(frozen=True)
class Services:
    """Where the broker, the registry (Confluent-compatible API) and PostgreSQL answer."""

    kafka_bootstrap: str
    registry_url: str
    database_url: str

    def database_url_for(self, database: str) -> str:
        """The SQLAlchemy URL of another database in the same PostgreSQL cluster."""
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def postgres_dsn(self, database: str | None = None) -> str:
        """A libpq URI (for `psycopg.connect` or `psql`), by default of the main database."""
        url = self.database_url_for(database) if database else self.database_url
        return "postgresql" + url[len(SQLALCHEMY_SCHEME) :]

    def env(self) -> dict[str, str]:
        """The environment variables the settings module reads."""
        return {
            "ONESTOP_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "ONESTOP_SCHEMA_REGISTRY_URL": self.registry_url,
            "ONESTOP_DATABASE_URL": self.database_url,
            "ONESTOP_POSTGRES_DSN": self.postgres_dsn(),
        }


def render_env(env: Mapping[str, str]) -> str:
    """`export NAME=value` lines, shell-quoted, for `eval "$(onestop infra env)"`."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
