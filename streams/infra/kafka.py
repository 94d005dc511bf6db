"""A single-node KRaft Kafka broker (broker + controller in one JVM) on 127.0.0.1.

Pure parts (`new_cluster_id`, `render_server_properties`, `render_log_config`, `server_argv`)
are separate from the effects (`launch` formats the storage and spawns the JVM; `probe` asks
the broker through aiokafka's admin client, and in depth also produces and fetches a record).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import signal
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.infra.java import Java
from streams.infra.maven import kafka_major
from streams.infra.ports import HOST
from streams.infra.process import run_to_completion, spawn
from streams.infra.state import ServiceRecord

__all__ = [
    "PORT_NAMES",
    "KafkaPlan",
    "launch",
    "new_cluster_id",
    "probe",
    "render_log_config",
    "render_server_properties",
    "server_argv",
]

PORT_NAMES = ("kafka", "kafka-controller")
PROBE_TOPIC = "_onestop_infra_probe"
BROKER_HEAP = ("-Xms256m", "-Xmx1g")
TOOL_JVM = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")  # short-lived: start fast


@dataclass(frozen=True)
class KafkaPlan:
    """What is needed to start one broker: a JVM, the jars and a directory of its own."""

    java: Java
    libs: Path
    version: str
    run_dir: Path

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def tmp_dir(self) -> Path:
        return self.run_dir / "tmp"

    @property
    def log(self) -> Path:
        return self.run_dir / "kafka.log"


def new_cluster_id() -> str:
    """A KRaft cluster id: 22 chars of unpadded URL-safe base64 of a random UUID.

    Like Kafka's `Uuid.randomUuid()`, never one starting with "-" (it would read as an option).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):
            return text


def render_server_properties(*, broker_port: int, controller_port: int, data_dir: Path) -> str:
    """`server.properties` for one combined broker/controller node on loopback."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://{HOST}:{broker_port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{broker_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.segment.bytes": "1048576",
        # topics come from `onestop topics create` with the contract's partitions, never by accident
        "auto.create.topics.enable": "false",
        # historical test data: 4.x rejects timestamps > 1 h ahead by default; 3.9 accepts all
        "log.message.timestamp.after.max.ms": "9223372036854775807",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def render_log_config(version: str) -> tuple[str, str]:
    """(file name, text) of a quiet logging config: WARN to stderr, startup line at INFO."""
    if kafka_major(version) >= 4:
        return "log4j2.properties", (
            "status = warn\n"
            "appender.stderr.type = Console\n"
            "appender.stderr.name = STDERR\n"
            "appender.stderr.target = SYSTEM_ERR\n"
            "appender.stderr.layout.type = PatternLayout\n"
            "appender.stderr.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = warn\n"
            "rootLogger.appenderRef.stderr.ref = STDERR\n"
            "logger.raft.name = kafka.server.KafkaRaftServer\n"
            "logger.raft.level = info\n"
        )
    return "log4j.properties", (
        "log4j.rootLogger=WARN, stderr\n"
        "log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stderr.Target=System.err\n"
        "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.server.KafkaRaftServer=INFO\n"
    )


def _jvm_common(plan: KafkaPlan, log_config: Path) -> list[str]:
    tmp = str(plan.tmp_dir)
    prop = "log4j2.configurationFile" if kafka_major(plan.version) >= 4 else "log4j.configuration"
    return [
        "-Djava.awt.headless=true",
        f"-Djava.io.tmpdir={tmp}",
        f"-DZstdTempFolder={tmp}",
        f"-Dorg.xerial.snappy.tempdir={tmp}",
        f"-D{prop}=file:{log_config}",
    ]


def server_argv(
    plan: KafkaPlan, properties: Path, log_config: Path, extra: Sequence[str] = ()
) -> list[str]:
    """The broker's command line."""
    return [
        str(plan.java.path),
        *BROKER_HEAP,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        *_jvm_common(plan, log_config),
        *extra,
        "-cp",
        f"{plan.libs}/*",
        "kafka.Kafka",
        str(properties),
    ]


def launch(plan: KafkaPlan, ports: Mapping[str, int], extra: Sequence[str]) -> ServiceRecord:
    """Write the config, format fresh storage with a new cluster id, and spawn the broker."""
    for directory in (plan.data_dir, plan.tmp_dir):
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    properties = plan.run_dir / "server.properties"
    properties.write_text(
        render_server_properties(
            broker_port=ports["kafka"],
            controller_port=ports["kafka-controller"],
            data_dir=plan.data_dir,
        )
    )
    name, text = render_log_config(plan.version)
    log_config = plan.run_dir / name
    log_config.write_text(text)
    run_to_completion(
        "kafka storage format",
        [
            str(plan.java.path),
            *TOOL_JVM,
            *_jvm_common(plan, log_config),
            "-cp",
            f"{plan.libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            new_cluster_id(),
            "-c",
            str(properties),
        ],
        log_path=plan.run_dir / "format.log",
        cwd=plan.run_dir,
    )
    ref = spawn(
        server_argv(plan, properties, log_config, extra), log_path=plan.log, cwd=plan.run_dir
    )
    return ServiceRecord(
        name="kafka",
        pid=ref.pid,
        start_ticks=ref.start_ticks,
        stop_signal=int(signal.SIGTERM),
        host=HOST,
        port=ports["kafka"],
        url=f"{HOST}:{ports['kafka']}",
        log=str(plan.log),
        data_dirs=(str(plan.data_dir), str(plan.tmp_dir)),
        ports=dict(ports),
    )


async def _until_topic_has_leader(admin: AIOKafkaAdminClient, topic: str) -> None:
    """Wait (bounded by the caller's timeout) until metadata shows a leader for `topic`."""
    while True:
        [described] = await admin.describe_topics([topic])
        partitions = described["partitions"]
        if (
            described["error_code"] == 0
            and partitions
            and all(p["leader"] >= 0 for p in partitions)
        ):
            return
        await asyncio.sleep(0.1)


async def _produce_and_fetch(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="onestop-infra")
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(PROBE_TOPIC, 1, 1)])
        await _until_topic_has_leader(admin, PROBE_TOPIC)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="onestop-infra")
        await producer.start()
        try:
            sent = await producer.send_and_wait(PROBE_TOPIC, b"ready?")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tp = TopicPartition(PROBE_TOPIC, sent.partition)
            consumer.assign([tp])
            consumer.seek(tp, sent.offset)
            record = await consumer.getone()
            if record.value != b"ready?":
                raise RuntimeError("probe record came back different")
        finally:
            await consumer.stop()
        await admin.delete_topics([PROBE_TOPIC])
    finally:
        await admin.close()


async def _probe(bootstrap: str, deep: bool) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="onestop-infra", request_timeout_ms=10_000
    )
    await admin.start()
    try:
        await admin.describe_cluster()
        await admin.list_topics()
        if deep:  # creates __consumer_offsets, so the first consumer group starts quickly
            await admin.find_coordinator("onestop-infra-probe")
    finally:
        await admin.close()
    if deep:
        await _produce_and_fetch(bootstrap)


def probe(record: ServiceRecord, deep: bool) -> bool:
    """True if the broker answers (in depth: also produces and fetches one record).

    A plain TCP connect comes first, so a broker that is not listening yet costs no aiokafka
    connection-error log lines.
    """
    socket.create_connection((record.host, record.port), timeout=2).close()
    asyncio.run(asyncio.wait_for(_probe(record.url, deep), timeout=30 if deep else 10))
    return True
