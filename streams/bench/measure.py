"""Run a contender as a child process and measure it from outside.

`start(name, argv, env, log)` starts it (stdout captured to a file, stderr to `log`);
`child.wait(timeout_s)` or `child.stop()` reaps it with `os.wait4`, which returns the CPU
seconds (user + system) of exactly that child and of its own reaped children. Wall time runs
from `start` to the moment the child was seen finished (or `mark_done()`, for a worker stopped
after it caught up).

Peak memory is NOT `ru_maxrss`: Linux carries the parent's high-water mark into a forked
child across `exec`, so every child of a big runner would report the runner's size. Instead,
while waiting, the child's process tree is sampled every 250 ms for `VmHWM` (each process's
own resident high-water mark since its `exec`, itself a running maximum), and the largest
seen is its peak; growth in the last 250 ms of a process's life can be missed.

`ServerCpu(pid)` reads `/proc` for a server process tree (the PostgreSQL postmaster and its
backends): the CPU seconds it used between `start()` and `seconds()`, counting backends that
ended meanwhile (their time is added to the postmaster's `cutime`/`cstime` when it reaps them).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "BenchProcessError", "Child", "Measured", "ServerCpu", "checked", "last_json_line", "start",
    "tree_cpu",
]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchProcessError(Exception):
    """A contender failed or did not finish; the message names it and shows its log tail."""


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of `text` that is a JSON object (contenders print one at the end)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON result line in the output")


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


class Child:
    """One contender process, reaped with `os.wait4` (see the module docstring)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out_path = log.with_suffix(".out")
        self._out: IO[bytes] = self._out_path.open("wb")
        self._err: IO[bytes] = log.open("wb")
        self.started = time.perf_counter()
        self.done_at: float | None = None
        self._returncode: int | None = None
        self._cpu_s = 0.0
        self._peak_kb = 0
        self._sampled_at = float("-inf")
        self._proc = subprocess.Popen(
            list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=self._err, start_new_session=True)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return not self._reap(block=False)

    def mark_done(self) -> None:
        """The contender's work is done now (its wall time ends here)."""
        self.done_at = time.perf_counter()

    def wait(self, timeout_s: float) -> Measured:
        """Reap it when it exits by itself; kill it (and fail) after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not self._reap(block=False):
            self.sample()
            if time.monotonic() > deadline:
                self._signal(signal.SIGKILL)
                self._reap(block=True)
                self._close()
                raise BenchProcessError(
                    f"{self.name} did not finish in {timeout_s:.0f} s (killed); log {self.log}:\n"
                    f"{_tail(self.log)}")
            time.sleep(0.05)
        return self._finish()

    def stop(self, grace_s: float = 30.0) -> Measured:
        """SIGTERM, then SIGKILL after `grace_s`; reap and measure."""
        self.sample()
        if not self._reap(block=False):
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while not self._reap(block=False):
                if time.monotonic() > deadline:
                    self._signal(signal.SIGKILL)
                    self._reap(block=True)
                    break
                time.sleep(0.05)
        return self._finish()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._proc.pid, sig)

    def _reap(self, *, block: bool) -> bool:
        """True once the child has been reaped (its exit code and rusage recorded)."""
        if self._returncode is not None:
            return True
        pid, status, usage = os.wait4(self._proc.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        if self.done_at is None:
            self.done_at = time.perf_counter()
        self._returncode = os.waitstatus_to_exitcode(status)
        self._proc.returncode = self._returncode  # Popen must not wait for it again
        self._cpu_s = usage.ru_utime + usage.ru_stime
        return True

    def sample(self, every_s: float = 0.25) -> float:
        """Sample the tree's memory high-water marks (at most every `every_s`); the peak so
        far in MiB."""
        now = time.monotonic()
        if self._returncode is None and now - self._sampled_at >= every_s:
            self._sampled_at = now
            self._peak_kb = max([self._peak_kb, *(_hwm_kb(pid) for pid in _tree(self.pid))])
        return self._peak_kb / 1024.0

    def _close(self) -> None:
        self._out.close()
        self._err.close()

    def _finish(self) -> Measured:
        self._close()
        end = self.done_at if self.done_at is not None else time.perf_counter()
        return Measured(
            returncode=self._returncode if self._returncode is not None else -1,
            wall_s=end - self.started,
            cpu_s=self._cpu_s,
            peak_rss_mb=self._peak_kb / 1024.0,
            stdout=self._out_path.read_text(errors="replace"),
        )


def start(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> Child:
    """Start a measured contender process."""
    return Child(name, argv, env, log)


def checked(name: str, measured: Measured, log: Path) -> dict[str, Any]:
    """The contender's JSON result line, or `BenchProcessError` if it failed."""
    if measured.returncode != 0:
        raise BenchProcessError(
            f"{name} exited with code {measured.returncode}; log {log}:\n{_tail(log)}")
    try:
        return last_json_line(measured.stdout)
    except ValueError as exc:
        raise BenchProcessError(f"{name}: {exc}; log {log}:\n{_tail(log)}") from exc


# --- /proc ----------------------------------------------------------------------------------


def _hwm_kb(pid: int) -> int:
    """`VmHWM` of `pid` in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


def _parents() -> dict[int, int]:
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat[0]
    return found


def _tree(root: int) -> list[int]:
    """`root` and its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


# --- server CPU ----------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, list[int]] | None:
    """(ppid, [utime, stime, cutime, cstime]) in clock ticks, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is state (field 3); ppid is field 4; utime..cstime are fields 14..17
    return int(fields[1]), [int(x) for x in fields[11:15]]


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by `root` (incl. reaped children) and its live descendants."""
    stats: dict[int, tuple[int, list[int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = found
    if root not in stats:
        raise BenchProcessError(f"server process {root} is not running")
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += sum(stats[pid][1])
        todo += children.get(pid, [])
    return total / _TICKS


class ServerCpu:
    """CPU seconds of a server process tree between `start()` and `seconds()`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._start = 0.0

    def start(self) -> None:
        self._start = tree_cpu(self.pid)

    def seconds(self) -> float:
        return tree_cpu(self.pid) - self._start
