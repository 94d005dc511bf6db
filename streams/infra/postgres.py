"""A PostgreSQL 15 cluster of the project's own, from Debian's server binaries.

`initdb` into `run/postgres/data` (trust authentication, superuser `onestop`), then
`postgres -c listen_addresses=127.0.0.1 -p <port> -k run/postgres/socket`, durability switched
off (fsync, full-page writes) because the data is thrown away by `down`. PostgreSQL refuses to
run as root: when we are root, both programs run as the unprivileged system account
`onestop-pg` (`$ONESTOP_PG_OS_USER` to choose another), created with `useradd --system` if
absent, and the data and socket directories are owned by it. The postmaster is stopped with
SIGINT (PostgreSQL's "fast" shutdown, which does not wait for clients to disconnect).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from streams.infra.errors import InfraError, ToolMissing
from streams.infra.ports import HOST
from streams.infra.process import OsUser, run_to_completion, spawn
from streams.infra.state import ServiceRecord

__all__ = [
    "DATABASE",
    "PORT_NAMES",
    "SUPERUSER",
    "PostgresPlan",
    "bin_dir",
    "launch",
    "probe",
    "server_argv",
    "server_user",
    "sqlalchemy_url",
]

PORT_NAMES = ("postgres",)
DATABASE = "onestop"
SUPERUSER = "onestop"
DEFAULT_OS_USER = "onestop-pg"
DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class PostgresPlan:
    """What is needed to start the cluster: binaries, an OS user (if root), a directory."""

    bin: Path
    user: OsUser | None
    run_dir: Path

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.run_dir / "socket"

    @property
    def log(self) -> Path:
        return self.run_dir / "postgres.log"


def bin_dir() -> Path:
    """`$ONESTOP_PG_BIN`, else Debian's PostgreSQL 15 server binaries."""
    path = Path(os.environ.get("ONESTOP_PG_BIN") or DEFAULT_BIN)
    if not (path / "initdb").is_file() or not (path / "postgres").is_file():
        raise ToolMissing(
            f"PostgreSQL server binaries not found in {path}: install them with "
            "`apt-get install postgresql-15` (the system service need not run), "
            "or set ONESTOP_PG_BIN to a directory holding initdb and postgres"
        )
    return path


def server_user() -> OsUser | None:
    """None if we are not root; else the account PostgreSQL runs as (created if absent)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("ONESTOP_PG_OS_USER") or DEFAULT_OS_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        result = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(
                f"PostgreSQL cannot run as root, and creating the account {name!r} failed: "
                f"{result.stderr.strip()}; create an unprivileged user and set "
                "ONESTOP_PG_OS_USER to its name"
            ) from None
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise InfraError(f"ONESTOP_PG_OS_USER={name!r} is root; PostgreSQL refuses to run as root")
    return OsUser(name, entry.pw_uid, entry.pw_gid)


def _check_reachable(path: Path, user: OsUser) -> None:
    """Every directory above `path` must be searchable by `user`, or initdb fails obscurely."""
    for parent in reversed(path.parents):
        info = parent.stat()
        if info.st_uid == user.uid:
            ok = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid == user.gid:
            ok = bool(info.st_mode & stat.S_IXGRP)
        else:
            ok = bool(info.st_mode & stat.S_IXOTH)
        if not ok:
            raise InfraError(
                f"PostgreSQL runs as {user.name!r}, which cannot enter {parent} "
                f"(mode {stat.filemode(info.st_mode)}); choose an ONESTOP_HOME it can reach"
            )


def _own_dir(path: Path, user: OsUser | None) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    if user is not None:
        os.chown(path, user.uid, user.gid)


def _env() -> dict[str, str]:
    """A clean environment: no inherited PG* variables, a UTF-8 locale."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "LC_ALL"}
    return {**keep, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def server_argv(plan: PostgresPlan, port: int, extra: Sequence[str] = ()) -> list[str]:
    """The postmaster's command line."""
    settings = {
        "listen_addresses": HOST,
        "fsync": "off",
        "full_page_writes": "off",
        "synchronous_commit": "off",
        "max_connections": "200",
    }
    args = [
        str(plan.bin / "postgres"),
        "-D",
        str(plan.data_dir),
        "-p",
        str(port),
        "-k",
        str(plan.socket_dir),
    ]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    return [*args, *extra]


def sqlalchemy_url(port: int, database: str = DATABASE) -> str:
    return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{port}/{database}"


def _dsn(port: int, database: str) -> str:
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/{database}"


def launch(plan: PostgresPlan, ports: Mapping[str, int], extra: Sequence[str]) -> ServiceRecord:
    """Create a fresh cluster with initdb and spawn the postmaster."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    if plan.user is not None:
        _check_reachable(plan.run_dir, plan.user)
    _own_dir(plan.data_dir, plan.user)
    _own_dir(plan.socket_dir, plan.user)
    run_to_completion(
        "postgres initdb",
        [
            str(plan.bin / "initdb"),
            "-D",
            str(plan.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        ],
        log_path=plan.run_dir / "initdb.log",
        cwd=plan.run_dir,
        env=_env(),
        user=plan.user,
    )
    port = ports["postgres"]
    ref = spawn(
        server_argv(plan, port, extra),
        log_path=plan.log,
        cwd=plan.run_dir,
        env=_env(),
        user=plan.user,
    )
    return ServiceRecord(
        name="postgres",
        pid=ref.pid,
        start_ticks=ref.start_ticks,
        stop_signal=int(signal.SIGINT),
        host=HOST,
        port=port,
        url=sqlalchemy_url(port),
        log=str(plan.log),
        data_dirs=(str(plan.data_dir), str(plan.socket_dir)),
        ports=dict(ports),
    )


def probe(record: ServiceRecord, deep: bool) -> bool:
    """True if `select 1` works; in depth, also make sure the `onestop` database exists."""
    with psycopg.connect(_dsn(record.port, "postgres"), connect_timeout=3, autocommit=True) as c:
        c.execute("select 1").fetchone()
        if deep:
            exists = c.execute("select 1 from pg_database where datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                c.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    if deep:
        with psycopg.connect(_dsn(record.port, DATABASE), connect_timeout=3) as c:
            c.execute("select 1").fetchone()
    return True
