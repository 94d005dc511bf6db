"""The read-only HTTP API (`connectors.api`) over a store filled by the real pipeline (no
Kafka), on SQLite and PostgreSQL: dossier lookup without PII, the ID-number check,
catalogue search, a department's slice, and `/stats` = `compute_statistics`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from sqlalchemy import Engine

from connectors.api import MAX_LIMIT, ApiAccessLogger, create_api
from projections.period import ACCEPTED_FORMS, parse_period
from projections.policy import build_policies
from projections.statistics import compute_statistics
from projections.store import make_engine
from schemas import events as ev
from schemas.codec import AvroCodec
from schemas.registry_memory import InMemorySchemaRegistry
from streams.cli import main as cli
from streams.compose import live_stores, load_stats_facts
from streams.pipeline import Pipeline
from streams.settings import Settings
from tests.projections.projection_events import (
    AGENCY,
    APPLICANT,
    OTHER_AGENCY,
    PII,
    PROCEDURE,
    SECTOR,
    catalogue,
    dossier,
    make,
)
from tests.streams.test_pipeline import all_partitions, encode_log, run

KEY = "k" * 32
NOW = datetime(2021, 3, 1, 3, 0, tzinfo=UTC)
RESOLVED = "00000000-0000-4000-8000-000000000001"
FORWARDED = "00000000-0000-4000-8000-000000000002"
NOT_RECEIVED = "00000000-0000-4000-8000-000000000003"
CODE_RESOLVED = "000.00.14.H56-201106-0001"
CODE_FORWARDED = "000.00.14.H56-201106-0002"
OTHER_PROCEDURE = "2.000100"
ABOLISHED = "3.000001"  # abolished from 2021-01-01, before NOW


def _events() -> list[ev.Event]:
    return [
        *catalogue(),
        make(ev.ProcedurePublished, OTHER_PROCEDURE, 1, name="Đăng ký hộ kinh doanh",
             sector_code="G09"),
        make(ev.ProcedureAppliedAtAgency, OTHER_PROCEDURE, 2, agency_code=OTHER_AGENCY,
             service_level=ev.ServiceLevel.FULL_ONLINE, online_payment=True),
        make(ev.SectorDefined, "G09", 1, name="Kế hoạch và Đầu tư"),
        make(ev.ProcedurePublished, ABOLISHED, 1, name="Cấp giấy phép cũ"),
        make(ev.ProcedureAbolished, ABOLISHED, 2),
        *dossier(RESOLVED, ev.DossierReceived, ev.DossierResolved),
        *dossier(FORWARDED, ev.DossierReceived, ev.DossierForwarded,
                 DossierReceived={"dossier_code": CODE_FORWARDED}),
        *dossier(NOT_RECEIVED),
    ]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, kafka_bootstrap=None, schema_registry_url=None,
                    database_url=database_url, pii_hmac_key=KEY)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A store with the three projections built by the real pipeline from `_events()`."""
    writer = make_engine(settings.database_url)
    codec = AvroCodec(InMemorySchemaRegistry())
    pipeline = Pipeline(writer, codec, live_stores(writer),
                        build_policies(settings.pii_hmac_key.encode()), max_record_bytes=1 << 20)
    pipeline.claim(all_partitions())
    outcome = run(pipeline, encode_log(codec, _events()))
    assert not any(k.endswith((".rejected", ".parked")) for k in outcome.counters), outcome
    writer.dispose()
    reader = make_engine(settings.database_url, sqlite_begin="DEFERRED")
    yield reader
    reader.dispose()


Call = Callable[[str], Awaitable[tuple[int, str]]]


def serve(app: web.Application, scenario: Callable[[Call], Awaitable[None]]) -> None:
    async def main() -> None:
        async with TestClient(TestServer(app)) as client:
            async def get(path: str) -> tuple[int, str]:
                response = await client.get(path)
                assert response.content_type == "application/json"
                assert response.charset == "utf-8"
                return response.status, await response.text()

            await scenario(get)

    asyncio.run(main())


def api(engine: Engine, settings: Settings, **kwargs: Any) -> web.Application:
    return create_api(engine, settings, clock=lambda: NOW, **kwargs)


def test_dossier_lookup_returns_the_status_and_no_pii(engine: Engine, settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        status, text = await get(f"/portal/dossiers/{CODE_RESOLVED}")
        assert status == 200
        body = json.loads(text)
        assert body["dossier_code"] == CODE_RESOLVED
        assert body["procedure"] == {"code": PROCEDURE, "name": "Cấp Giấy phép bán lẻ rượu"}
        assert body["agency"] == {"code": AGENCY, "name": "Sở Công thương"}
        assert body["status"] == {"code": 9, "name": "Đã xử lý xong"}
        assert body["received_at"] == "2020-11-06T10:00:00+07:00"
        assert body["resolved_at"] == "2020-11-06T11:00:00+07:00"
        assert body["due_at"] == "2020-11-13T09:00:00+07:00"
        assert body["on_time_state"] == "EARLY"
        assert "Cấp Giấy phép" in text  # UTF-8, not \\u escapes
        for value in (*PII, "applicant", "hmac", RESOLVED):
            assert value not in text
        # a forwarded dossier shows its current handling agency
        _, text = await get(f"/portal/dossiers/{CODE_FORWARDED}")
        assert json.loads(text)["agency"]["code"] == OTHER_AGENCY
        assert json.loads(text)["status"]["code"] == 4

    serve(api(engine, settings), scenario)


def test_the_id_number_must_match(engine: Engine, settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        ok, text = await get(f"/portal/dossiers/{CODE_RESOLVED}?id_number={APPLICANT.id_number}")
        assert ok == 200 and json.loads(text)["status"]["code"] == 9
        # the same normalisation as the fold: blanks and case do not matter
        ok, _ = await get(f"/portal/dossiers/{CODE_RESOLVED}?id_number=%20{APPLICANT.id_number}")
        assert ok == 200
        wrong, wrong_text = await get(f"/portal/dossiers/{CODE_RESOLVED}?id_number=079000000001")
        unknown, unknown_text = await get("/portal/dossiers/000.00.14.H56-201106-9999")
        assert wrong == unknown == 404
        # a wrong ID number is indistinguishable from an unknown dossier
        assert json.loads(wrong_text)["error"] == json.loads(unknown_text)["error"] == "not_found"
        assert set(json.loads(wrong_text)) == {"error", "detail"}
        assert "079000000001" not in wrong_text
        blank, _ = await get(f"/portal/dossiers/{CODE_RESOLVED}?id_number=%20")
        assert blank == 400

    serve(api(engine, settings), scenario)


def test_a_different_hmac_key_matches_nothing(engine: Engine, settings: Settings) -> None:
    other = Settings(home=settings.home, kafka_bootstrap=None, schema_registry_url=None,
                     database_url=settings.database_url, pii_hmac_key="another-key")

    async def scenario(get: Call) -> None:
        status, _ = await get(f"/portal/dossiers/{CODE_RESOLVED}?id_number={APPLICANT.id_number}")
        assert status == 404

    serve(api(engine, other), scenario)


def test_procedure_search_filters(engine: Engine, settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        _, text = await get("/portal/procedures")
        everything = json.loads(text)
        assert everything["total"] == 2
        assert [p["procedure_code"] for p in everything["items"]] == [PROCEDURE, OTHER_PROCEDURE]
        first = everything["items"][0]
        assert [(a["agency_code"], a["service_level"]) for a in first["applications"]] == [
            (AGENCY, "PARTIAL_ONLINE"), (OTHER_AGENCY, "PARTIAL_ONLINE")]
        assert first["sector_name"] == "Công thương"
        assert first["time_limit"] == {"value": 15, "unit": "WORKING_DAY"}

        async def codes(query: str) -> list[str]:
            status, text = await get(f"/portal/procedures?{query}")
            assert status == 200, text
            return [p["procedure_code"] for p in json.loads(text)["items"]]

        assert await codes(f"sector={SECTOR}") == [PROCEDURE]
        assert await codes("sector=G09") == [OTHER_PROCEDURE]
        assert await codes("q=GIẤY PHÉP") == [PROCEDURE]  # case-insensitive
        assert await codes("q=giay phep") == [PROCEDURE]  # accent-insensitive
        assert await codes("q=đăng ký hộ") == [OTHER_PROCEDURE]
        assert await codes("q=no such thing") == []
        assert await codes("service_level=FULL_ONLINE") == [OTHER_PROCEDURE]
        assert await codes("service_level=partial_online") == [PROCEDURE]
        assert await codes("service_level=INFO") == []
        assert await codes("limit=1&offset=1") == [OTHER_PROCEDURE]
        assert await codes("q=giấy phép&include_abolished=true") == [PROCEDURE, ABOLISHED]
        status, text = await get(f"/portal/procedures/{ABOLISHED}")
        assert status == 200 and json.loads(text)["abolished_from"] == "2021-01-01"
        _, text = await get("/portal/procedures?limit=100000")
        assert json.loads(text)["limit"] == MAX_LIMIT
        for bad in ("service_level=LEVEL4", "limit=0", "limit=x", "offset=-1",
                    "include_abolished=maybe"):
            status, text = await get(f"/portal/procedures?{bad}")
            assert status == 400 and json.loads(text)["error"] == "bad_parameter", bad

    serve(api(engine, settings), scenario)


def test_one_procedure_with_documents_fees_and_applications(engine: Engine,
                                                             settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        status, text = await get(f"/portal/procedures/{PROCEDURE}")
        assert status == 200
        body = json.loads(text)
        assert body["documents"] == [{"name": "Đơn đề nghị", "originals": 1, "copies": 0}]
        assert body["fee_vnd"] == 1_200_000
        assert body["legal_bases"] == ["Nghị định 105/2017/NĐ-CP"]
        assert [(a["agency_code"], a["agency_name"], a["active"]) for a in body["applications"]] \
            == [(AGENCY, "Sở Công thương", True), (OTHER_AGENCY, "UBND huyện", True)]
        status, text = await get("/portal/procedures/9.999999")
        assert status == 404 and json.loads(text)["error"] == "not_found"

    serve(api(engine, settings), scenario)


def test_the_onestop_slice_lists_the_agencys_dossiers(engine: Engine, settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        status, text = await get(f"/onestop/{AGENCY}/dossiers")
        assert status == 200
        page = json.loads(text)
        by_id = {d["dossier_id"]: d for d in page["items"]}
        assert set(by_id) == {RESOLVED, FORWARDED, NOT_RECEIVED} and page["total"] == 3
        assert by_id[RESOLVED]["applicant"]["name"] == APPLICANT.name  # the back office sees it
        assert by_id[RESOLVED]["status"] == {"code": 9, "name": "Đã xử lý xong"}
        assert by_id[RESOLVED]["procedure"]["name"] == "Cấp Giấy phép bán lẻ rượu"
        assert by_id[FORWARDED]["role"] == "PREVIOUS"
        _, text = await get(f"/onestop/{AGENCY}/dossiers?status=9")
        assert [d["dossier_id"] for d in json.loads(text)["items"]] == [RESOLVED]
        _, text = await get(f"/onestop/{AGENCY}/dossiers?role=CURRENT&limit=1")
        assert json.loads(text)["total"] == 2 and len(json.loads(text)["items"]) == 1
        _, text = await get(f"/onestop/{OTHER_AGENCY}/dossiers")
        other = json.loads(text)["items"]
        assert [(d["dossier_id"], d["role"], d["forwarded_from"]) for d in other] == [
            (FORWARDED, "CURRENT", AGENCY)]
        status, _ = await get(f"/onestop/{AGENCY}/dossiers?status=11")
        assert status == 400
        _, text = await get(f"/onestop/{OTHER_AGENCY}/procedures")
        assert [p["procedure_code"] for p in json.loads(text)["items"]] == [
            PROCEDURE, OTHER_PROCEDURE]
        _, text = await get("/onestop/H56.99/dossiers")
        assert json.loads(text)["total"] == 0

    serve(api(engine, settings), scenario)


def test_portal_only_leaves_the_onestop_routes_out(engine: Engine, settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        status, text = await get(f"/onestop/{AGENCY}/dossiers")
        assert status == 404 and json.loads(text)["error"] == "not_found"
        for value in PII:
            assert value not in text

    serve(api(engine, settings, include_onestop=False), scenario)


def test_stats_equal_compute_statistics_over_the_same_facts(engine: Engine,
                                                            settings: Settings) -> None:
    facts = load_stats_facts(engine)
    as_of = NOW.isoformat(timespec="seconds")

    async def scenario(get: Call) -> None:
        for query, period, kwargs in [
            ("period=2020-Q4", "2020-Q4", {}),
            ("period=2020-11", "2020-11", {"agency": AGENCY}),
            ("period=2020-11-01..2020-11-30&sector=G15", "2020-11-01..2020-11-30",
             {"sector": "G15"}),
            ("", "2021", {}),  # default: the current year
        ]:
            if "agency" in kwargs:
                query += f"&agency={kwargs['agency']}"
            status, text = await get(f"/stats?{query}")
            assert status == 200, text
            expected = compute_statistics(facts, parse_period(period), as_of=as_of, **kwargs)
            assert json.loads(text) == json.loads(json.dumps(expected)), query
        _, text = await get("/stats?period=2020-Q4")
        assert json.loads(text)["dossiers"]["received_total"] == 2
        status, text = await get("/stats?period=2020-Q5")
        assert status == 400
        body = json.loads(text)
        assert body["error"] == "bad_period" and ACCEPTED_FORMS in body["detail"]

    serve(api(engine, settings), scenario)


def test_stats_match_the_cli_json(engine: Engine, settings: Settings) -> None:
    result = CliRunner().invoke(
        cli, ["stats", "--period", "2020-Q4", "--json"],
        env={"ONESTOP_DATABASE_URL": settings.database_url, "ONESTOP_HOME": str(settings.home),
             "ONESTOP_KAFKA_BOOTSTRAP": "127.0.0.1:1", "ONESTOP_SCHEMA_REGISTRY_URL": "http://x"},
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)

    async def scenario(get: Call) -> None:
        _, text = await get("/stats?period=2020-Q4")
        served = json.loads(text)
        assert {**served, "as_of": None} == {**printed, "as_of": None}

    serve(api(engine, settings), scenario)


def test_health_and_errors(engine: Engine, settings: Settings) -> None:
    async def scenario(get: Call) -> None:
        status, text = await get("/health")
        assert status == 200
        assert json.loads(text) == {
            "status": "ok", "live_versions": {"portal": 1, "onestop": 1, "stats": 1}}
        status, text = await get("/nowhere")
        assert status == 404 and set(json.loads(text)) == {"error", "detail"}

    serve(api(engine, settings), scenario)


def test_an_empty_database_is_not_ready(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka_bootstrap=None, schema_registry_url=None,
                        database_url=f"sqlite:///{tmp_path / 'empty.db'}", pii_hmac_key=KEY)
    engine = make_engine(settings.database_url, sqlite_begin="DEFERRED")

    async def scenario(get: Call) -> None:
        status, text = await get("/health")
        assert status == 200 and json.loads(text)["live_versions"]["portal"] is None
        status, text = await get(f"/portal/dossiers/{CODE_RESOLVED}")
        assert status == 503 and json.loads(text)["error"] == "not_ready"

    serve(api(engine, settings), scenario)
    engine.dispose()


def test_the_access_log_leaves_the_query_string_out(engine: Engine, settings: Settings,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        server = TestServer(api(engine, settings))
        await server.start_server(access_log_class=ApiAccessLogger)  # as `onestop api` does
        async with TestClient(server) as client:
            response = await client.get(
                f"/portal/dossiers/{CODE_RESOLVED}?id_number={APPLICANT.id_number}")
            assert response.status == 200

    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        asyncio.run(main())
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiohttp.access")
    assert f"/portal/dossiers/{CODE_RESOLVED}" in logged
    assert APPLICANT.id_number is not None and APPLICANT.id_number not in logged
