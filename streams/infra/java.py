"""Finding a Java runtime new enough for a given set of jars.

Kafka 3.9 runs on the machine's default Java 17, but Apicurio Registry 3.3 is compiled for
Java 21, so each service picks its own JVM: the first of `$<OVERRIDE>` (a path to `java`),
`$JAVA_HOME/bin/java`, `java` on the PATH and `/usr/lib/jvm/*/bin/java` (oldest first) whose
major version is at least what the jars' class files require.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from streams.infra.errors import ToolMissing

__all__ = ["Java", "find_java", "java_major", "required_major"]

_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')
_RELEASE_RE = re.compile(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', re.MULTILINE)
JVM_ROOT = Path("/usr/lib/jvm")


@dataclass(frozen=True)
class Java:
    """A `java` executable and its major version."""

    path: Path
    major: int


def _major(first: str, second: str | None) -> int:
    """`1.8` -> 8, `17` -> 17."""
    value = int(first)
    return int(second or 0) if value == 1 else value


def java_major(java: Path) -> int | None:
    """Major version of a `java` executable, from its `release` file or `java -version`."""
    real = java.resolve()
    release = real.parent.parent / "release"
    if release.is_file():
        match = _RELEASE_RE.search(release.read_text(errors="replace"))
        if match:
            return _major(match.group(1), match.group(2))
    try:
        out = subprocess.run(
            [str(real), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(out.stderr + out.stdout)
    return _major(match.group(1), match.group(2)) if match else None


def required_major(jars: Iterable[Path]) -> int:
    """The Java major version needed by the first class file of each jar (at least 8)."""
    needed = 8
    for jar in jars:
        with zipfile.ZipFile(jar) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".class") and not info.filename.startswith("META-INF"):
                    header = archive.open(info).read(8)
                    needed = max(needed, struct.unpack(">H", header[6:8])[0] - 44)
                    break
    return needed


def _candidates(override_env: str) -> list[Path]:
    found: list[Path] = []
    override = os.environ.get(override_env)
    if override:
        found.append(Path(override))
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        found.append(Path(java_home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    if JVM_ROOT.is_dir():
        found.extend(sorted(JVM_ROOT.glob("*/bin/java")))
    return found


def find_java(min_major: int, *, purpose: str, override_env: str) -> Java:
    """The first candidate JVM with major version >= `min_major`, else `ToolMissing`."""
    seen: list[str] = []
    by_path: dict[Path, Java] = {}
    for candidate in _candidates(override_env):
        if not candidate.is_file() or not os.access(candidate, os.X_OK):
            continue
        real = candidate.resolve()
        if real not in by_path:
            major = java_major(real)
            if major is None:
                continue
            by_path[real] = Java(real, major)
        java = by_path[real]
        if java.major >= min_major:
            return java
        seen.append(f"{candidate} (Java {java.major})")
    found = "; found only " + ", ".join(dict.fromkeys(seen)) if seen else "; no java found"
    raise ToolMissing(
        f"{purpose} needs Java {min_major} or newer{found}. Install a JDK {min_major}+ "
        f"(Debian: `apt-get install openjdk-{max(min_major, 17)}-jre-headless` where available, "
        f"or an Adoptium Temurin JDK under /usr/lib/jvm), or set {override_env}=/path/to/bin/java"
    )
