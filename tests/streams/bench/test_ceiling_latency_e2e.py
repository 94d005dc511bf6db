"""End to end, small: the broker's ceiling (Kafka's ConsumerPerformance) reads exactly what was
published, and the latency probe sees every held-back event in the portal of a live worker.

Given a tiny province (the whole catalogue and most dossier events) on the contract topics,
ConsumerPerformance run through `ceiling_command` consumes exactly the published count; then
`onestop worker` (SQLite) catches up, and `measure_latency` produces the held-back tail (200
dossier events at 100 events/s) and times each until the portal's stored positions pass it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.publisher import encode_events, publish_records
from connectors.workload import WorkloadSpec, generate
from projections.records import PROJECTIONS
from projections.store import make_engine
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC, EVENT_TYPES
from schemas.jsonform import event_from_json
from streams.bench.ceiling import (
    ceiling_command,
    ceiling_tool,
    messages_by_topic,
    parse_consumer_performance,
)
from streams.bench.latency import measure_latency, split_for_latency
from streams.compose import open_codec
from streams.infra import default_home
from streams.infra.paths import Layout
from streams.settings import Settings
from tests.e2e.helpers import (
    PROJECT_ROOT,
    Cli,
    exclusive_topics,
    read_rows,
    stored_positions,
    tail,
    topic_ends,
    wait_until,
)

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=5, dossiers=60, procedures=40, departments=3, communes=3)
RATE = 100.0
SECONDS = 2.0


def _stack_home_and_cache() -> tuple[Path, Path]:
    """Where the session's stack keeps its state and Kafka's jars (tests/conftest.py)."""
    if os.environ.get("ONESTOP_TEST_REUSE") == "1":
        home = default_home()
        return home, Layout.of(home).cache
    return PROJECT_ROOT / ".onestop" / "test", PROJECT_ROOT / ".onestop" / "cache"


def test_the_ceiling_reads_everything_and_every_held_back_event_becomes_visible(
    services: Services, tmp_path: Path
) -> None:
    events = list(generate(SPEC))
    head, [held] = split_for_latency(events, [RATE], SECONDS)
    settings = Settings.from_env(services.env())
    codec = open_codec(settings, auto_register=True)
    head_records = encode_events(codec, [event_from_json(e) for e in head])
    tail_records = [(r.topic, r.key, r.value)
                    for r in encode_events(codec, [event_from_json(e) for e in held])]
    database_url = f"sqlite+pysqlite:///{tmp_path / 'latency.db'}"
    cli = Cli(services, database_url, tmp_path)

    with exclusive_topics(services):
        # given the province without its tail on the topics
        asyncio.run(publish_records(services.kafka_bootstrap, head_records))
        ends = topic_ends(services.kafka_bootstrap, [CATALOGUE_TOPIC, DOSSIER_TOPIC])
        assert sum(ends.values()) == len(head)

        # when ConsumerPerformance reads them, one topic after the other
        home, cache = _stack_home_and_cache()
        tool = ceiling_tool(home, cache=cache, work_dir=tmp_path / "ceiling")
        argv = ceiling_command(tool, services.kafka_bootstrap, messages_by_topic(ends),
                               f"e2e-ceiling-{uuid.uuid4().hex[:8]}")
        ran = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)

        # then it read exactly what was published, without running into its timeout
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr == "", ran.stderr  # the quiet log config: no log4j noise
        figures = parse_consumer_performance(ran.stdout)
        assert figures.messages == len(head)
        assert (figures.runs, figures.timed_out) == (2, False)
        assert figures.seconds > 0 and figures.megabytes > 0

        # when a live worker has caught up with the topics
        log = tmp_path / "worker.log"
        worker = cli.start("worker", log=log)
        engine = make_engine(database_url)
        try:
            wait_until(
                lambda: all(stored_positions(engine).get(p) == ends for p in PROJECTIONS),
                timeout_s=120, what="the worker to catch up",
                detail=lambda: f"{stored_positions(engine)} vs {ends}\n{tail(log)}",
            )
            # and the held-back tail is produced at a fixed rate
            latency = asyncio.run(measure_latency(services.kafka_bootstrap, tail_records, RATE,
                                                  engine))
            assert worker.alive(), tail(log)
        finally:
            engine.dispose()
            worker.kill()

    # then every event became visible, with consistent figures at about the asked rate
    print(f"ceiling {figures}; latency {latency}")  # shown with -s
    assert latency.events == len(held) == 200
    assert 0 < latency.p50_ms <= latency.p99_ms <= latency.max_ms
    assert latency.max_ms < 60_000
    assert latency.achieved_rate == pytest.approx(RATE, rel=0.2)
    assert latency.poll_ms == 5.0
    # and the portal shows every dossier of the province, the held-back ones included
    portal = {row["dossier_id"] for row in read_rows(database_url, "portal", "dossiers")}
    assert portal == {e["aggregate_id"] for e in events
                      if EVENT_TYPES[e["type"]].TOPIC == DOSSIER_TOPIC}
    assert len(portal) == SPEC.dossiers
