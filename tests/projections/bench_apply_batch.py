"""Throughput of `apply_batch`, the hot path of both drivers (pure Python, no I/O).

Run: `.venv/bin/python tests/projections/bench_apply_batch.py [--dossiers N] [--repeat R]`.
Not a test: numbers on shared machines are noisy, so this prints events/s for a few shapes
run side by side instead of asserting anything.

Shapes, each over dossiers with a 10-event lifecycle laid out on 12 partitions:
- `one batch`: every event in one batch, no stored snapshots (a rebuild's best case);
- `batches of 500, interleaved`: the log in 500-record batches, each dossier's events spread
  over several batches, snapshots carried between them (a replay / live worker);
- `decide+fold only`: the same single batch without serialising or rendering, to show
  where the time goes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from projection_events import T0, catalogue, make, records

from projections.batch import apply_batch
from projections.fold import fold
from projections.policy import build_policies
from projections.records import AggregateKey, Decoded, Snapshot
from projections.reference import catalogue_from_snapshots
from projections.sequencing import APPLY, Head, MemoryCatalogue, decide
from projections.state import AggregateState
from schemas import events as ev

LIFECYCLE = (ev.DossierSubmitted, ev.DossierReceived, ev.DossierStepTransferred,
             ev.FinancialObligationRequested, ev.PaymentCompleted, ev.DossierStepTransferred,
             ev.DossierForwarded, ev.DossierResolved, ev.ResultDelivered, ev.SatisfactionRated)


def dossier_log(n: int, seed: int = 7) -> list[ev.Event]:
    rnd = random.Random(seed)
    queues = [[make(cls, f"{i:08d}-0000-4000-8000-000000000000", seq,
                    T0 + timedelta(hours=seq + i % 50))
               for seq, cls in enumerate(LIFECYCLE, start=1)] for i in range(n)]
    out: list[ev.Event] = []
    live = [q for q in queues if q]
    while live:  # interleave like many publishers writing at once
        q = live[rnd.randrange(min(len(live), 64))]
        out.append(q.pop(0))
        if not q:
            live.remove(q)
    return out


def timed(label: str, events: int, fn: Callable[[], object], repeat: int) -> None:
    best = min(_once(fn) for _ in range(repeat))
    print(f"{label:<34} {events / best:>10,.0f} events/s  ({best * 1000:.0f} ms)")


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    policies = build_policies(b"bench-key")
    cat = apply_batch(records(catalogue()), {}, MemoryCatalogue({}, {}), "stats",
                      policies["stats"], max_record_bytes=1 << 20).snapshots
    lookup = catalogue_from_snapshots(cat)
    recs = records(dossier_log(args.dossiers))
    n = len(recs)
    print(f"{n} dossier events, {args.dossiers} dossiers, Python {sys.version.split()[0]}")
    for projection in ("stats", "portal", "onestop"):

        def one_batch(projection: str = projection) -> object:
            return apply_batch(recs, {}, lookup, projection, policies[projection],
                               max_record_bytes=1 << 20)

        def batches(projection: str = projection) -> object:
            snapshots: dict[AggregateKey, Snapshot] = {}
            for i in range(0, n, 500):
                result = apply_batch(recs[i:i + 500], snapshots, lookup, projection,
                                     policies[projection], max_record_bytes=1 << 20)
                snapshots.update(result.snapshots)
            return snapshots

        timed(f"{projection}: one batch", n, one_batch, args.repeat)
        timed(f"{projection}: batches of 500, interleaved", n, batches, args.repeat)
    timed("decide+fold only (stats)", n, lambda: _decide_fold(recs, lookup, policies["stats"]),
          args.repeat)


def _decide_fold(recs: list[Decoded], lookup: MemoryCatalogue, policy: object) -> None:
    heads: dict[str, tuple[int, AggregateState | None]] = {}
    for d in recs:
        e = d.event
        assert e is not None
        last, state = heads.get(e.aggregate_id, (0, None))
        if decide(Head(last, None, state), e, lookup) is APPLY:
            heads[e.aggregate_id] = (e.aggregate_seq, fold(state, e, policy))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
