"""End to end: `onestop worker` SIGKILLed at random moments loses nothing and applies
nothing twice (DESIGN principle 2: positions are stored in the same transaction as rows).

A province of ~30,000 events is published; the worker is started, killed with SIGKILL at a
seeded random moment once the stored positions show it has made progress, and restarted,
at least `KILLS` times while it is still mid-stream; a last run with `--until-idle` finishes.
The final dumps must equal the reference fold of the topics (= one uninterrupted run), the
last run must see no duplicate (it resumed exactly where the last committed batch ended),
and nothing may have gone to the DLQ.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.records import PROJECTIONS
from projections.store import make_engine
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from tests.e2e.helpers import (
    Cli,
    assert_stores_equal_the_reference_fold,
    ok,
    stored_positions,
    tail,
    topic_ends,
    wait_until,
    worker_counters,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=11, dossiers=3000, procedures=200, departments=6, communes=10)
KILLS = 6
SEED = 20_251_106
CATCHUP = {"ONESTOP_CATCHUP_BATCH_SIZE": "500"}



def _progress(engine: Engine, ends: dict[tuple[str, int], int]) -> int:
    """Records consumed by the least advanced projection, per the stored positions."""
    positions = stored_positions(engine)
    if set(positions) != set(PROJECTIONS):
        return 0
    return min(sum(positions[p].get(tp, 0) for tp in ends) for p in PROJECTIONS)


def test_a_worker_killed_at_random_moments_loses_nothing_and_applies_nothing_twice(
    cli: Cli, services: Services, tmp_path: Path
) -> None:
    # given a province of ~30,000 events on the topics
    path = tmp_path / "province.jsonl"
    count = write_jsonl(generate(SPEC), path)
    ok(cli.run("publish", str(path)))
    ends = topic_ends(services.kafka_bootstrap, [CATALOGUE_TOPIC, DOSSIER_TOPIC])
    assert sum(ends.values()) == count

    # when a worker is SIGKILLed at random moments after it made progress, and restarted
    rng = random.Random(SEED)
    log = tmp_path / "worker.log"
    engine = make_engine(cli.database_url)
    killed_at: list[tuple[int, int]] = []  # (progress when started, progress after the kill)
    try:
        while len(killed_at) < KILLS:
            before = _progress(engine, ends)
            assert before < count, (
                f"the worker reached the end after {len(killed_at)} kills; "
                "publish a bigger province"
            )
            # small catch-up batches, so that the kills land mid-stream, between many commits
            worker = cli.start("worker", log=log, env=CATCHUP)
            try:
                wait_until(
                    lambda: _progress(engine, ends) > before or not worker.alive(),  # noqa: B023
                    timeout_s=120,
                    what=f"the worker to commit a batch (run {len(killed_at) + 1}, "
                    f"from {before}; kills so far {killed_at})",
                    detail=lambda: tail(log),
                )
                assert worker.alive(), f"the worker exited early:\n{tail(log)}"
                time.sleep(rng.uniform(0.0, 1.2))  # a random moment, mid-batch or not
            finally:
                worker.kill()
            killed_at.append((before, _progress(engine, ends)))
        last = _progress(engine, ends)
        assert last < count, "the last kill came after the end; nothing left for the restart"

        # and a last run goes on until idle
        final = ok(cli.run("worker", "--until-idle", "2", env=CATCHUP))

        # then every projection is at the log end
        assert _progress(engine, ends) == count
    finally:
        engine.dispose()

    # and it resumed exactly after the last committed batch: nothing re-read, nothing twice
    counters = worker_counters(final.stderr)
    for projection in PROJECTIONS:
        assert counters[projection] == {
            "records": count - last, "applied": count - last, "duplicates": 0,
            "rejected": 0, "parked": 0,
        }, (projection, killed_at)
    # and each kill interrupted a worker that was making progress, at distinct points
    assert all(after > before for before, after in killed_at), killed_at
    assert len({after for _, after in killed_at}) == KILLS, killed_at

    # and the result is that of an uninterrupted run: the reference fold of the topics
    assert_stores_equal_the_reference_fold(cli, services)
