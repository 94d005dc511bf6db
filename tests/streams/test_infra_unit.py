"""Unit tests for the pure and local parts of `streams.infra` (no service is started)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import stat
import sys
import uuid
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from streams import infra
from streams.commands.infra import infra as infra_cli
from streams.infra import kafka, maven, postgres, registry
from streams.infra.errors import InfraError, PortInUse, ServiceFailed, ToolMissing
from streams.infra.java import Java, find_java, java_major, required_major
from streams.infra.paths import project_root
from streams.infra.ports import check_free, mentions_address_in_use, pick_ports, port_is_free
from streams.infra.process import (
    ProcessRef,
    is_running,
    log_tail,
    spawn,
    stop_all,
    wait_until_ready,
)
from streams.infra.services import Services, render_env
from streams.infra.state import ServiceRecord, StackState, read_state, write_state

# -- Kafka config ---------------------------------------------------------------------------


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_cluster_id_is_22_chars_of_unpadded_urlsafe_base64_of_16_bytes() -> None:
    ids = {kafka.new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cid in ids:
        assert len(cid) == 22
        assert not cid.startswith("-")
        assert set(cid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a first UUID whose base64 starts with "-" (first byte 0xF8)
    queue = [uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)]
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: queue.pop(0))
    # then it is skipped
    assert kafka.new_cluster_id() == base64.urlsafe_b64encode(b"\x01" * 16).decode()[:22]


def test_server_properties_describe_one_combined_node_on_loopback(tmp_path: Path) -> None:
    text = kafka.render_server_properties(
        broker_port=40001, controller_port=40002, data_dir=tmp_path / "data"
    )
    props = _props(text)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:40002"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:40001,CONTROLLER://127.0.0.1:40002"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:40001"
    assert props["log.dirs"] == str(tmp_path / "data")
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert "localhost" not in text


@pytest.mark.parametrize(
    ("version", "file_name", "marker"),
    [
        ("3.9.1", "log4j.properties", "log4j.logger.kafka.server.KafkaRaftServer=INFO"),
        ("4.1.1", "log4j2.properties", "logger.raft.name = kafka.server.KafkaRaftServer"),
    ],
)
def test_log_config_is_quiet_but_shows_the_started_line(
    version: str, file_name: str, marker: str
) -> None:
    name, text = kafka.render_log_config(version)
    assert name == file_name
    assert marker in text
    assert "WARN" in text.upper()


# -- Maven ----------------------------------------------------------------------------------


def _dependencies(pom: str) -> list[tuple[str, str, str]]:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ElementTree.fromstring(pom)
    return [
        tuple(
            d.findtext(f"m:{k}", namespaces=ns) or "" for k in ("groupId", "artifactId", "version")
        )
        for d in root.findall("m:dependencies/m:dependency", ns)
    ]


def test_kafka_3_pom_has_broker_tools_and_reload4j_with_pinned_plugin() -> None:
    pom = maven.kafka_pom("3.9.1")
    deps = _dependencies(pom)
    assert ("org.apache.kafka", "kafka_2.13", "3.9.1") in deps
    assert ("org.apache.kafka", "kafka-tools", "3.9.1") in deps
    assert ("org.slf4j", "slf4j-reload4j", "1.7.36") in deps
    assert ("ch.qos.reload4j", "reload4j", "1.2.25") in deps
    assert "<artifactId>connect-runtime</artifactId>" in pom
    assert "<version>3.8.1</version>" in pom


def test_kafka_4_pom_uses_the_log4j2_slf4j1_binding() -> None:
    deps = _dependencies(maven.kafka_pom("4.1.1"))
    assert ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3") in deps
    assert not any(artifact == "reload4j" for _, artifact, _ in deps)


def test_versions_come_from_one_constant_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ONESTOP_KAFKA_VERSION", raising=False)
    monkeypatch.delenv("ONESTOP_APICURIO_VERSION", raising=False)
    assert (maven.kafka_version(), maven.apicurio_version()) == ("3.9.1", "3.3.3")
    monkeypatch.setenv("ONESTOP_KAFKA_VERSION", "4.1.1")
    monkeypatch.setenv("ONESTOP_APICURIO_VERSION", "3.1.0")
    assert (maven.kafka_version(), maven.apicurio_version()) == ("4.1.1", "3.1.0")


def test_fetch_is_redone_only_when_not_marked_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_maven(label: str, args: list[str], project: Path, log: Path) -> None:
        calls.append(args)
        libs = Path(next(a for a in args if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
        libs.mkdir(parents=True, exist_ok=True)  # as Maven does
        (libs / "kafka_2.13-3.9.1.jar").write_bytes(b"jar")

    monkeypatch.setattr(maven, "_run_maven", fake_maven)
    said: list[str] = []
    libs = maven.fetch_kafka(tmp_path, "3.9.1", said.append)
    maven.fetch_kafka(tmp_path, "3.9.1", said.append)
    assert len(calls) == 1 and said[-1] == "fetching Kafka 3.9.1 ... cached"
    # a half fetch (no marker) is fetched again, from an empty directory
    (libs.parent / maven.MARKER).unlink()
    (libs / "partial.jar").write_bytes(b"")
    maven.fetch_kafka(tmp_path, "3.9.1", said.append)
    assert len(calls) == 2 and not (libs / "partial.jar").exists()


def test_missing_maven_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissing, match="apt-get install maven"):
        maven._mvn()


# -- Java -----------------------------------------------------------------------------------


def _fake_jdk(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    java = root / "bin" / "java"
    java.write_text("#!/bin/sh\nexit 1\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    (root / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return java


def test_java_version_is_read_from_the_release_file(tmp_path: Path) -> None:
    assert java_major(_fake_jdk(tmp_path / "a", "21.0.4")) == 21
    assert java_major(_fake_jdk(tmp_path / "b", "1.8.0_402")) == 8


def test_required_java_comes_from_the_class_file_version(tmp_path: Path) -> None:
    jar = tmp_path / "app.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("a/B.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x41")  # major 65
    assert required_major([jar]) == 21


def test_find_java_picks_a_new_enough_jvm_or_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streams.infra.java.JVM_ROOT", tmp_path / "none")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("X_JAVA", str(_fake_jdk(tmp_path / "jdk17", "17.0.15")))
    assert find_java(11, purpose="Kafka", override_env="X_JAVA").major == 17
    with pytest.raises(ToolMissing) as caught:
        find_java(21, purpose="Apicurio Registry 3.3.3", override_env="X_JAVA")
    message = str(caught.value)
    assert "Apicurio Registry 3.3.3 needs Java 21 or newer" in message
    assert "Java 17" in message and "X_JAVA=" in message


# -- ports, logs, processes -----------------------------------------------------------------


def test_picked_ports_are_distinct_and_fixed_ones_are_kept() -> None:
    ports = pick_ports(["a", "b", "c", "d"], {"b": 5})
    assert ports["b"] == 5
    assert len({ports["a"], ports["c"], ports["d"]}) == 3


def test_a_listening_port_is_reported_as_taken_with_its_number() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} chosen for registry"):
            check_free({"registry": port})


@pytest.mark.parametrize(
    ("line", "in_use"),
    [
        ("Caused by: java.net.BindException: Address already in use", True),
        ("Socket server failed to bind to 127.0.0.1:5: Address already in use.", True),
        ("ERROR (main) Port 5 seems to be in use by another process. Quarkus may ...", True),
        ('LOG:  could not bind IPv4 address "127.0.0.1": Address already in use', True),
        ("FATAL:  could not create any TCP/IP sockets", True),
        ("Unrecognized VM option 'Nope'", False),
        ('FATAL:  unrecognized configuration parameter "x"', False),
    ],
)
def test_address_in_use_is_recognised_in_each_services_log(line: str, in_use: bool) -> None:
    assert mentions_address_in_use(line) is in_use


def test_log_tail_keeps_the_last_lines_without_java_stack_frames(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(
        "".join(f"line {i}\n" for i in range(50))
        + "Caused by: java.net.BindException: boom\n\tat a.B.c(B.java:1)\n\t... 17 more\nend\n"
    )
    tail = log_tail(log, lines=3).splitlines()
    assert tail == ["line 49", "Caused by: java.net.BindException: boom", "end"]
    assert log_tail(tmp_path / "missing.log") == ""


def test_a_pid_only_counts_as_running_with_its_recorded_start_time() -> None:
    ticks = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
    assert is_running(ProcessRef(os.getpid(), ticks))
    assert not is_running(ProcessRef(os.getpid(), ticks + 1))
    assert not is_running(ProcessRef(2**22 + 1, 0))


def _python(code: str, tmp_path: Path) -> ProcessRef:
    return spawn([sys.executable, "-c", code], log_path=tmp_path / "p.log", cwd=tmp_path)


def test_stop_escalates_to_sigkill_of_the_same_pid_and_leaves_no_zombie(tmp_path: Path) -> None:
    polite = _python("import time; time.sleep(60)", tmp_path)
    stubborn = _python(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('armed', flush=True)\n"
        "time.sleep(60)",
        tmp_path,
    )
    wait_until_ready(
        "stubborn",
        stubborn,
        lambda: "armed" in (tmp_path / "p.log").read_text(),
        log_path=tmp_path / "p.log",
        timeout=30,
    )
    outcome = stop_all({polite: signal.SIGTERM, stubborn: signal.SIGTERM}, timeout=1.0)
    assert outcome == {polite: "stopped", stubborn: "killed"}
    for ref in (polite, stubborn):
        assert not Path(f"/proc/{ref.pid}").exists()  # reaped, not a zombie


def test_a_process_dying_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    ref = _python("import sys; print('bad option: --frobnicate'); sys.exit(3)", tmp_path)
    with pytest.raises(ServiceFailed, match="exited while starting") as caught:
        wait_until_ready("demo", ref, lambda: False, log_path=tmp_path / "p.log", timeout=30)
    assert "bad option: --frobnicate" in str(caught.value)


def test_a_process_not_ready_in_time_is_reported_and_left_to_the_caller(tmp_path: Path) -> None:
    ref = _python("import time; print('still booting', flush=True); time.sleep(60)", tmp_path)
    try:
        with pytest.raises(ServiceFailed, match="not ready after 0 s"):
            wait_until_ready("demo", ref, lambda: False, log_path=tmp_path / "p.log", timeout=0.3)
    finally:
        stop_all({ref: signal.SIGTERM})


# -- services, state, CLI -------------------------------------------------------------------

SERVICES = Services(
    kafka_bootstrap="127.0.0.1:40001",
    registry_url="http://127.0.0.1:40003/apis/ccompat/v7",
    database_url="postgresql+psycopg://onestop@127.0.0.1:40005/onestop",
)


def test_env_names_the_three_addresses_and_a_libpq_dsn() -> None:
    assert SERVICES.env() == {
        "ONESTOP_KAFKA_BOOTSTRAP": "127.0.0.1:40001",
        "ONESTOP_SCHEMA_REGISTRY_URL": "http://127.0.0.1:40003/apis/ccompat/v7",
        "ONESTOP_DATABASE_URL": "postgresql+psycopg://onestop@127.0.0.1:40005/onestop",
        "ONESTOP_POSTGRES_DSN": "postgresql://onestop@127.0.0.1:40005/onestop",
    }
    assert SERVICES.database_url_for("t1") == "postgresql+psycopg://onestop@127.0.0.1:40005/t1"
    assert SERVICES.postgres_dsn("t1") == "postgresql://onestop@127.0.0.1:40005/t1"


def test_env_renders_as_shell_exports() -> None:
    text = render_env({"A": "x", "B": "has space;$x"})
    assert text == "export A=x\nexport B='has space;$x'\n"


def test_state_survives_a_json_round_trip(tmp_path: Path) -> None:
    record = ServiceRecord(
        name="kafka",
        pid=10,
        start_ticks=20,
        stop_signal=15,
        host="127.0.0.1",
        port=1,
        url="127.0.0.1:1",
        log="/l",
        data_dirs=("/d",),
        ports={"kafka": 1},
        ready_seconds=2.5,
    )
    state = StackState("/h", "ready", {"kafka": "3.9.1"}, (record,), SERVICES.env())
    write_state(tmp_path / "state.json", state)
    assert read_state(tmp_path / "state.json") == state
    assert read_state(tmp_path / "absent.json") is None
    (tmp_path / "state.json").write_text("{")
    with pytest.raises(InfraError, match="unreadable"):
        read_state(tmp_path / "state.json")


def test_commands_bind_only_to_loopback(tmp_path: Path) -> None:
    pg = postgres.PostgresPlan(Path("/pg/bin"), None, tmp_path)
    assert "listen_addresses=127.0.0.1" in postgres.server_argv(pg, 5432)
    reg = registry.RegistryPlan(Java(Path("/j"), 21), tmp_path, "3.3.3", tmp_path)
    argv = registry.server_argv(reg, {"registry": 1, "registry-management": 2})
    assert "-Dquarkus.http.host=127.0.0.1" in argv
    assert "-Dquarkus.management.host=127.0.0.1" in argv
    assert "-Dquarkus.management.port=2" in argv


def test_home_defaults_to_the_project_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONESTOP_HOME", raising=False)
    root = project_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert infra.default_home() == root / ".onestop"
    monkeypatch.setenv("ONESTOP_HOME", str(tmp_path))
    assert infra.default_home() == tmp_path


def test_unknown_port_names_are_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="unknown service or port name"):
        infra.up(tmp_path, ports={"zookeeper": 2181})


@pytest.mark.parametrize("command", ["status", "env"])
def test_cli_says_plainly_when_nothing_runs(tmp_path: Path, command: str) -> None:
    result = CliRunner().invoke(infra_cli, ["--home", str(tmp_path), command])
    assert result.exit_code == 1
    assert "no stack recorded" in result.output or "no running stack" in result.output
    assert "Traceback" not in result.output


def test_cli_down_with_nothing_recorded_is_fine(tmp_path: Path) -> None:
    result = CliRunner().invoke(infra_cli, ["--home", str(tmp_path), "down"])
    assert result.exit_code == 0
    assert "nothing recorded" in result.output


def test_a_recorded_stack_that_runs_but_does_not_answer_is_left_alone(tmp_path: Path) -> None:
    # given a recorded "ready" stack whose processes live but whose ports answer nothing
    sleeper = _python("import time; time.sleep(60)", tmp_path)
    closed_port = pick_ports(["x"])["x"]
    records = tuple(
        ServiceRecord(
            name=name,
            pid=sleeper.pid,
            start_ticks=sleeper.start_ticks,
            stop_signal=15,
            host="127.0.0.1",
            port=closed_port,
            url=url,
            log=str(tmp_path / "p.log"),
            data_dirs=(),
        )
        for name, url in [
            ("kafka", f"127.0.0.1:{closed_port}"),
            ("registry", f"http://127.0.0.1:{closed_port}/apis/ccompat/v7"),
            ("postgres", f"postgresql+psycopg://onestop@127.0.0.1:{closed_port}/onestop"),
        ]
    )
    write_state(tmp_path / "run" / "state.json", StackState(str(tmp_path), "ready", {}, records))
    try:
        # when `up` is asked again, then it says so and does not stop those processes
        with pytest.raises(InfraError, match=r"kafka \(pid \d+\) runs but does not answer"):
            infra.up(tmp_path, ready_timeout=0.5)
        assert is_running(sleeper)
        assert (tmp_path / "run" / "state.json").exists()
    finally:
        stop_all({sleeper: signal.SIGTERM})
