"""Reporting periods (kỳ báo cáo): the `--period` syntax of `onestop stats`.

A period is an inclusive range of local calendar dates (Asia/Ho_Chi_Minh). CONTRACT.md names
four spellings, and only these are accepted:

| text                     | period                          |
|--------------------------|---------------------------------|
| `2020`                   | 2020-01-01 .. 2020-12-31        |
| `2020-Q4`                | 2020-10-01 .. 2020-12-31        |
| `2020-11`                | 2020-11-01 .. 2020-11-30        |
| `2020-11-01..2020-11-30` | the two dates, both included    |

Anything else raises `ValueError` naming the text and the accepted forms. Pure: no clock.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

__all__ = ["ACCEPTED_FORMS", "Period", "parse_period"]

ACCEPTED_FORMS = (
    "YYYY (2020), YYYY-Qn (2020-Q4), YYYY-MM (2020-11) "
    "or YYYY-MM-DD..YYYY-MM-DD (2020-11-01..2020-11-30)"
)

_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of local dates, `start` <= `end`."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(
                f"period start {self.start.isoformat()} is after its end {self.end.isoformat()}"
            )

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def as_json(self) -> dict[str, str]:
        """The CONTRACT's `"period"` object: `{"from": ..., "to": ...}` as ISO dates."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def _invalid(text: str, why: str = "") -> ValueError:
    detail = f" ({why})" if why else ""
    return ValueError(f"invalid period {text!r}{detail}; expected {ACCEPTED_FORMS}")


def _month(text: str, year: int, month: int) -> Period:
    if not 1 <= month <= 12:
        raise _invalid(text, f"no month {month:02d}")
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last))


def _year(text: str, digits: str) -> int:
    year = int(digits)
    if year < 1:
        raise _invalid(text, "no year 0000")
    return year


def parse_period(text: str) -> Period:
    """Parse one of CONTRACT.md's period spellings (surrounding blanks are ignored)."""
    if not isinstance(text, str):
        raise TypeError(f"period must be a string, not {type(text).__name__}")
    spelled = text.strip()
    if m := _YEAR.fullmatch(spelled):
        year = _year(text, m[1])
        return Period(date(year, 1, 1), date(year, 12, 31))
    if m := _QUARTER.fullmatch(spelled):
        year, quarter = _year(text, m[1]), int(m[2])
        first = _month(text, year, 3 * quarter - 2)
        return Period(first.start, _month(text, year, 3 * quarter).end)
    if m := _MONTH.fullmatch(spelled):
        return _month(text, _year(text, m[1]), int(m[2]))
    if m := _RANGE.fullmatch(spelled):
        try:
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        except ValueError as exc:
            raise _invalid(text, str(exc)) from exc
        if start > end:
            raise _invalid(text, f"start {m[1]} is after end {m[2]}")
        return Period(start, end)
    raise _invalid(text)
