"""Where a replay's time goes: `onestop replay all` under yappi, summarised as text.

The replay folds and writes in worker threads (`asyncio.to_thread`), which cProfile does not
see; yappi profiles every thread (CPU clock, so time blocked on I/O does not count). Run on
its own (after the measured runs, into a scratch SQLite database): a profiler slows Python
code down unevenly, so the profile shows shares of CPU time, not speeds.

    python -m streams.bench.profile OUT.pstat replay all --grace 0 --quiet
"""

from __future__ import annotations

import io
import pstats
import sys
from collections.abc import Mapping
from pathlib import Path

from projections.records import TopicPartition
from schemas.events import CATALOGUE_TOPIC
from streams.bench.measure import BenchProcessError, start

__all__ = ["main", "prefix_stops", "profile_replay", "summarise"]


def summarise(stats_file: Path, top: int = 25) -> str:
    """The top functions by own time and by cumulative time, as pstats prints them."""
    out = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=out)
    stats.strip_dirs()
    out.write(f"-- top {top} by own CPU time (tottime), all threads --\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"-- top {top} by cumulative CPU time, all threads --\n")
    stats.sort_stats("cumulative").print_stats(top)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith(("   Ordered by",
                                                                              "   List reduced")))


def prefix_stops(ends: Mapping[TopicPartition, int], events: int) -> dict[TopicPartition, int]:
    """Per partition, the same share of its records, about `events` in all: the whole
    catalogue (dossiers need it) and a prefix of every dossier partition."""
    catalogue = {tp: end for tp, end in ends.items() if tp[0] == CATALOGUE_TOPIC}
    dossiers = {tp: end for tp, end in ends.items() if tp[0] != CATALOGUE_TOPIC}
    share = min(1.0, max(0, events - sum(catalogue.values())) / max(1, sum(dossiers.values())))
    return {**catalogue, **{tp: round(end * share) for tp, end in dossiers.items()}}


def profile_replay(env: Mapping[str, str], log: Path, batch: int, timeout_s: float,
                   stops: Mapping[TopicPartition, int] | None = None) -> str:
    """Profile `onestop replay all` with `env` (its database: a scratch one), up to `stops`
    (a point-in-time build, not swapped in) if given."""
    stats_file = log.with_suffix(".pstat")
    stats_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "streams.bench.profile", str(stats_file), "replay", "all",
            "--grace", "0", "--batch", str(batch), "--quiet"]
    for (topic, partition), offset in sorted((stops or {}).items()):
        argv += ["--to-offset", f"{topic}:{partition}:{offset}"]
    measured = start("profiled replay", argv, env, log).wait(timeout_s)
    if measured.returncode != 0 or not stats_file.exists():
        raise BenchProcessError(f"the profiled replay failed (exit {measured.returncode}); "
                                f"log {log}")
    events = f"{sum(stops.values()):,} events" if stops else "every event"
    return (f"profiled run over {events}: {measured.wall_s:.1f} s wall, {measured.cpu_s:.1f} s "
            "CPU under yappi\n" + summarise(stats_file))


def main(argv: list[str]) -> int:
    """Run `onestop <argv[1:]>` under yappi; save pstats-format stats to `argv[0]`."""
    import yappi

    from streams.cli import main as onestop

    out, args = argv[0], argv[1:]
    yappi.set_clock_type("cpu")
    yappi.start(builtins=False)
    try:
        onestop.main(args=args, standalone_mode=False)
    finally:
        yappi.stop()
        yappi.get_func_stats().save(out, type="pstat")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
