"""The parts of `onestop replay` / `onestop verify` that need no broker: the swap condition
and the swap transaction, version allocation, `--to-offset` / `--to-time` parsing, the
progress line, the drift comparison, the header scan and `AvroCodec.check_reader`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from projections.records import BatchResult, SourceRecord
from projections.store import (
    ProjectionStore,
    building_version,
    live_version,
    make_engine,
    set_live_version,
)
from projections.store import positions as stored
from projections.views import portal
from schemas.avro_schemas import event_schemas, subject_name
from schemas.codec import AvroCodec
from schemas.errors import IncompatibleWriterSchemaError, UnknownSchemaIdError
from schemas.events import CATALOGUE_TOPIC, DOSSIER_TOPIC, DossierSubmitted, full_name
from schemas.registry_memory import InMemorySchemaRegistry
from streams.commands.operate import summary_lines
from streams.progress import Progress, eta_seconds, format_duration, progress_line
from streams.replay import (
    ReplayError,
    ReplayResult,
    allocate_version,
    read_from,
    replay_names,
    swap_ready,
    try_swap,
    try_swap_all,
)
from streams.replay_log import parse_instant, parse_to_offset, resolve_stops
from streams.replay_safety import ScanResult, find_blockers
from streams.verify import compare_dumps, compare_table

C0, C1, D0 = (CATALOGUE_TOPIC, 0), (CATALOGUE_TOPIC, 1), (DOSSIER_TOPIC, 0)

# --- the swap condition -----------------------------------------------------------------


def test_a_new_version_may_replace_the_live_one_only_if_it_is_as_far_everywhere() -> None:
    assert swap_ready({C0: 5, D0: 7}, {C0: 5, D0: 7})
    assert swap_ready({C0: 6, D0: 9}, {C0: 5, D0: 7})
    assert not swap_ready({C0: 6, D0: 6}, {C0: 5, D0: 7})  # behind on one partition
    assert not swap_ready({C0: 6}, {C0: 5, D0: 1})  # a partition it never read counts as 0
    assert swap_ready({C0: 0}, {})  # no live positions: nothing to be behind of
    assert swap_ready({C0: 3, C1: 2}, {C0: 3, C1: 0, D0: 0})


def _positions(url: str, version: int, offsets: dict[tuple[str, int], int]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        generation = stored.claim(conn, "portal", version, offsets)
        stored.advance(conn, "portal", version, offsets, generation)
    engine.dispose()


def test_the_swap_transaction_refuses_a_version_behind_the_live_one(database_url: str) -> None:
    engine = make_engine(database_url)
    ProjectionStore(engine, "portal", 1).create()
    with engine.begin() as conn:
        set_live_version(conn, "portal", 1)
    _positions(database_url, 1, {C0: 10, D0: 4})
    _positions(database_url, 2, {C0: 10, D0: 3})
    assert try_swap(engine, "portal", 2) == (False, 1)
    with engine.connect() as conn:
        assert live_version(conn, "portal") == 1
    _positions(database_url, 2, {C0: 10, D0: 5})
    assert try_swap(engine, "portal", 2) == (True, 1)
    with engine.connect() as conn:
        assert live_version(conn, "portal") == 2
    engine.dispose()


def _live(url: str, projection: str, version: int, offsets: dict[tuple[str, int], int]) -> None:
    engine = make_engine(url)
    ProjectionStore(engine, projection, version).create()
    with engine.begin() as conn:
        set_live_version(conn, projection, version)
        generation = stored.claim(conn, projection, version, offsets)
        stored.advance(conn, projection, version, offsets, generation)
    engine.dispose()


def _built(url: str, projection: str, version: int, offsets: dict[tuple[str, int], int]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        generation = stored.claim(conn, projection, version, offsets)
        stored.advance(conn, projection, version, offsets, generation)
    engine.dispose()


def _lives(engine: Engine) -> dict[str, int | None]:
    with engine.connect() as conn:
        return {p: live_version(conn, p) for p in ("portal", "onestop", "stats")}


def test_several_versions_swap_in_together_or_not_at_all(database_url: str) -> None:
    # given three live projections and new versions of each, stats behind on one partition
    engine = make_engine(database_url)
    for projection in ("portal", "onestop", "stats"):
        _live(database_url, projection, 1, {C0: 10, D0: 4})
    _built(database_url, "portal", 2, {C0: 10, D0: 4})
    _built(database_url, "onestop", 3, {C0: 12, D0: 5})
    _built(database_url, "stats", 2, {C0: 10, D0: 3})
    new = {"stats": 2, "portal": 2, "onestop": 3}
    # when the swap is tried: none goes live
    assert try_swap_all(engine, new) == (False, {"portal": 1, "onestop": 1, "stats": 1})
    assert _lives(engine) == {"portal": 1, "onestop": 1, "stats": 1}
    # and once stats has caught up, all three go live in one transaction
    _built(database_url, "stats", 2, {C0: 10, D0: 4})
    assert try_swap_all(engine, new) == (True, {"portal": 1, "onestop": 1, "stats": 1})
    assert _lives(engine) == {"portal": 2, "onestop": 3, "stats": 2}
    engine.dispose()


def test_the_single_swap_is_the_swap_of_one(database_url: str) -> None:
    engine = make_engine(database_url)
    _live(database_url, "onestop", 1, {C0: 3})
    _built(database_url, "onestop", 2, {C0: 2})
    assert try_swap(engine, "onestop", 2) == (False, 1)
    _built(database_url, "onestop", 2, {C0: 3})
    assert try_swap(engine, "onestop", 2) == (True, 1)
    assert _lives(engine)["onestop"] == 2
    engine.dispose()


def test_replay_names_expand_all_drop_repeats_and_keep_the_write_order() -> None:
    assert replay_names(["stats", "portal"]) == ["portal", "stats"]
    assert replay_names(["all"]) == ["portal", "onestop", "stats"]
    assert replay_names(["onestop", "all", "onestop"]) == ["portal", "onestop", "stats"]
    assert replay_names(["stats", "stats"]) == ["stats"]
    with pytest.raises(ValueError, match="unknown projection 'dossiers'"):
        replay_names(["dossiers"])
    with pytest.raises(ValueError, match="at least one"):
        replay_names([])


def test_one_pass_reads_each_partition_from_the_lowest_position_among_the_projections() -> None:
    positions = {"portal": {C0: 5, D0: 9}, "stats": {C0: 7, D0: 2}, "onestop": {C0: 6}}
    assert read_from(positions, [C0, C1, D0]) == {C0: 5, C1: 0, D0: 0}
    assert read_from({}, [C0]) == {C0: 0}


def _result(projection: str, version: int, **kwargs: Any) -> ReplayResult:
    return ReplayResult(projection, version, events=12_000, seconds=2.0, **kwargs)


def test_the_summary_has_one_line_per_projection_and_a_total_for_several() -> None:
    [single] = summary_lines([_result("portal", 2, swapped=True, old_version=1,
                                      dropped_old=True)])
    assert single == ("portal: replayed 12,000 events into v2 in 2.0 s (6,000 events/s); "
                      "v2 is live; v1 dropped")
    lines = summary_lines([_result("portal", 2, swapped=True, old_version=1, dropped_old=True),
                           _result("onestop", 4, swapped=True, old_version=3),
                           _result("stats", 2, swapped=True)])
    assert len(lines) == 4
    assert lines[1].endswith("v4 is live; v3 kept")
    assert lines[2].endswith("v2 is live")
    assert lines[3] == ("total: 12,000 events into 3 projections in one pass in 2.0 s "
                        "(6,000 events/s)")
    [built] = summary_lines([_result("stats", 5, positions={D0: 7})])
    assert "NOT swapped in" in built and "dossier.events:0:7" in built
    assert "onestop replay --drop-version 5 stats" in built


def test_without_a_live_version_the_swap_just_makes_it_live(database_url: str) -> None:
    engine = make_engine(database_url)
    ProjectionStore(engine, "stats", 2).create()
    assert try_swap(engine, "stats", 2) == (True, None)
    with engine.connect() as conn:
        assert live_version(conn, "stats") == 2
    engine.dispose()


def test_versions_are_allocated_above_every_known_one_and_one_build_at_a_time(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    ProjectionStore(engine, "portal", 1).create()
    ProjectionStore(engine, "portal", 4).create()  # tables left behind, no positions
    scratch = allocate_version(engine, "portal", [C0, D0], building=False)
    assert scratch == 5
    built = allocate_version(engine, "portal", [C0, D0], building=True)
    assert built == 6
    with engine.connect() as conn:
        assert building_version(conn, "portal") == 6
    with pytest.raises(ReplayError, match=r"--drop-version 6 portal"):
        allocate_version(engine, "portal", [C0, D0], building=True)
    ProjectionStore(engine, "portal", 6).drop()  # an interrupted build, cleaned up
    assert allocate_version(engine, "portal", [C0, D0], building=True) == 6
    assert allocate_version(engine, "onestop", [C0], building=True) == 2  # v1 is the worker's
    engine.dispose()


# --- point in time ----------------------------------------------------------------------


def test_to_offset_is_topic_partition_offset() -> None:
    assert parse_to_offset("dossier.events:3:1200") == ((DOSSIER_TOPIC, 3), 1200)
    assert parse_to_offset(" catalogue.events:0:0 ") == ((CATALOGUE_TOPIC, 0), 0)
    for bad in ("dossier.events:3", "dossier.events:x:1", "other.topic:0:1", "d:1:-1"):
        with pytest.raises(ValueError):
            parse_to_offset(bad)


def test_to_time_is_an_iso_instant_utc_unless_it_says_otherwise() -> None:
    assert parse_instant("2025-01-01T00:00:00Z") == 1_735_689_600_000
    assert parse_instant("2025-01-01T00:00:00") == 1_735_689_600_000
    assert parse_instant("2025-01-01T07:00:00+07:00") == 1_735_689_600_000
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant("yesterday")


def test_stops_take_the_offset_given_else_the_time_else_the_end_never_beyond_it() -> None:
    ends = {C0: 100, C1: 50, D0: 80}
    assert resolve_stops(ends, {}) == ends
    assert resolve_stops(ends, {D0: 10}) == {C0: 100, C1: 50, D0: 10}
    assert resolve_stops(ends, {D0: 999}) == ends
    assert resolve_stops(ends, {C1: 5}, {C0: 40, C1: 45, D0: 80}) == {C0: 40, C1: 5, D0: 80}
    with pytest.raises(ValueError, match=r"dossier\.events:7"):
        resolve_stops(ends, {(DOSSIER_TOPIC, 7): 1})


# --- progress ---------------------------------------------------------------------------


def test_durations_and_eta() -> None:
    assert [format_duration(s) for s in (0, 9.4, 59.6, 125, 3720)] == [
        "0s", "9s", "1m00s", "2m05s", "1h02m"]
    assert format_duration(None) == "?"
    assert format_duration(float("inf")) == "?"
    assert eta_seconds(250, 1000, 50.0) == 15.0
    assert eta_seconds(10, 1000, 0.0) is None
    assert eta_seconds(1200, 1000, 10.0) == 0


def test_the_progress_line_shows_phase_counts_rate_and_eta() -> None:
    line = progress_line("portal", "dossiers", 2500, 10_000, 2.0)
    assert "portal" in line and "dossiers" in line
    assert "2,500/10,000 events" in line
    assert "1,250 ev/s" in line
    assert line.endswith("ETA 6s")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal_at_most_every_interval() -> None:
    now = [0.0]
    out = _Tty()
    progress = Progress("stats", stream=out, interval_s=0.5, clock=lambda: now[0])
    for step in range(10):  # 10 updates within 0.45 s: one draw
        now[0] = step * 0.05
        progress.update("catalogue", step, 100)
    now[0] = 0.6
    progress.update("catalogue", 50, 100)
    progress.finish("done")
    text = out.getvalue()
    assert text.count("\r") == 2
    assert text.endswith("\ndone\n")


def test_progress_into_a_file_writes_whole_lines_less_often() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress("stats", stream=out, log_every_s=5.0, clock=lambda: now[0])
    for step in range(12):
        now[0] = float(step)
        progress.update("dossiers", step, 12)
    assert "\r" not in out.getvalue()
    assert len(out.getvalue().splitlines()) == 3  # at 0, 5 and 10 s


# --- drift ------------------------------------------------------------------------------

SPEC = portal.TABLES["dossiers"]


def _dossier_row(dossier_id: str, status: int) -> tuple[object, ...]:
    values = {c: None for c in SPEC.column_names}
    values.update(dossier_id=dossier_id, procedure_code="P", agency_code="A", channel="ONLINE",
                  status=status, applicant_kind="CITIZEN", updated_at="2025-01-01")
    return tuple(values[c] for c in SPEC.column_names)


def test_equal_tables_compare_by_checksum_without_examples() -> None:
    rows = [_dossier_row("d1", 2), _dossier_row("d2", 4)]
    drift = compare_table(SPEC, rows, list(rows))
    assert drift.equal and drift.live_digest == drift.rebuilt_digest
    assert (drift.live_rows, drift.examples) == (2, [])


def test_drift_is_reported_by_primary_key_changed_only_live_only_rebuilt() -> None:
    live = [_dossier_row("d1", 2), _dossier_row("d2", 9), _dossier_row("d3", 1)]
    rebuilt = [_dossier_row("d1", 2), _dossier_row("d2", 4), _dossier_row("d4", 1)]
    drift = compare_table(SPEC, live, rebuilt)
    assert not drift.equal
    assert (drift.changed, drift.only_live, drift.only_rebuilt) == (1, 1, 1)
    by_kind = {e["kind"]: e for e in drift.examples}
    assert by_kind["changed"]["key"] == {"dossier_id": "d2"}
    assert (by_kind["changed"]["live"]["status"], by_kind["changed"]["rebuilt"]["status"]) == (
        9, 4)
    assert by_kind["only_live"]["key"] == {"dossier_id": "d3"}
    assert by_kind["only_live"]["rebuilt"] is None
    assert by_kind["only_rebuilt"]["key"] == {"dossier_id": "d4"}
    json.dumps(drift.examples)  # JSON-ready


def test_at_most_five_examples_but_every_difference_counted() -> None:
    live = [_dossier_row(f"d{i}", 1) for i in range(20)]
    rebuilt = [_dossier_row(f"d{i}", 2) for i in range(20)]
    drift = compare_table(SPEC, live, rebuilt)
    assert drift.changed == 20
    assert len(drift.examples) == 5


def test_applicant_columns_are_never_shown_in_clear() -> None:
    from projections.views import onestop

    spec = onestop.TABLES["agency_dossiers"]
    values = dict.fromkeys(spec.column_names, "x")
    values.update(agency_code="A", dossier_id="d1", applicant_name="Nguyễn Thị Hoa",
                  applicant_phone="0912345678")
    row = tuple(values[c] for c in spec.column_names)
    other = tuple("changed" if c == "status" else v for c, v in zip(spec.column_names, row,
                                                                     strict=True))
    [drift] = compare_dumps({"agency_dossiers": spec}, {"agency_dossiers": [row]},
                            {"agency_dossiers": [other]})
    text = json.dumps(drift.examples, ensure_ascii=False)
    assert "Nguyễn" not in text and "0912345678" not in text
    assert drift.examples[0]["live"]["applicant_name"].startswith("pii:")


# --- the replay-safety check ------------------------------------------------------------


def _incompatible_submitted() -> str:
    """DossierSubmitted without `procedure_code`, which today's reader requires."""
    schema = json.loads(event_schemas()[full_name(DossierSubmitted)].text)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "procedure_code"]
    return json.dumps(schema)


def _compatible_submitted() -> str:
    """DossierSubmitted with an extra field, which today's reader skips."""
    schema = json.loads(event_schemas()[full_name(DossierSubmitted)].text)
    schema["fields"].append({"name": "extra", "type": "string"})
    return json.dumps(schema)


def test_check_reader_says_which_writer_schemas_todays_reader_cannot_read() -> None:
    registry = InMemorySchemaRegistry()
    today = event_schemas()[full_name(DossierSubmitted)].text
    registry.register_with_id(subject_name(DOSSIER_TOPIC, full_name(DossierSubmitted)), today, 1)
    registry.register_with_id("elsewhere-value", _compatible_submitted(), 2)
    registry.register_with_id("incompatible-value", _incompatible_submitted(), 3)
    codec = AvroCodec(registry)

    assert codec.check_reader(1) is None
    assert codec.check_reader(2) is None
    problem = codec.check_reader(3)
    assert isinstance(problem, IncompatibleWriterSchemaError)
    assert "procedure_code" in problem.reason
    assert isinstance(codec.check_reader(99), UnknownSchemaIdError)


def _record(offset: int, value: bytes, topic: str = DOSSIER_TOPIC) -> SourceRecord:
    return SourceRecord(topic, 0, offset, b"k", value)


def test_the_scan_counts_schema_ids_from_headers_and_non_avro_values() -> None:
    scan = ScanResult()
    scan.add([_record(0, b"\x00\x00\x00\x00\x03body"), _record(1, b"\x00\x00\x00\x00\x03"),
              _record(2, b"not avro"), _record(3, b"\x00\x00\x00\x00\x01", CATALOGUE_TOPIC)])
    assert dict(scan.schema_records) == {3: 2, 1: 1}
    assert scan.schema_first[3] == (DOSSIER_TOPIC, 0, 0)
    assert dict(scan.non_avro) == {DOSSIER_TOPIC: 1}
    assert scan.non_avro_first[DOSSIER_TOPIC] == (DOSSIER_TOPIC, 0, 2)
    assert sum(scan.records.values()) == 4


def test_blockers_name_the_id_its_subjects_and_where_it_first_occurs() -> None:
    registry = InMemorySchemaRegistry()
    today = event_schemas()[full_name(DossierSubmitted)].text
    registry.register_with_id(subject_name(DOSSIER_TOPIC, full_name(DossierSubmitted)), today, 1)
    registry.register_with_id("incompatible-value", _incompatible_submitted(), 3)
    scan = ScanResult()
    scan.add([_record(0, b"\x00\x00\x00\x00\x01"), _record(1, b"\x00\x00\x00\x00\x03"),
              _record(2, b"\x00\x00\x00\x00\x03"), _record(3, b"junk")])

    [blocker] = find_blockers(AvroCodec(registry), scan)

    assert (blocker.schema_id, blocker.records, blocker.first) == (3, 2, (DOSSIER_TOPIC, 0, 1))
    assert blocker.subjects == ("incompatible-value v1",)
    assert blocker.error_class == "incompatible_writer_schema"


# --- the live pipeline follows a swap ---------------------------------------------------


def test_the_live_pipeline_reports_the_positions_of_the_version_now_live(
    database_url: str,
) -> None:
    from projections.policy import build_policies
    from streams.compose import live_stores
    from streams.pipeline import Pipeline

    engine = make_engine(database_url)
    pipeline = Pipeline(engine, AvroCodec(InMemorySchemaRegistry()), live_stores(engine),
                        build_policies(b"k" * 32), max_record_bytes=1 << 20)
    pipeline.claim([C0, D0])
    ProjectionStore(engine, "portal", 2).create()
    _positions(database_url, 2, {C0: 7, D0: 3})
    with engine.begin() as conn:
        set_live_version(conn, "portal", 2)
    positions = pipeline.positions()
    assert positions["portal"] == {C0: 7, D0: 3}  # v2, although not reloaded yet
    assert positions["stats"] == {C0: 0, D0: 0}
    engine.dispose()


def test_a_batch_folded_against_a_version_swapped_out_meanwhile_is_folded_again(
    tmp_path: Path,
) -> None:
    from projections.policy import build_policies
    from streams.compose import live_stores
    from streams.pipeline import ConcurrentChangeError, Pipeline, Plans

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    pipeline = Pipeline(engine, AvroCodec(InMemorySchemaRegistry()), live_stores(engine),
                        build_policies(b"k" * 32), max_record_bytes=1 << 20)
    pipeline.claim([C0, D0])
    planned = {name: store.version for name, store in pipeline.stores.items()}
    plans = Plans()
    plans["portal"] = BatchResult(positions={D0: 1})
    # another agent of the same worker reloads the swapped-in v2 before this batch commits
    ProjectionStore(engine, "portal", 2).create()
    _positions(f"sqlite:///{tmp_path / 's.db'}", 2, {C0: 0, D0: 0})
    with engine.begin() as conn:
        set_live_version(conn, "portal", 2)
    assert pipeline.reload_live_versions() == ["portal"]
    with pytest.raises(ConcurrentChangeError, match="swapped"):
        pipeline.commit(plans, planned)
    engine.dispose()
