"""A small read-only HTTP API over the live projections (`onestop api`).

`create_api(engine, settings)` returns an `aiohttp.web.Application`. Every request reads the
*live* version of the projection it needs (`projections.store.live_version`, looked up per
request, so a replay swapped in is picked up at once) with SQLAlchemy Core selects on the
store's view tables, in a worker thread (`asyncio.to_thread`): the event loop never blocks on
the database. Nothing is ever written; pass an engine made with
`make_engine(url, sqlite_begin="DEFERRED")` so SQLite reads take no write lock.

- `GET /health` → `{"status": "ok", "live_versions": {"portal": 1, ...}}` (null: not
  built yet; "ok" means the database answers).
- `GET /portal/dossiers/{dossier_code}[?id_number=]` → the citizen's lookup (no PII).
- `GET /portal/procedures?sector=&q=&service_level=&include_abolished=&limit=&offset=` →
  catalogue search, each procedure with its active per-agency applications.
- `GET /portal/procedures/{procedure_code}` → one procedure: documents, fee, time limit,
  legal bases, every per-agency application.
- `GET /onestop/{agency_code}/dossiers?status=&role=&limit=&offset=` → that agency's
  dossiers, **with applicant data**.
- `GET /onestop/{agency_code}/procedures?limit=&offset=` → that agency's catalogue slice.
- `GET /stats?period=&agency=&sector=` → exactly the object `onestop stats --json` prints
  (same facts, same `compute_statistics`; `period` defaults to the current year).

Responses are JSON in UTF-8 (`ensure_ascii=False`). Instants are ISO 8601 in Vietnam's
local time (`2020-11-06T09:00:00+07:00`), dates `YYYY-MM-DD`. Lists are pages:
`{"total", "limit", "offset", "items"}`; `limit` defaults to 50 and is capped at
`MAX_LIMIT` (500). Errors are `{"error": <slug>, "detail": <message>}` with the status code:
400 bad parameter, 404 unknown (route, dossier, procedure), 405, 503 when a projection has
no live version yet or the database is unreachable, 500 otherwise (details only in the log).

**PII** (DESIGN principle 9):

- `/portal/*` and `/stats` are public and never return applicant data. The dossier lookup
  selects explicit, non-personal columns only; `id_number=` is hashed with the settings'
  key (`projections.policy.applicant_hmac`) and compared with `applicant_id_hmac`: a wrong ID
  number gives the same 404 as an unknown code, so the API does not reveal that a dossier
  exists. Should two dossiers ever share a code, the most recently updated one (that
  matches the ID number, when given) is returned. The ID number is never logged: use
  `ApiAccessLogger` (path without query string; `onestop api` does) and keep query strings
  out of any proxy's logs too.
- `/onestop/{agency_code}/*` is the department's own back office and returns the applicant's
  name, ID number, phone and email. **It must sit behind the department's authentication and
  authorisation (a reverse proxy, mTLS, an API gateway): none is implemented here**, and an
  agency must only ever reach its own `agency_code`. A public deployment must not mount these
  routes: `create_api(..., include_onestop=False)` (`onestop api --portal-only`).

Search (`q`) is a substring match on the procedure name, case- and accent-insensitive
("giay phep" finds "Giấy phép"), done in Python so SQLite and PostgreSQL agree. Procedures
abolished on or before today are left out unless `include_abolished=true`. A search item
lists the procedure's *active* applications; the detail lists all, with `active`.
`/onestop/{agency_code}/...` of an agency with no rows is an empty page, not a 404.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from sqlalchemy import Connection, Engine, RowMapping, Table, exists, func, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select

from projections.lifecycle import STATUS_NAMES
from projections.localtime import LOCAL_TZ, local_date
from projections.period import Period, parse_period
from projections.policy import applicant_hmac
from projections.records import PROJECTIONS
from projections.statistics import compute_statistics
from projections.stats_facts import StatsFacts
from projections.store import ProjectionStore, live_version
from projections.store.meta import VERSIONS

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SERVICE_LEVELS",
    "ApiAccessLogger",
    "ApiSettings",
    "create_api",
]

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500
SERVICE_LEVELS: Final = ("INFO", "PARTIAL_ONLINE", "FULL_ONLINE")
ROLES: Final = ("CURRENT", "PREVIOUS")

T = TypeVar("T")

_log = logging.getLogger(__name__)
_dumps = functools.partial(json.dumps, ensure_ascii=False)


class ApiSettings(Protocol):
    """What the API needs of `streams.settings.Settings` (connectors never import streams)."""

    @property
    def pii_hmac_key(self) -> str: ...


class ApiError(Exception):
    """An error response: HTTP `status`, a machine-readable `error` slug, a human `detail`."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


class ApiAccessLogger(AbstractAccessLogger):
    """Access log without the query string (it may hold `id_number`): method, path, status."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %s %.1fms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _error(status: int, error: str, detail: str) -> web.Response:
    return _json({"error": error, "detail": detail}, status=status)


# -- values ------------------------------------------------------------------------------


def _instant(value: datetime | None) -> str | None:
    """A UTC instant as ISO 8601 in +07:00 (milliseconds only when there are some)."""
    if value is None:
        return None
    local = value.astimezone(LOCAL_TZ)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _fold(text: str) -> str:
    """Case- and accent-free form for search: "Giấy phép Đăng ký" → "giay phep dang ky"."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# -- query parameters --------------------------------------------------------------------


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


def _int(
    request: web.Request, name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ApiError(400, "bad_parameter", f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ApiError(400, "bad_parameter", f"{name} must be at most {maximum}, got {value}")
    return value


def _bool(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ApiError(400, "bad_parameter", f"{name}={raw!r}: expected true or false")


def _choice(request: web.Request, name: str, allowed: Sequence[str]) -> str | None:
    value = _text(request, name)
    if value is not None and value.upper() not in allowed:
        raise ApiError(
            400, "bad_parameter", f"{name}={value!r}: expected one of {', '.join(allowed)}"
        )
    return None if value is None else value.upper()


@dataclass(frozen=True, slots=True)
class _Page:
    limit: int
    offset: int

    @classmethod
    def of(cls, request: web.Request) -> _Page:
        limit = min(_int(request, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        return cls(limit, _int(request, "offset", 0, minimum=0))

    def body(self, total: int, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"total": total, "limit": self.limit, "offset": self.offset, "items": items}


# -- reading the live projections (runs in worker threads) -------------------------------


class _Reader:
    """Finds each projection's live tables; one `ProjectionStore` per (projection, version).

    Building a store only builds SQLAlchemy `Table` objects: nothing touches the database.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stores: dict[tuple[str, int], ProjectionStore] = {}
        self._versions_table_seen = False

    def versions(self, conn: Connection) -> dict[str, int | None]:
        if not self._versions_table_seen:
            if not inspect(conn).has_table(VERSIONS.name):
                return dict.fromkeys(PROJECTIONS)
            self._versions_table_seen = True  # shared tables are never dropped
        return {p: live_version(conn, p) for p in PROJECTIONS}

    def store(self, conn: Connection, projection: str) -> ProjectionStore:
        """The live version's store; 503 when there is no live version."""
        version = self.versions(conn)[projection]
        if version is None:
            raise ApiError(
                503,
                "not_ready",
                f"projection {projection!r} has no live version yet; run `onestop worker`",
            )
        key = (projection, version)
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = ProjectionStore(self.engine, projection, version)
        return store

    def tables(self, conn: Connection, projection: str) -> dict[str, Table]:
        """The live version's view tables by name (without the `<p>_v<n>_` prefix)."""
        return self.store(conn, projection).tables.views

    def run(self, work: Callable[[Connection], T]) -> Awaitable[T]:
        """`work(conn)` in one read-only transaction (rolled back) in a worker thread.

        The transaction is one snapshot: SQLite's deferred read transaction is one already,
        PostgreSQL gets REPEATABLE READ, so the live version and every table a request reads
        (all of the stats facts, say) agree even while a worker commits.
        """

        def in_thread() -> T:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execution_options(
                        isolation_level="REPEATABLE READ", postgresql_readonly=True
                    )
                return work(conn)

        return asyncio.to_thread(in_thread)


def _applications(
    conn: Connection, t: Mapping[str, Table], codes: Iterable[str], *, active_only: bool
) -> dict[str, list[dict[str, Any]]]:
    """Per procedure code, its agency applications (with the agency's name), by agency code."""
    pa, ag = t["procedure_agencies"], t["agencies"]
    wanted = list(codes)
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in wanted}
    if not wanted:
        return out
    stmt = (
        select(pa, ag.c.name.label("agency_name"))
        .select_from(pa.outerjoin(ag, ag.c.agency_code == pa.c.agency_code))
        .where(pa.c.procedure_code.in_(wanted))
        .order_by(pa.c.procedure_code, pa.c.agency_code)
    )
    if active_only:
        stmt = stmt.where(pa.c.active.is_(True))
    for row in conn.execute(stmt).mappings():
        item = {
            "agency_code": row["agency_code"],
            "agency_name": row["agency_name"],
            "level": row["level"],
            "service_level": row["service_level"],
            "online_payment": row["online_payment"],
            "dvcqg_integrated": row["dvcqg_integrated"],
            "effective_from": _day(row["effective_from"]),
        }
        if not active_only:
            item["active"] = row["active"]
        out[row["procedure_code"]].append(item)
    return out


def _procedure_select(t: Mapping[str, Table]) -> Select[Any]:
    p, s = t["procedures"], t["sectors"]
    return select(p, s.c.name.label("sector_name")).select_from(
        p.outerjoin(s, s.c.sector_code == p.c.sector_code)
    )


def _procedure_summary(row: RowMapping) -> dict[str, Any]:
    return {
        "procedure_code": row["procedure_code"],
        "name": row["name"],
        "sector_code": row["sector_code"],
        "sector_name": row["sector_name"],
        "levels": json.loads(row["levels"]),
        "time_limit": {"value": row["time_limit_value"], "unit": row["time_limit_unit"]},
        "fee_vnd": row["fee_vnd"],
        "abolished_from": _day(row["abolished_from"]),
    }


# -- the application ---------------------------------------------------------------------


class _Handlers:
    def __init__(self, engine: Engine, hmac_key: bytes, clock: Callable[[], datetime]) -> None:
        self.reader = _Reader(engine)
        self.hmac_key = hmac_key
        self.clock = clock

    # /health

    async def health(self, request: web.Request) -> web.Response:
        versions = await self.reader.run(self.reader.versions)
        return _json({"status": "ok", "live_versions": versions})

    # /portal

    async def dossier(self, request: web.Request) -> web.Response:
        code = request.match_info["dossier_code"]
        id_number = request.query.get("id_number")
        id_hmac: str | None = None
        if id_number is not None:
            if not id_number.strip():
                raise ApiError(400, "bad_parameter", "id_number must not be blank")
            id_hmac = applicant_hmac(self.hmac_key, id_number)

        def work(conn: Connection) -> dict[str, Any] | None:
            t = self.reader.tables(conn, "portal")
            d, p, a = t["dossiers"], t["procedures"], t["agencies"]
            # explicit non-personal columns only: the portal's public lookup
            stmt = (
                select(
                    d.c.dossier_code, d.c.procedure_code, p.c.name.label("procedure_name"),
                    d.c.agency_code, a.c.name.label("agency_name"), d.c.status,
                    d.c.received_at, d.c.due_at, d.c.resolved_at, d.c.on_time_state,
                    d.c.updated_at,
                )
                .select_from(
                    d.outerjoin(p, p.c.procedure_code == d.c.procedure_code).outerjoin(
                        a, a.c.agency_code == d.c.agency_code
                    )
                )
                .where(d.c.dossier_code == code)
                .order_by(d.c.updated_at.desc(), d.c.dossier_id)
                .limit(1)
            )
            if id_hmac is not None:
                stmt = stmt.where(d.c.applicant_id_hmac == id_hmac)
            row = conn.execute(stmt).mappings().first()
            return None if row is None else dict(row)

        row = await self.reader.run(work)
        if row is None:  # same answer for "unknown" and "ID number does not match"
            raise ApiError(404, "not_found", f"no dossier {code!r} matches")
        return _json({
            "dossier_code": row["dossier_code"],
            "procedure": {"code": row["procedure_code"], "name": row["procedure_name"]},
            "agency": {"code": row["agency_code"], "name": row["agency_name"]},
            "status": {"code": row["status"], "name": STATUS_NAMES.get(row["status"])},
            "received_at": _instant(row["received_at"]),
            "due_at": _instant(row["due_at"]),
            "resolved_at": _instant(row["resolved_at"]),
            "on_time_state": row["on_time_state"],
            "updated_at": _instant(row["updated_at"]),
        })

    async def procedures(self, request: web.Request) -> web.Response:
        sector = _text(request, "sector")
        q = _text(request, "q")
        service_level = _choice(request, "service_level", SERVICE_LEVELS)
        include_abolished = _bool(request, "include_abolished")
        page = _Page.of(request)
        today = local_date(self.clock())
        needle = None if q is None else _fold(q)

        def work(conn: Connection) -> dict[str, Any]:
            t = self.reader.tables(conn, "portal")
            p, pa = t["procedures"], t["procedure_agencies"]
            stmt = _procedure_select(t).order_by(p.c.procedure_code)
            if sector is not None:
                stmt = stmt.where(p.c.sector_code == sector)
            if not include_abolished:
                stmt = stmt.where((p.c.abolished_from.is_(None)) | (p.c.abolished_from > today))
            if service_level is not None:
                stmt = stmt.where(
                    exists().where(
                        pa.c.procedure_code == p.c.procedure_code,
                        pa.c.active.is_(True),
                        pa.c.service_level == service_level,
                    )
                )
            rows = [
                r for r in conn.execute(stmt).mappings()
                if needle is None or needle in _fold(r["name"])
            ]
            chosen = rows[page.offset : page.offset + page.limit]
            apps = _applications(
                conn, t, (r["procedure_code"] for r in chosen), active_only=True
            )
            items = [
                {**_procedure_summary(r), "applications": apps[r["procedure_code"]]}
                for r in chosen
            ]
            return page.body(len(rows), items)

        return _json(await self.reader.run(work))

    async def procedure(self, request: web.Request) -> web.Response:
        code = request.match_info["procedure_code"]

        def work(conn: Connection) -> dict[str, Any] | None:
            t = self.reader.tables(conn, "portal")
            p = t["procedures"]
            row = conn.execute(
                _procedure_select(t).where(p.c.procedure_code == code)
            ).mappings().first()
            if row is None:
                return None
            return {
                **_procedure_summary(row),
                "documents": json.loads(row["documents"]),
                "legal_bases": json.loads(row["legal_bases"]),
                "decision_ref": row["decision_ref"],
                "effective_from": _day(row["effective_from"]),
                "version": row["version"],
                "applications": _applications(conn, t, [code], active_only=False)[code],
            }

        body = await self.reader.run(work)
        if body is None:
            raise ApiError(404, "not_found", f"no procedure {code!r}")
        return _json(body)

    # /onestop (applicant data: behind the department's auth, see the module docstring)

    async def agency_dossiers(self, request: web.Request) -> web.Response:
        agency = request.match_info["agency_code"]
        status = _int(request, "status", 0, minimum=1, maximum=max(STATUS_NAMES))
        role = _choice(request, "role", ROLES)
        page = _Page.of(request)

        def work(conn: Connection) -> dict[str, Any]:
            t = self.reader.tables(conn, "onestop")
            ad, ap = t["agency_dossiers"], t["agency_procedures"]
            where = [ad.c.agency_code == agency]
            if status:
                where.append(ad.c.status == status)
            if role is not None:
                where.append(ad.c.role == role)
            total = conn.execute(select(func.count()).select_from(ad).where(*where)).scalar_one()
            stmt = (
                select(ad, ap.c.procedure_name)
                .select_from(
                    ad.outerjoin(
                        ap,
                        (ap.c.agency_code == ad.c.agency_code)
                        & (ap.c.procedure_code == ad.c.procedure_code),
                    )
                )
                .where(*where)
                .order_by(ad.c.updated_at.desc(), ad.c.dossier_id)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [
                {
                    "dossier_id": r["dossier_id"],
                    "dossier_code": r["dossier_code"],
                    "role": r["role"],
                    "procedure": {"code": r["procedure_code"], "name": r["procedure_name"]},
                    "status": {"code": r["status"], "name": STATUS_NAMES.get(r["status"])},
                    "channel": r["channel"],
                    "received_at": _instant(r["received_at"]),
                    "due_at": _instant(r["due_at"]),
                    "forwarded_from": r["forwarded_from"],
                    "updated_at": _instant(r["updated_at"]),
                    "applicant": {
                        "kind": r["applicant_kind"],
                        "name": r["applicant_name"],
                        "id_number": r["applicant_id_number"],
                        "phone": r["applicant_phone"],
                        "email": r["applicant_email"],
                    },
                }
                for r in conn.execute(stmt).mappings()
            ]
            return page.body(total, items)

        return _json(await self.reader.run(work))

    async def agency_procedures(self, request: web.Request) -> web.Response:
        agency = request.match_info["agency_code"]
        page = _Page.of(request)

        def work(conn: Connection) -> dict[str, Any]:
            ap = self.reader.tables(conn, "onestop")["agency_procedures"]
            where = ap.c.agency_code == agency
            total = conn.execute(select(func.count()).select_from(ap).where(where)).scalar_one()
            stmt = (
                select(ap)
                .where(where)
                .order_by(ap.c.procedure_code)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [
                {
                    "procedure_code": r["procedure_code"],
                    "procedure_name": r["procedure_name"],
                    "sector_code": r["sector_code"],
                    "level": r["level"],
                    "service_level": r["service_level"],
                    "online_payment": r["online_payment"],
                    "dvcqg_integrated": r["dvcqg_integrated"],
                    "effective_from": _day(r["effective_from"]),
                    "active": r["active"],
                }
                for r in conn.execute(stmt).mappings()
            ]
            return page.body(total, items)

        return _json(await self.reader.run(work))

    # /stats

    async def stats(self, request: web.Request) -> web.Response:
        now = self.clock()
        text = _text(request, "period") or str(now.astimezone(UTC).year)
        try:
            period: Period = parse_period(text)
        except ValueError as exc:
            raise ApiError(400, "bad_period", str(exc)) from None
        agency, sector = _text(request, "agency"), _text(request, "sector")

        def work(conn: Connection) -> dict[str, Any]:
            # the same path as `onestop stats --json` (streams.compose.load_stats_facts)
            store = self.reader.store(conn, "stats")
            tables = {name: store.read_rows(conn, name) for name in store.tables.specs}
            return compute_statistics(
                StatsFacts.from_rows(tables),
                period,
                agency=agency,
                sector=sector,
                as_of=now.astimezone(UTC).isoformat(timespec="seconds"),
            )

        return _json(await self.reader.run(work))


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error as `{"error", "detail"}` JSON; internals only in the log."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, exc.error, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug = (exc.reason or "error").lower().replace(" ", "_")
        detail = f"{request.method} {request.path}: {exc.reason}"
        response = _error(exc.status, slug, detail)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except OperationalError:
        _log.exception("database unavailable on %s %s", request.method, request.path)
        return _error(503, "database_unavailable", "the projection store cannot be reached")
    except Exception:
        _log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "unexpected error; see the server log")


def create_api(
    engine: Engine,
    settings: ApiSettings,
    *,
    include_onestop: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """The read-only API over `engine`'s live projections (see the module docstring).

    `include_onestop=False` leaves out `/onestop/*`, the routes with applicant data.
    `clock` (UTC-aware `datetime`) is for tests: `/stats`'s `as_of` and default period, and
    "today" for abolished procedures.
    """
    h = _Handlers(
        engine, settings.pii_hmac_key.encode("utf-8"), clock or (lambda: datetime.now(UTC))
    )
    app = web.Application(middlewares=[_errors])
    routes = [
        web.get("/health", h.health),
        web.get("/portal/dossiers/{dossier_code}", h.dossier),
        web.get("/portal/procedures", h.procedures),
        web.get("/portal/procedures/{procedure_code}", h.procedure),
        web.get("/stats", h.stats),
    ]
    if include_onestop:
        routes += [
            web.get("/onestop/{agency_code}/dossiers", h.agency_dossiers),
            web.get("/onestop/{agency_code}/procedures", h.agency_procedures),
        ]
    app.add_routes(routes)
    return app
