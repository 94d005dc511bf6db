"""Start, watch and stop service processes by pid, never by name.

A process is identified by `ProcessRef(pid, start_ticks)`: the start time from
`/proc/<pid>/stat` guards against signalling an unrelated process that reused a recorded pid.
Services run in their own session (so they outlive the CLI that started them), with stdout and
stderr appended to a log file. Children of this process are reaped as soon as they exit, so
stopping a service never leaves a zombie behind in the process that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.infra.errors import InfraError, ServiceFailed

__all__ = [
    "Cancelled",
    "OsUser",
    "ProcessRef",
    "is_running",
    "log_tail",
    "run_to_completion",
    "spawn",
    "stop_all",
    "wait_until_ready",
]

#: Popen objects of the services this process started, kept so they can be reaped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_CHILDREN_LOCK = threading.Lock()


class Cancelled(InfraError):
    """Raised inside a readiness wait when the start of the whole stack was abandoned."""


@dataclass(frozen=True)
class OsUser:
    """An unprivileged account a service runs as (used for PostgreSQL when we are root)."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class ProcessRef:
    """A pid plus its kernel start time (clock ticks since boot)."""

    pid: int
    start_ticks: int


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of `/proc/<pid>/stat` from the state field on, or None if the pid is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _reap(pid: int) -> None:
    """Collect the exit status of `pid` if it is our child that has exited."""
    with _CHILDREN_LOCK:
        child = _CHILDREN.get(pid)
        if child is not None and child.poll() is not None:
            del _CHILDREN[pid]


def is_running(ref: ProcessRef) -> bool:
    """True if `ref` names a live (non-zombie) process with the recorded start time."""
    _reap(ref.pid)
    fields = _stat_fields(ref.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == ref.start_ticks


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    user: OsUser | None = None,
) -> ProcessRef:
    """Start `argv` in a new session, stdout+stderr to `log_path` (truncated first)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        try:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                close_fds=True,
                user=user.uid if user else None,
                group=user.gid if user else None,
                extra_groups=[] if user else None,
            )
        except OSError as exc:
            raise InfraError(f"cannot start {argv[0]}: {exc}") from exc
    ticks = _start_ticks(child.pid)
    with _CHILDREN_LOCK:
        _CHILDREN[child.pid] = child
    # start time is fixed at fork; it is only missing if the child already exited and was reaped
    return ProcessRef(child.pid, ticks if ticks is not None else -1)


def run_to_completion(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    user: OsUser | None = None,
    timeout: float = 120.0,
) -> None:
    """Run a one-off tool (storage format, initdb); raise `ServiceFailed` with its log tail."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        try:
            result = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                timeout=timeout,
                check=False,
                user=user.uid if user else None,
                group=user.gid if user else None,
                extra_groups=[] if user else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceFailed(
                name, f"{name}: {argv[0]} did not finish in {timeout:.0f} s", log_tail(log_path)
            ) from exc
        except OSError as exc:
            raise InfraError(f"{name}: cannot run {argv[0]}: {exc}") from exc
    if result.returncode != 0:
        raise ServiceFailed(
            name,
            f"{name}: `{' '.join(argv[:1])} ...` failed with exit code {result.returncode} "
            f"(log: {log_path})",
            log_tail(log_path),
        )


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file (empty if it does not exist).

    Java stack frames (`\tat ...`, `\t... N more`) are left out: the exception lines
    around them say what went wrong, the frames only push those out of the tail.
    """
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    kept = [
        line
        for line in text.splitlines()
        if not (line.startswith("\tat ") or (line.startswith("\t...") and "more" in line))
    ]
    return "\n".join(kept[-lines:])


def wait_until_ready(
    name: str,
    ref: ProcessRef,
    probe: Callable[[], bool],
    *,
    log_path: Path,
    timeout: float,
    cancel: threading.Event | None = None,
    interval: float = 0.25,
) -> float:
    """Poll `probe()` until it returns True; return the seconds waited.

    Fails at once with the log tail if the process exits meanwhile, and after `timeout`
    seconds if it never answers. Exceptions from the probe count as "not ready yet".
    """
    started = time.monotonic()
    last_error = ""
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{name}: start abandoned")
        if not is_running(ref):
            raise ServiceFailed(
                name,
                f"{name} (pid {ref.pid}) exited while starting (log: {log_path})",
                log_tail(log_path),
            )
        try:
            if probe():
                return time.monotonic() - started
        except Exception as exc:  # any probe failure only means "not ready yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() - started > timeout:
            detail = f"; last check said {last_error}" if last_error else ""
            raise ServiceFailed(
                name,
                f"{name} (pid {ref.pid}) was not ready after {timeout:.0f} s{detail} "
                f"(log: {log_path})",
                log_tail(log_path),
            )
        time.sleep(interval)


def _signal(ref: ProcessRef, sig: int) -> None:
    if is_running(ref):
        with contextlib.suppress(ProcessLookupError):
            os.kill(ref.pid, sig)


def stop_all(refs: Mapping[ProcessRef, int], *, timeout: float = 30.0) -> dict[ProcessRef, str]:
    """Stop each process with its own signal; SIGKILL the same pid after `timeout` seconds.

    `refs` maps each process to its polite stop signal. Returns how each one ended:
    "not running", "stopped" or "killed". Raises `InfraError` if one survives SIGKILL.
    """
    outcome: dict[ProcessRef, str] = {}
    for ref, sig in refs.items():
        if is_running(ref):
            _signal(ref, sig)
            outcome[ref] = "stopped"
        else:
            outcome[ref] = "not running"
    deadline = time.monotonic() + timeout
    while any(is_running(r) for r in refs) and time.monotonic() < deadline:
        time.sleep(0.1)
    for ref in refs:
        if is_running(ref):
            _signal(ref, signal.SIGKILL)
            outcome[ref] = "killed"
    deadline = time.monotonic() + 10.0
    while any(is_running(r) for r in refs) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [str(r.pid) for r in refs if is_running(r)]
    if survivors:
        raise InfraError(f"processes {', '.join(survivors)} survived SIGKILL")
    return outcome
