"""Fetching Kafka's jars and the Apicurio Registry app from Maven Central with `mvn`.

Each fetch lands in `<cache>/kafka-<version>/libs` or `<cache>/apicurio-<version>/` and is
marked complete by a `.onestop-complete` file holding a digest of what was asked for, written
only after Maven succeeded. A marked directory costs nothing to reuse; an unmarked (half
fetched) or differently specified one is deleted and fetched again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from streams.infra.errors import InfraError, ToolMissing
from streams.infra.process import log_tail

__all__ = [
    "APICURIO_VERSION",
    "DEPENDENCY_PLUGIN_VERSION",
    "KAFKA_VERSION",
    "apicurio_pom",
    "apicurio_version",
    "fetch_apicurio",
    "fetch_kafka",
    "kafka_major",
    "kafka_pom",
    "kafka_version",
]

KAFKA_VERSION = "3.9.1"
APICURIO_VERSION = "3.3.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
MARKER = ".onestop-complete"
MAVEN_TIMEOUT = 1200.0

Progress = Callable[[str], None]


def kafka_version() -> str:
    """`$ONESTOP_KAFKA_VERSION`, else `KAFKA_VERSION`."""
    return os.environ.get("ONESTOP_KAFKA_VERSION") or KAFKA_VERSION


def apicurio_version() -> str:
    """`$ONESTOP_APICURIO_VERSION`, else `APICURIO_VERSION`."""
    return os.environ.get("ONESTOP_APICURIO_VERSION") or APICURIO_VERSION


def kafka_major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _dep(group: str, artifact: str, version: str, extra: str = "") -> str:
    return (
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version>{extra}</dependency>"
    )


def _pom(name: str, dependencies: list[str]) -> str:
    return "\n".join(
        [
            '<project xmlns="http://maven.apache.org/POM/4.0.0">',
            "  <modelVersion>4.0.0</modelVersion>",
            f"  <groupId>local.onestop</groupId><artifactId>{name}</artifactId>",
            "  <version>1</version><packaging>pom</packaging>",
            "  <dependencies>",
            *dependencies,
            "  </dependencies>",
            "  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>",
            "    <artifactId>maven-dependency-plugin</artifactId>"
            f"<version>{DEPENDENCY_PLUGIN_VERSION}</version>",
            "  </plugin></plugins></build>",
            "</project>",
            "",
        ]
    )


def kafka_pom(version: str) -> str:
    """A pom whose runtime dependencies are the broker, its tools and a logging backend."""
    no_connect = (
        "<exclusions><exclusion><groupId>org.apache.kafka</groupId>"
        "<artifactId>connect-runtime</artifactId></exclusion></exclusions>"
    )
    deps = [
        _dep("org.apache.kafka", "kafka_2.13", version),
        _dep("org.apache.kafka", "kafka-tools", version, no_connect),
    ]
    if kafka_major(version) >= 4:  # log4j2 with the SLF4J 1.x binding (see notes)
        deps += [
            _dep("org.apache.logging.log4j", name, "2.24.3")
            for name in ("log4j-slf4j-impl", "log4j-core", "log4j-api")
        ]
    else:
        deps += [
            _dep("org.slf4j", "slf4j-reload4j", "1.7.36"),
            _dep("ch.qos.reload4j", "reload4j", "1.2.25"),
        ]
    return _pom(f"kafka-{version}", deps)


def apicurio_pom(version: str) -> str:
    """A pom to run `dependency:unpack` of the Apicurio app from (it needs a project)."""
    return _pom(f"apicurio-{version}", [])


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(
            "Maven (mvn) not found: it fetches Kafka and Apicurio from Maven Central. "
            "Install it with `apt-get install maven` (needs a JDK, e.g. openjdk-17-jdk-headless)"
        )
    return mvn


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _is_complete(target: Path, digest: str) -> bool:
    marker = target / MARKER
    return marker.is_file() and marker.read_text().strip() == digest


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One fetch at a time per cache, across processes."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".fetch.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_maven(label: str, args: list[str], project: Path, log_path: Path) -> None:
    argv = [_mvn(), "-B", "-q", *args]
    with log_path.open("wb") as log:
        try:
            result = subprocess.run(
                argv,
                cwd=project,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=MAVEN_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(
                f"fetching {label}: Maven did not finish in {MAVEN_TIMEOUT:.0f} s "
                f"(log: {log_path})\n{log_tail(log_path)}"
            ) from exc
    if result.returncode != 0:
        raise InfraError(
            f"fetching {label}: `mvn {' '.join(args[:1])}` failed with exit code "
            f"{result.returncode} (log: {log_path})\n{log_tail(log_path)}"
        )


def _fetch(
    label: str,
    cache: Path,
    name: str,
    target: Path,
    pom: str,
    args: list[str],
    check: Path,
    progress: Progress,
) -> None:
    """Run Maven into `target` unless it is already complete for this exact request."""
    digest = _digest(pom, *args)
    with _locked(cache):
        if _is_complete(target, digest):
            progress(f"fetching {label} ... cached")
            return
        progress(f"fetching {label} from Maven Central ...")
        started = time.monotonic()
        project = cache / "maven" / name
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        project.mkdir(parents=True)
        target.mkdir(parents=True)
        (project / "pom.xml").write_text(pom)
        _run_maven(label, args, project, cache / "maven" / f"{name}.log")
        if not check.is_file():
            raise InfraError(f"fetching {label}: Maven succeeded but {check} is missing")
        (target / MARKER).write_text(digest + "\n")
        progress(f"fetching {label} ... done ({time.monotonic() - started:.1f} s)")


def fetch_kafka(cache: Path, version: str, progress: Progress) -> Path:
    """The directory of Kafka `version`'s runtime jars (fetched if needed)."""
    target = cache / f"kafka-{version}"
    libs = target / "libs"
    args = [
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    check = libs / f"kafka_2.13-{version}.jar"
    _fetch(
        f"Kafka {version}", cache, target.name, target, kafka_pom(version), args, check, progress
    )
    return libs


def fetch_apicurio(cache: Path, version: str, progress: Progress) -> Path:
    """The unpacked Apicurio Registry `version` (holding `quarkus-run.jar`)."""
    target = cache / f"apicurio-{version}"
    plugin = f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}"
    args = [
        f"{plugin}:unpack",
        f"-Dartifact=io.apicurio:apicurio-registry-app:{version}:tar.gz:all",
        f"-DoutputDirectory={target}",
    ]
    _fetch(
        f"Apicurio Registry {version}",
        cache,
        target.name,
        target,
        apicurio_pom(version),
        args,
        target / "quarkus-run.jar",
        progress,
    )
    return target
