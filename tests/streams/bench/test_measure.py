"""Measuring a child process from outside: exit code, CPU, peak memory, its JSON line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from streams.bench.measure import BenchProcessError, checked, last_json_line, start, tree_cpu

BUSY = (
    "import json, time\n"
    "block = bytearray(200 * 1024 * 1024)\n"  # touch 200 MiB
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "t = time.process_time()\n"
    "while time.process_time() - t < 0.5: pass\n"
    "print('progress'); print(json.dumps({'events': 7}))\n"
)


def test_a_child_is_measured_by_wait4(tmp_path: Path) -> None:
    child = start("busy", [sys.executable, "-c", BUSY], os.environ, tmp_path / "busy.log")
    measured = child.wait(timeout_s=60)
    assert measured.returncode == 0
    assert measured.cpu_s >= 0.5
    assert measured.peak_rss_mb >= 200
    assert measured.wall_s >= measured.cpu_s * 0.5
    assert checked("busy", measured, tmp_path / "busy.log") == {"events": 7}


def test_a_failing_child_names_itself_and_shows_its_log(tmp_path: Path) -> None:
    code = "import sys; print('boom: no topic', file=sys.stderr); sys.exit(3)"
    child = start("failing", [sys.executable, "-c", code], os.environ, tmp_path / "f.log")
    measured = child.wait(timeout_s=60)
    with pytest.raises(BenchProcessError, match=r"failing exited with code 3(.|\n)*boom"):
        checked("failing", measured, tmp_path / "f.log")


def test_a_child_past_its_timeout_is_killed(tmp_path: Path) -> None:
    child = start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                  os.environ, tmp_path / "s.log")
    with pytest.raises(BenchProcessError, match="did not finish in 1 s"):
        child.wait(timeout_s=1)
    assert not child.alive()


def test_stop_ends_a_worker_and_keeps_the_marked_wall_time(tmp_path: Path) -> None:
    child = start("worker", [sys.executable, "-c", "import time; time.sleep(60)"],
                  os.environ, tmp_path / "w.log")
    child.mark_done()
    measured = child.stop(grace_s=10)
    assert measured.returncode == -15
    assert measured.wall_s < 5


def test_tree_cpu_counts_this_process() -> None:
    assert tree_cpu(os.getpid()) > 0
    with pytest.raises(BenchProcessError, match="not running"):
        tree_cpu(2**22 + 12345)


def test_last_json_line() -> None:
    assert last_json_line('noise\n{"a": 1}\n{"b": 2}\nbye\n') == {"b": 2}
    with pytest.raises(ValueError, match="no JSON result line"):
        last_json_line("nothing here\n{broken\n")
