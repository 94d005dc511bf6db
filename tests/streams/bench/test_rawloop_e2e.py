"""End to end: `python -m streams.bench.rawloop` on the real broker, registry and each back
end, compared with the in-memory reference fold.

- a published province: one JSON line, every record read, no duplicates or gaps, and every
  projection's dump digest equal to the reference fold's;
- a gapped dossier, published twice: the duplicates and gaps are counted, and the tables
  still equal the reference (which parks the dossier behind its gap at the same seq).

Each test holds the broker's contract topics (`exclusive_topics`: deleted and recreated
empty) and its own database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from connectors.workload import WorkloadSpec, generate, write_jsonl
from projections.records import PROJECTIONS
from projections.reference import dump_digest
from projections.store import ProjectionStore, make_engine
from schemas import events as ev
from schemas.jsonform import event_to_json
from tests.e2e.helpers import (
    PROJECT_ROOT,
    Cli,
    decoded_topics,
    exclusive_topics,
    ok,
    reference_dumps,
)
from tests.projections.projection_events import catalogue, dossier

if TYPE_CHECKING:
    from streams.infra import Services

pytestmark = pytest.mark.e2e

SPEC = WorkloadSpec(seed=7, dossiers=300, procedures=150, departments=5, communes=8)
VERSION = 7


@pytest.fixture
def cli(services: Services, database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on this test's database, on freshly recreated topics (held meanwhile)."""
    with exclusive_topics(services):
        yield Cli(services, database_url, tmp_path)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("province") / "province.jsonl"
    return path, write_jsonl(generate(SPEC), path)


def bench(cli: Cli, module: str, *args: str) -> dict[str, Any]:
    """Run a contender module with the test's environment; its one JSON line on stdout."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], env=cli.env(), capture_output=True, text=True,
        timeout=300, cwd=PROJECT_ROOT)
    assert done.returncode == 0, f"{module} {args} exited {done.returncode}:\n{done.stderr}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"{module} printed {len(lines)} lines on stdout:\n{done.stdout}"
    result: dict[str, Any] = json.loads(lines[0])
    return result


def store_digests(database_url: str, version: int) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return {p: dump_digest(ProjectionStore(engine, p, version).dump(conn))
                    for p in PROJECTIONS}
    finally:
        engine.dispose()


def test_the_raw_loop_projects_a_province_like_the_reference_fold(
    cli: Cli, services: Services, province: tuple[Path, int]
) -> None:
    # given a province published through the CLI
    path, count = province
    ok(cli.run("publish", str(path)))

    # when the raw loop builds version 7
    result = bench(cli, "streams.bench.rawloop", "--version", str(VERSION), "--batch", "500")

    # then it read every record once, in several batches, and skipped nothing
    assert result["events"] == count
    assert result["batches"] >= count // 500
    assert (result["duplicates"], result["gaps"], result["version"]) == (0, 0, VERSION)
    assert result["seconds"] > 0
    # and every projection's checksum is the reference fold's
    expected = reference_dumps(decoded_topics(services))
    for projection in PROJECTIONS:
        assert all(expected[projection].values()), f"{projection}: empty reference table"
    assert store_digests(cli.database_url, VERSION) == {
        p: dump_digest(expected[p]) for p in PROJECTIONS}

    # and a second run into the same version is refused, with the reason
    again = subprocess.run(
        [sys.executable, "-m", "streams.bench.rawloop", "--version", str(VERSION)],
        env=cli.env(), capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.strip().splitlines()[-1].startswith("error: raw loop: ")
    assert "already has positions" in again.stderr


def test_the_raw_loop_counts_duplicates_and_gaps(cli: Cli, services: Services,
                                                 tmp_path: Path) -> None:
    # given dossier A with seq 1, 2, 4, 5 (3 missing) and dossier B in full, published twice
    a_id, b_id = str(uuid.uuid4()), str(uuid.uuid4())
    a_all = dossier(a_id, ev.DossierReceived, ev.DossierStepTransferred,
                    ev.DossierStepTransferred, ev.DossierResolved)
    events = [*catalogue(), *(e for e in a_all if e.aggregate_seq != 3),
              *dossier(b_id, ev.DossierReceived, ev.DossierStepTransferred)]
    path = tmp_path / "gap.jsonl"
    write_jsonl((event_to_json(e) for e in events), path)
    ok(cli.run("publish", str(path)))
    ok(cli.run("publish", str(path)))

    # when the raw loop runs
    result = bench(cli, "streams.bench.rawloop", "--version", str(VERSION))

    # then A's seq 4 and 5 are gaps, in both copies, and the rest of the second copy is
    # duplicates
    assert result["events"] == 2 * len(events)
    assert result["gaps"] == 4
    assert result["duplicates"] == len(events) - 2
    # and the tables equal the reference, which leaves A at seq 2 as well
    expected = reference_dumps(decoded_topics(services))
    assert store_digests(cli.database_url, VERSION) == {
        p: dump_digest(expected[p]) for p in PROJECTIONS}
