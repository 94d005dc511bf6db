"""What each service needs before it can start: software fetched, a JVM chosen, an OS user.

`launchers()` returns, per service name, a function `launch(ports, extra_args)` that prepares
the service's run directory and spawns it (see `kafka.launch`, `registry.launch`,
`postgres.launch`), plus the names of the ports each one needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from streams.infra import kafka, postgres, registry
from streams.infra.java import find_java, required_major
from streams.infra.maven import apicurio_version, fetch_apicurio, fetch_kafka, kafka_version
from streams.infra.paths import Layout
from streams.infra.state import ServiceRecord

__all__ = ["PORT_NAMES", "SERVICES", "Launch", "Progress", "launchers", "versions"]

SERVICES = ("kafka", "registry", "postgres")
PORT_NAMES: dict[str, tuple[str, ...]] = {
    "kafka": kafka.PORT_NAMES,
    "registry": registry.PORT_NAMES,
    "postgres": postgres.PORT_NAMES,
}
Progress = Callable[[str], None]
Launch = Callable[[Mapping[str, int], Sequence[str]], ServiceRecord]


def versions() -> dict[str, str]:
    """The versions `up` would start now (after the environment overrides)."""
    return {"kafka": kafka_version(), "apicurio": apicurio_version(), "postgres": "15"}


def launchers(layout: Layout, say: Progress) -> dict[str, Launch]:
    """Fetch (or find cached) software, pick JVMs, and bind each service's launch function."""
    kv, av = kafka_version(), apicurio_version()
    libs = fetch_kafka(layout.cache, kv, say)
    app = fetch_apicurio(layout.cache, av, say)
    kafka_jars = [libs / f"kafka_2.13-{kv}.jar", *libs.glob(f"kafka-server-{kv}.jar")]
    kafka_java = find_java(
        max(11, required_major(kafka_jars)),
        purpose=f"Kafka {kv}",
        override_env="ONESTOP_KAFKA_JAVA",
    )
    registry_java = find_java(
        required_major(sorted((app / "app").glob("*.jar"))),
        purpose=f"Apicurio Registry {av}",
        override_env="ONESTOP_APICURIO_JAVA",
    )
    say(
        f"java: Kafka on {kafka_java.path} ({kafka_java.major}), "
        f"Apicurio on {registry_java.path} ({registry_java.major})"
    )
    pg_bin, pg_user = postgres.bin_dir(), postgres.server_user()
    if pg_user is not None:
        say(f"postgres: running as OS user {pg_user.name!r} (uid {pg_user.uid}), not root")
    return {
        "kafka": partial(
            kafka.launch, kafka.KafkaPlan(kafka_java, libs, kv, layout.service_dir("kafka"))
        ),
        "registry": partial(
            registry.launch,
            registry.RegistryPlan(registry_java, app, av, layout.service_dir("registry")),
        ),
        "postgres": partial(
            postgres.launch,
            postgres.PostgresPlan(pg_bin, pg_user, layout.service_dir("postgres")),
        ),
    }
