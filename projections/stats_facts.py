"""The `stats` view's fact rows as the statistics read them, and the rounding rule.

One frozen value per table of docs/projections.md ("stats"). `from_row` accepts a row dict as
a store returns it: JSON columns as text (or already decoded lists), dates as `date` objects
or `YYYY-MM-DD` strings, booleans as `bool` or 0/1. A malformed row raises `ValueError`
naming the table and the column. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

__all__ = [
    "CHANNELS",
    "GOV_LEVELS",
    "SERVICE_LEVELS",
    "AgencyFact",
    "ApplicationVersion",
    "DossierFact",
    "ProcedureVersion",
    "SectorFact",
    "StatsFacts",
    "half_up",
]

CHANNELS = frozenset({"IN_PERSON", "ONLINE", "POSTAL"})
GOV_LEVELS = frozenset({"PROVINCE", "DISTRICT", "COMMUNE"})
SERVICE_LEVELS: tuple[str, ...] = ("INFO", "PARTIAL_ONLINE", "FULL_ONLINE")
"""Lowest to highest: an entry's service level is the highest of its applications'."""
END_KINDS = frozenset({"RESOLVED", "WITHDRAWN"})
_SERVICE_LEVEL_SET = frozenset(SERVICE_LEVELS)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# --- rounding ----------------------------------------------------------------------------


def half_up(numerator: int, denominator: int, scale: int = 100) -> float | None:
    """`scale × numerator / denominator` rounded half-up to two decimals; None over 0.

    Computed in integers (hundredths), so it is exact for any counts: no binary float and
    no 28-digit `Decimal` context can round twice. Equal to
    `Decimal(scale * n / d).quantize(Decimal("0.01"), ROUND_HALF_UP)`, emitted as float.
    """
    if denominator == 0:
        return None
    if numerator < 0 or denominator < 0:
        raise ValueError(f"negative ratio {numerator}/{denominator}")
    hundredths = (2 * 100 * scale * numerator + denominator) // (2 * denominator)
    return hundredths / 100


# --- row coercion ------------------------------------------------------------------------


@lru_cache(maxsize=16384)
def _iso_date(text: str) -> date:
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a YYYY-MM-DD date")
    return date.fromisoformat(text)


def _bad(table: str, column: str, value: object, expected: str) -> ValueError:
    return ValueError(f"{table}.{column}: expected {expected}, got {value!r}")


def _required(row: Mapping[str, Any], table: str, column: str) -> Any:
    try:
        return row[column]
    except KeyError:
        raise ValueError(f"{table}: missing column {column!r}") from None


def _to_date(value: object, table: str, column: str) -> date:
    if type(value) is date:
        return value
    if isinstance(value, str):
        try:
            return _iso_date(value)
        except ValueError as exc:
            raise _bad(table, column, value, "a YYYY-MM-DD date") from exc
    if isinstance(value, datetime):  # a local date stored as midnight by a lax driver
        if value.time() != datetime.min.time() or value.tzinfo is not None:
            raise _bad(table, column, value, "a date, not an instant")
        return value.date()
    if isinstance(value, date):
        return value
    raise _bad(table, column, value, "a date")


def _date(row: Mapping[str, Any], table: str, column: str) -> date:
    value = _required(row, table, column)
    if value is None:
        raise _bad(table, column, value, "a date")
    return _to_date(value, table, column)


def _opt_date(row: Mapping[str, Any], table: str, column: str) -> date | None:
    value = row.get(column)
    return None if value is None else _to_date(value, table, column)


def _str(row: Mapping[str, Any], table: str, column: str) -> str:
    value = _required(row, table, column)
    if not isinstance(value, str) or not value:
        raise _bad(table, column, value, "a non-empty string")
    return value


def _opt_str(row: Mapping[str, Any], table: str, column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(table, column, value, "a string or null")
    return value


def _symbol(row: Mapping[str, Any], table: str, column: str, allowed: frozenset[str]) -> str:
    value = _required(row, table, column)
    if not isinstance(value, str) or value not in allowed:
        raise _bad(table, column, value, "one of " + ", ".join(sorted(allowed)))
    return str(value)


def _int(row: Mapping[str, Any], table: str, column: str) -> int:
    value = _required(row, table, column)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(table, column, value, "an integer")
    return value


def _bool(row: Mapping[str, Any], table: str, column: str) -> bool:
    value = _required(row, table, column)
    if value is True or value is False:
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(table, column, value, "a boolean (or 0/1)")


def _json_list(row: Mapping[str, Any], table: str, column: str) -> Sequence[Any]:
    value = row.get(column)
    if value is None:
        return ()
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _bad(table, column, value, "JSON text") from exc
    if not isinstance(value, list | tuple):
        raise _bad(table, column, value, "a JSON list")
    return value


# --- facts -------------------------------------------------------------------------------

_DOSSIERS = "dossier_facts"


@dataclass(frozen=True, slots=True)
class DossierFact:
    """One row of `dossier_facts`: a dossier's reporting dates, status history and payments.

    `status_history` holds `(local date, national status)` pairs in order of change;
    `obligation_on` the dates of each `FinancialObligationRequested`; `online_paid_on` the
    date of the first online `PaymentCompleted`.
    """

    dossier_id: str
    procedure_code: str
    agency_code: str
    handling_agency_code: str | None
    channel: str
    received_on: date | None
    due_on: date | None
    end_on: date | None
    end_kind: str | None
    outcome: str | None
    status: int
    status_history: tuple[tuple[date, int], ...]
    obligation_on: tuple[date, ...]
    online_paid_on: date | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DossierFact:
        """Parse a `dossier_facts` row; `ValueError` naming the column if it is malformed.

        Rows are parsed by a lean path first (a province-year is ~0.8 M rows); anything it
        does not recognise as well-formed goes through the validating path, which either
        accepts it the same way or raises the precise error.
        """
        try:
            return _clean_dossier(cls, row)
        except (_Unclean, KeyError, TypeError, ValueError):
            return _checked_dossier(cls, row)

    def status_on(self, day: date) -> int | None:
        """The national status at the end of `day`: the last history entry dated <= day."""
        for changed_on, status in reversed(self.status_history):
            if changed_on <= day:
                return status
        return None


class _Unclean(Exception):
    """The lean path met something it does not handle; the checked path decides."""


def _clean_day(value: object) -> date:
    if type(value) is str:
        return _iso_date(value)
    if type(value) is date:
        return value
    raise _Unclean


def _clean_opt_day(value: object) -> date | None:
    return None if value is None else _clean_day(value)


def _clean_text(value: object) -> str:
    if type(value) is str and value:
        return value
    raise _Unclean


def _clean_opt_text(value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Unclean


def _clean_list(raw: object) -> list[Any] | tuple[Any, ...]:
    if raw is None or raw == "[]":
        return ()
    if type(raw) is str:
        raw = json.loads(raw)
    if type(raw) is list or type(raw) is tuple:
        return raw
    raise _Unclean


def _clean_dossier(cls: type[DossierFact], row: Mapping[str, Any]) -> DossierFact:
    get = row.get
    history = tuple(
        [(_clean_day(day), status) for day, status in _clean_list(get("status_history"))]
    )
    if not all(type(status) is int for _, status in history):
        raise _Unclean
    obligations = tuple([_clean_day(day) for day in _clean_list(get("obligation_on"))])
    end_on, end_kind = _clean_opt_day(get("end_on")), get("end_kind")
    if end_kind not in END_KINDS if end_on is not None else end_kind is not None:
        raise _Unclean
    channel, status = row["channel"], row["status"]
    if channel not in CHANNELS or type(status) is not int:
        raise _Unclean
    return cls(
        _clean_text(row["dossier_id"]),
        _clean_text(row["procedure_code"]),
        _clean_text(row["agency_code"]),
        _clean_opt_text(get("handling_agency_code")),
        channel,
        _clean_opt_day(get("received_on")),
        _clean_opt_day(get("due_on")),
        end_on,
        end_kind,
        _clean_opt_text(get("outcome")),
        status,
        history,
        obligations,
        _clean_opt_day(get("online_paid_on")),
    )


def _checked_dossier(cls: type[DossierFact], row: Mapping[str, Any]) -> DossierFact:
    t = _DOSSIERS
    history: list[tuple[date, int]] = []
    for entry in _json_list(row, t, "status_history"):
        if not (isinstance(entry, list | tuple) and len(entry) == 2):
            raise _bad(t, "status_history", entry, '["YYYY-MM-DD", status] pairs')
        day, status = entry
        if isinstance(status, bool) or not isinstance(status, int):
            raise _bad(t, "status_history", entry, "an integer status")
        history.append((_to_date(day, t, "status_history"), status))
    obligations = tuple(
        _to_date(d, t, "obligation_on") for d in _json_list(row, t, "obligation_on")
    )
    end_on = _opt_date(row, t, "end_on")
    end_kind = _opt_str(row, t, "end_kind")
    if (end_on is None) != (end_kind is None) or (end_kind and end_kind not in END_KINDS):
        raise ValueError(
            f"{t}.end_kind: expected RESOLVED or WITHDRAWN together with end_on (or both "
            f"null), got end_kind={end_kind!r}, end_on={end_on}"
        )
    return cls(
        dossier_id=_str(row, t, "dossier_id"),
        procedure_code=_str(row, t, "procedure_code"),
        agency_code=_str(row, t, "agency_code"),
        handling_agency_code=_opt_str(row, t, "handling_agency_code"),
        channel=_symbol(row, t, "channel", CHANNELS),
        received_on=_opt_date(row, t, "received_on"),
        due_on=_opt_date(row, t, "due_on"),
        end_on=end_on,
        end_kind=end_kind,
        outcome=_opt_str(row, t, "outcome"),
        status=_int(row, t, "status"),
        status_history=tuple(history),
        obligation_on=obligations,
        online_paid_on=_opt_date(row, t, "online_paid_on"),
    )


@dataclass(frozen=True, slots=True)
class ApplicationVersion:
    """One row of `application_versions`: a (procedure, agency) application from a day on."""

    procedure_code: str
    agency_code: str
    seq: int
    valid_from: date
    level: str
    service_level: str
    online_payment: bool
    dvcqg_integrated: bool
    active: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ApplicationVersion:
        t = "application_versions"
        return cls(
            procedure_code=_str(row, t, "procedure_code"),
            agency_code=_str(row, t, "agency_code"),
            seq=_int(row, t, "seq"),
            valid_from=_date(row, t, "valid_from"),
            level=_symbol(row, t, "level", GOV_LEVELS),
            service_level=_symbol(row, t, "service_level", _SERVICE_LEVEL_SET),
            online_payment=_bool(row, t, "online_payment"),
            dvcqg_integrated=_bool(row, t, "dvcqg_integrated"),
            active=_bool(row, t, "active"),
        )


@dataclass(frozen=True, slots=True)
class ProcedureVersion:
    """One row of `procedure_versions`: a procedure's sector and whether it is in force."""

    procedure_code: str
    seq: int
    valid_from: date
    sector_code: str
    active: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ProcedureVersion:
        t = "procedure_versions"
        return cls(
            procedure_code=_str(row, t, "procedure_code"),
            seq=_int(row, t, "seq"),
            valid_from=_date(row, t, "valid_from"),
            sector_code=_str(row, t, "sector_code"),
            active=_bool(row, t, "active"),
        )


@dataclass(frozen=True, slots=True)
class AgencyFact:
    """One row of `agency_facts`."""

    agency_code: str
    kind: str
    parent_code: str | None
    dissolved_from: date | None
    successor_code: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AgencyFact:
        t = "agency_facts"
        return cls(
            agency_code=_str(row, t, "agency_code"),
            kind=_str(row, t, "kind"),
            parent_code=_opt_str(row, t, "parent_code"),
            dissolved_from=_opt_date(row, t, "dissolved_from"),
            successor_code=_opt_str(row, t, "successor_code"),
        )

    def dissolved_on(self, day: date) -> bool:
        return self.dissolved_from is not None and self.dissolved_from <= day


@dataclass(frozen=True, slots=True)
class SectorFact:
    """One row of `sector_facts`."""

    sector_code: str
    name: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SectorFact:
        t = "sector_facts"
        return cls(sector_code=_str(row, t, "sector_code"), name=_str(row, t, "name"))


@dataclass(frozen=True, slots=True)
class StatsFacts:
    """Everything `compute_statistics` reads: the five fact tables of the `stats` view."""

    dossiers: Sequence[DossierFact] = ()
    applications: Sequence[ApplicationVersion] = ()
    procedures: Sequence[ProcedureVersion] = ()
    agencies: Sequence[AgencyFact] = ()
    sectors: Sequence[SectorFact] = ()

    @classmethod
    def from_rows(cls, tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> StatsFacts:
        """Build from `{table name: rows}` (names without the `stats_v<n>_` prefix).

        The cyclic garbage collector is paused while the (acyclic) facts are built: at a
        province-year's ~0.8 M dossiers its repeated full passes cost a third of the time.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return cls._from_rows(tables)
        finally:
            if paused:
                gc.enable()

    @classmethod
    def _from_rows(cls, tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> StatsFacts:
        return cls(
            dossiers=[DossierFact.from_row(r) for r in tables.get("dossier_facts", ())],
            applications=[
                ApplicationVersion.from_row(r) for r in tables.get("application_versions", ())
            ],
            procedures=[ProcedureVersion.from_row(r) for r in tables.get("procedure_versions", ())],
            agencies=[AgencyFact.from_row(r) for r in tables.get("agency_facts", ())],
            sectors=[SectorFact.from_row(r) for r in tables.get("sector_facts", ())],
        )
