"""Contender (a), the broker's ceiling: Kafka's own `ConsumerPerformance` tool.

It reads the contract topics as raw bytes (no decoding, no database), so its events/s is
the most any consumer of this broker could do on this machine.

- `ceiling_tool(home)` finds the JVM and jars the local stack under `home` runs its broker
  with (`<cache>/kafka-<version>/libs`, fetched by `onestop infra up`; Java chosen as for
  the broker, `$ONESTOP_KAFKA_JAVA` first) and writes a quiet log4j config; nothing is
  fetched here.
- `topic_command(tool, ...)` is one tool run over one topic (pure). Kafka 3.9.1's tool takes
  exactly one `--topic` (`--include` only came in 4.0), so `ceiling_command(home, ...)` runs
  one per topic, one after the other, under `/bin/sh -c "... && ..."`: one child process,
  whose `os.wait4` usage covers both JVMs (CPU summed, peak memory the larger one).
- `parse_consumer_performance(stdout)` reads the tool's summary line(s) into
  `CeilingFigures`, summing over the topics' runs (pure; `ValueError` names what it could
  not read).

The JVM options are those of `bin/kafka-consumer-perf-test.sh` (512 MB heap, the default
`KAFKA_JVM_PERFORMANCE_OPTS`); consumer settings are the tool's defaults (1 MiB fetch per
partition, 2 MiB socket buffer). Use a fresh group per run: the tool starts from the
earliest offset only when its group has no committed offsets.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from streams.infra.errors import ToolMissing
from streams.infra.java import find_java, required_major
from streams.infra.kafka import render_log_config
from streams.infra.maven import kafka_major, kafka_version
from streams.infra.paths import Layout
from streams.infra.state import read_state

__all__ = [
    "CEILING_JVM",
    "CeilingFigures",
    "CeilingTool",
    "ceiling_command",
    "ceiling_tool",
    "messages_by_topic",
    "parse_consumer_performance",
    "topic_command",
]

MAIN_CLASS = "org.apache.kafka.tools.ConsumerPerformance"
CEILING_JVM = (
    "-Xmx512M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)
"""As `bin/kafka-consumer-perf-test.sh` starts the tool (its heap, kafka-run-class's flags)."""

TOPICS = (CATALOGUE_TOPIC, DOSSIER_TOPIC)
TIMEOUT_MS = 60_000
"""The tool gives up after this long without a record (it then prints a WARNING line)."""

_HEADER_START = "start.time, end.time,"
_WARNING = "WARNING: Exiting before consuming the expected number of messages"
_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}$")
_NEEDED = (
    "data.consumed.in.MB",
    "data.consumed.in.nMsg",
    "rebalance.time.ms",
    "fetch.time.ms",
)


@dataclass(frozen=True)
class CeilingTool:
    """A JVM and Kafka's jars (`libs/*`), with a log4j config for the tool's own logging."""

    java: Path
    libs: Path
    version: str
    log_config: Path | None = None


@dataclass(frozen=True)
class CeilingFigures:
    """What ConsumerPerformance measured, summed over its runs (one per topic).

    `seconds` is the tool's fetch time (from its start to its end, less the time spent
    joining the group); the rates are over that time. `elapsed_s` includes the joins.
    """

    messages: int
    megabytes: float  # MiB of keys + values, as the tool counts them
    seconds: float
    rebalance_ms: int
    elapsed_s: float
    runs: int  # summary lines read (topics consumed)
    timed_out: bool  # a run stopped by `--timeout` before reaching its `--messages`

    @property
    def mb_per_s(self) -> float:
        return self.megabytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


# --- locating the tool ---------------------------------------------------------------------


def ceiling_tool(
    home: Path, *, cache: Path | None = None, work_dir: Path | None = None
) -> CeilingTool:
    """The JVM and jars of the local stack under `home`, and a quiet log4j config.

    The Kafka version is the one recorded by the stack (`<home>/run/state.json`), else
    `$ONESTOP_KAFKA_VERSION` or the default; the jars are those `onestop infra up` fetched
    into the stack's cache (`cache`, default as `Layout.of(home)` says: `$ONESTOP_CACHE`,
    else `<home>/cache`). The log config (WARN to stderr) is written into `work_dir`
    (default `<home>/bench-ceiling`). `ToolMissing` if the jars or a suitable Java are absent.
    """
    layout = Layout.of(home, cache)
    state = read_state(layout.state_file)
    version = (state.versions.get("kafka") if state is not None else None) or kafka_version()
    libs = layout.cache / f"kafka-{version}" / "libs"
    jars = [libs / f"kafka-tools-{version}.jar", libs / f"kafka-clients-{version}.jar"]
    missing = [str(jar) for jar in jars if not jar.is_file()]
    if missing:
        raise ToolMissing(
            f"ConsumerPerformance (Kafka {version}) needs {', '.join(missing)}; "
            f"`onestop infra up` with ONESTOP_HOME={layout.home} fetches them"
        )
    java = find_java(
        max(11, required_major(jars)),
        purpose=f"Kafka {version} ConsumerPerformance",
        override_env="ONESTOP_KAFKA_JAVA",
    )
    folder = work_dir if work_dir is not None else layout.home / "bench-ceiling"
    folder.mkdir(parents=True, exist_ok=True)
    name, text = render_log_config(version)
    log_config = folder / name
    log_config.write_text(text)
    return CeilingTool(java.path, libs, version, log_config)


# --- command lines (pure) ------------------------------------------------------------------


def topic_command(
    tool: CeilingTool,
    *,
    bootstrap: str,
    topic: str,
    messages: int,
    group: str,
    timeout_ms: int = TIMEOUT_MS,
) -> list[str]:
    """ConsumerPerformance over `topic` until `messages` records; one summary line out."""
    if messages <= 0:
        raise ValueError(f"ConsumerPerformance on {topic}: messages must be positive, not "
                         f"{messages}")
    logging = []
    if tool.log_config is not None:
        prop = "log4j2.configurationFile" if kafka_major(tool.version) >= 4 else \
            "log4j.configuration"
        logging = [f"-D{prop}=file:{tool.log_config}"]
    return [
        str(tool.java),
        *CEILING_JVM,
        *logging,
        "-cp",
        f"{tool.libs}/*",
        MAIN_CLASS,
        "--bootstrap-server", bootstrap,
        "--topic", topic,
        "--messages", str(messages),
        "--group", group,
        "--timeout", str(timeout_ms),
    ]


def messages_by_topic(ends: Mapping[tuple[str, int], int]) -> dict[str, int]:
    """Per-partition end offsets (of topics read from offset 0) summed per topic."""
    counts: Counter[str] = Counter()
    for (topic, _), offset in ends.items():
        counts[topic] += offset
    return dict(counts)


def ceiling_command(
    home: Path | CeilingTool,
    bootstrap: str,
    messages: Mapping[str, int],
    group: str,
    *,
    timeout_ms: int = TIMEOUT_MS,
) -> list[str]:
    """One argv that runs ConsumerPerformance over each topic in `messages` in turn.

    `messages` is the number of records to read per topic (see `messages_by_topic`);
    topics with none are skipped; the catalogue goes first. Each topic's run uses its own
    group, `<group>-<topic>`. With one topic the argv is the JVM itself; with several,
    `/bin/sh -c` runs them in sequence and stops at the first failure. The output parses
    with `parse_consumer_performance`. `home` may be a `CeilingTool` already located.
    """
    tool = home if isinstance(home, CeilingTool) else ceiling_tool(home)
    order = sorted(messages, key=lambda t: (TOPICS.index(t) if t in TOPICS else len(TOPICS), t))
    wanted = [(topic, messages[topic]) for topic in order if messages[topic] > 0]
    if not wanted:
        raise ValueError(f"ConsumerPerformance: no records to read in {dict(messages)}")
    argvs = [
        topic_command(tool, bootstrap=bootstrap, topic=topic, messages=count,
                      group=f"{group}-{topic}", timeout_ms=timeout_ms)
        for topic, count in wanted
    ]
    if len(argvs) == 1:
        return argvs[0]
    return ["/bin/sh", "-c", " && ".join(shlex.join(argv) for argv in argvs)]


# --- the tool's output (pure) --------------------------------------------------------------


def _summary(header: list[str], line: str, number: int) -> dict[str, str]:
    values = [v.strip() for v in line.split(",")]
    if len(values) != len(header) or not _DATE.match(values[0]):
        raise ValueError(
            f"ConsumerPerformance output line {number}: expected a summary line of "
            f"{len(header)} comma-separated fields after the header, got {line!r}"
        )
    return dict(zip(header, values, strict=True))


def _number(row: dict[str, str], name: str, number: int) -> float:
    try:
        return float(row[name])
    except ValueError:
        raise ValueError(
            f"ConsumerPerformance output line {number}: {name} is {row[name]!r}, not a number"
        ) from None


def parse_consumer_performance(stdout: str) -> CeilingFigures:
    """Sum the summary line under each header line (`start.time, end.time, ...`).

    Other lines (a `WARNING: Exiting before ...` on timeout, stray log lines) are skipped;
    a timeout sets `timed_out`. `ValueError` if there is no header, a header without its
    summary line, a header lacking a needed column, or a malformed summary line.
    """
    lines = stdout.splitlines()
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.startswith(_HEADER_START):
            if header is not None:
                raise ValueError(f"ConsumerPerformance output line {number}: a second header "
                                 f"before the summary line of the first")
            header = [name.strip() for name in line.split(",")]
            absent = [name for name in _NEEDED if name not in header]
            if absent:
                raise ValueError(f"ConsumerPerformance output line {number}: the header lacks "
                                 f"{', '.join(absent)}: {line!r}")
        elif header is not None and line and _DATE.match(line.split(",", 1)[0].strip()):
            rows.append((number, _summary(header, line, number)))
            header = None
    if header is not None:
        raise ValueError("ConsumerPerformance output: a header line without a summary line "
                         f"(did the tool fail?); output ends with {stdout[-300:]!r}")
    if not rows:
        raise ValueError(f"ConsumerPerformance output: no summary line; got {stdout[-300:]!r}")
    messages = megabytes = fetch_ms = rebalance_ms = elapsed_ms = 0.0
    for number, row in rows:
        messages += _number(row, "data.consumed.in.nMsg", number)
        megabytes += _number(row, "data.consumed.in.MB", number)
        fetch = _number(row, "fetch.time.ms", number)
        rebalance = _number(row, "rebalance.time.ms", number)
        fetch_ms += fetch
        rebalance_ms += rebalance
        elapsed_ms += fetch + rebalance
    return CeilingFigures(
        messages=int(messages),
        megabytes=megabytes,
        seconds=fetch_ms / 1000.0,
        rebalance_ms=int(rebalance_ms),
        elapsed_s=elapsed_ms / 1000.0,
        runs=len(rows),
        timed_out=any(line.strip().startswith(_WARNING) for line in lines),
    )
