"""Where a replay's time goes: `onestop replay all` under cProfile, summarised as text.

Run on its own (after the measured runs, into a scratch SQLite database): cProfile slows
Python code down unevenly, so the profile shows shares of time, not speeds.
"""

from __future__ import annotations

import io
import pstats
import sys
from collections.abc import Mapping
from pathlib import Path

from streams.bench.measure import BenchProcessError, start

__all__ = ["profile_replay", "summarise"]


def summarise(stats_file: Path, top: int = 25) -> str:
    """The top functions by own time and by cumulative time, as pstats prints them."""
    out = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=out)
    stats.strip_dirs()
    out.write(f"-- top {top} by own time (tottime) --\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"-- top {top} by cumulative time --\n")
    stats.sort_stats("cumulative").print_stats(top)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    return "\n".join(line for line in lines if line)


def profile_replay(env: Mapping[str, str], log: Path, batch: int, timeout_s: float) -> str:
    """Profile `onestop replay all` with `env` (its database: a scratch one)."""
    stats_file = log.with_suffix(".prof")
    argv = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "streams", "replay",
            "all", "--grace", "0", "--batch", str(batch), "--quiet"]
    measured = start("profiled replay", argv, env, log).wait(timeout_s)
    if measured.returncode != 0 or not stats_file.exists():
        raise BenchProcessError(f"the profiled replay failed (exit {measured.returncode}); "
                                f"log {log}")
    return f"profiled run: {measured.wall_s:.1f} s wall under cProfile\n" + summarise(stats_file)
