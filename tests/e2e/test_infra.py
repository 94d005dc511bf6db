"""End to end: `onestop infra` really starts, reports and stops Kafka, Apicurio and PostgreSQL.

Each test works in a throwaway home of its own (its own ports and processes) under
`<project>/.onestop/`, sharing the project's jar cache, and checks by pid that nothing of its
own is left running. Slow: a whole stack takes ~15-60 s to start on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy

from streams import infra

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_CACHE = PROJECT_ROOT / ".onestop" / "cache"


@pytest.fixture
def home() -> Iterator[Path]:
    path = PROJECT_ROOT / ".onestop" / f"e2e-infra-{uuid.uuid4().hex[:8]}"
    yield path
    infra.down(path)  # in case a test failed half way; a no-op otherwise
    shutil.rmtree(path, ignore_errors=True)


def _gone(pid: int, reap_timeout: float = 10.0) -> bool:
    """True once `pid` no longer exists at all (`os.kill(pid, 0)` raises).

    A service whose starting CLI has exited is reaped by init, which can take a moment: until
    then it is a zombie (stopped, awaiting its parent). A live, non-zombie pid is False at once.
    """
    deadline = time.monotonic() + reap_timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state != "Z" or time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _processes_using(home: Path) -> list[int]:
    """Live processes whose command line or working directory lies in `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if str(home) in cmdline or cwd.startswith(str(home)):
            found.append(int(entry.name))
    return found


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`onestop infra --home <home> <args>` in a process of its own.

    The `infra` group is run directly rather than through `streams.cli`, so that this test
    does not depend on the import health of the other command groups.
    """
    env = {**os.environ, "ONESTOP_CACHE": str(SHARED_CACHE)}
    program = "from streams.commands.infra import infra; infra(prog_name='onestop infra')"
    return subprocess.run(
        [sys.executable, "-c", program, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_cli_up_status_env_down_and_up_is_idempotent(home: Path) -> None:
    # given a stack started by the CLI (so its processes outlive the CLI process)
    started = _cli(home, "up")
    assert started.returncode == 0, started.stderr
    assert "kafka ready on 127.0.0.1:" in started.stderr
    state = json.loads((home / "run" / "state.json").read_text())
    pids = {s["name"]: s["pid"] for s in state["services"]}
    assert set(pids) == {"kafka", "registry", "postgres"}

    # when `up` runs again, then it finds the same processes and starts nothing
    said: list[str] = []
    services = infra.up(home, cache=SHARED_CACHE, progress=said.append)
    assert said[0].startswith("already running")
    assert json.loads((home / "run" / "state.json").read_text())["services"] == state["services"]
    assert infra.load_services(home) == services

    # status and env report them, and the addresses answer real clients
    status = _cli(home, "status")
    assert status.returncode == 0, status.stderr
    assert [line.split()[0] for line in status.stdout.splitlines()] == [
        "kafka",
        "registry",
        "postgres",
    ]
    assert all(" alive " in line and " ready " in line for line in status.stdout.splitlines())
    env = _cli(home, "env")
    exported = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())
    assert exported == services.env()
    assert httpx.get(f"{services.registry_url}/subjects").json() == []
    with psycopg.connect(services.postgres_dsn()) as conn:
        assert conn.execute("select current_database()").fetchone() == ("onestop",)

    # when the CLI stops it, then every recorded pid is gone (reaped) and the data is deleted
    stopped = _cli(home, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert all(_gone(pid) for pid in pids.values()), pids
    assert _processes_using(home) == []
    assert not (home / "run" / "state.json").exists()
    assert not (home / "run" / "kafka" / "data").exists()
    assert not (home / "run" / "postgres" / "data").exists()
    assert infra.status(home) == []


def test_a_taken_port_is_reported_plainly_and_nothing_is_left(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(infra.PortInUse) as caught:
            infra.up(home, cache=SHARED_CACHE, ports={"registry": port})
    assert f"port 127.0.0.1:{port} chosen for registry is already in use" in str(caught.value)
    assert _processes_using(home) == []
    assert not (home / "run" / "state.json").exists()


def test_a_service_dying_at_start_reports_its_log_tail_and_the_others_stop(home: Path) -> None:
    with pytest.raises(infra.ServiceFailed) as caught:
        infra.up(home, cache=SHARED_CACHE, extra_args={"kafka": ["-XX:+OnestopNoSuchOption"]})
    message = str(caught.value)
    assert message.startswith("kafka (pid ")
    assert "exited while starting" in message
    assert "Unrecognized VM option 'OnestopNoSuchOption'" in message
    assert _processes_using(home) == []
    assert not (home / "run" / "state.json").exists()


def test_database_url_gives_an_empty_database_on_each_backend(database_url: str) -> None:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select 1")).scalar() == 1
            assert sqlalchemy.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
