"""End to end: a worker that holds dossier records while the catalogue catches up, and
pauses the dossier partitions when it holds too many, loses nothing.

faust's `pause_partitions` silently drops records of the paused partitions that were
already fetched (found by the 1 M-event benchmark: 32,473 records never applied, hundreds
of dossiers parked on gaps). With a tiny `ONESTOP_BACKLOG_PAUSE` the worker pauses and
resumes again and again on a ~30,000-event province; every record must still be applied
once and the projections must equal the reference fold.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.records import PROJECTIONS
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC
from tests.e2e.helpers import (
    Cli,
    assert_stores_equal_the_reference_fold,
    ok,
    topic_ends,
    worker_counters,
)

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=12, dossiers=3000, procedures=200, departments=6, communes=10)
TIGHT = {"ONESTOP_BACKLOG_PAUSE": "50", "ONESTOP_CATCHUP_BATCH_SIZE": "500"}


def test_a_worker_pausing_the_dossier_partitions_loses_nothing(
    cli: Cli, services: Services, tmp_path: Path
) -> None:
    # given a province on the topics
    path = tmp_path / "province.jsonl"
    count = write_jsonl(generate(SPEC), path)
    ok(cli.run("publish", str(path)))
    ends = topic_ends(services.kafka_bootstrap, [CATALOGUE_TOPIC, DOSSIER_TOPIC])
    assert sum(ends.values()) == count

    # when a worker that pauses the dossier partitions beyond 50 held records runs to the end
    final = ok(cli.run("worker", "--until-idle", "2", env=TIGHT))

    # then it did pause
    flow = re.search(r"paused (\d+) times", final.stderr)
    assert flow is not None, final.stderr
    assert int(flow.group(1)) >= 1, final.stderr
    # and every record was applied exactly once
    counters = worker_counters(final.stderr)
    for projection in PROJECTIONS:
        assert counters[projection] == {
            "records": count, "applied": count, "duplicates": 0, "rejected": 0, "parked": 0,
        }, (projection, final.stderr)
    # and the projections are the reference fold of the topics
    assert_stores_equal_the_reference_fold(cli, services)
