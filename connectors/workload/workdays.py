"""Vietnamese working calendar, due dates and the generator's notion of time.

Times inside the generator are plain ints: seconds since 1970-01-01T00:00 *local time*
(Asia/Ho_Chi_Minh, a fixed UTC+07:00 since 1975), so ordering local times orders instants.
Dates are proleptic Gregorian ordinals (``date.toordinal()``). Only :func:`iso` and
:func:`iso_date` turn them into the contract's text form.

Holidays follow the Labour Code 2019: 1/1, Tết (five working days around the lunar new
year), Giỗ Tổ Hùng Vương (10/3 lunar), 30/4, 1/5 and 2/9 plus one adjacent day; a fixed
holiday on a weekend is compensated on the next working day; one "bridge" day per year is
taken off and made up on a Saturday (the swapped working day).
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "CLOSE",
    "DAY",
    "OPEN",
    "WorkCalendar",
    "iso",
    "iso_date",
    "local_seconds",
    "ordinal_of",
    "public_holidays",
    "time_at",
]

DAY = 86_400
OPEN = 7 * 3600 + 30 * 60  # 07:30 local
CLOSE = 17 * 3600  # 17:00 local
_EPOCH = date(1970, 1, 1).toordinal()

# First day of the lunar year (Tết) and Giỗ Tổ Hùng Vương (10/3 lunar), by year.
_TET = {
    2019: (2, 5),
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
}
_HUNG_KINGS = {
    2019: (4, 14),
    2020: (4, 2),
    2021: (4, 21),
    2022: (4, 10),
    2023: (4, 29),
    2024: (4, 18),
    2025: (4, 7),
    2026: (4, 26),
    2027: (4, 16),
    2028: (4, 4),
    2029: (4, 23),
    2030: (4, 12),
    2031: (5, 1),
}
# Second day of the National Day holiday, by the weekday of 2/9 (Monday = 0).
_NATIONAL_DAY_SECOND = {0: 3, 1: 1, 2: 1, 3: 3, 4: 1, 5: 1, 6: 3}


def local_seconds(day: date, seconds: int = 0) -> int:
    """Local time ``seconds`` after midnight of ``day``."""
    return (day.toordinal() - _EPOCH) * DAY + seconds


def time_at(ordinal: int, seconds: int = 0) -> int:
    """Local time ``seconds`` after midnight of the date ``ordinal``."""
    return (ordinal - _EPOCH) * DAY + seconds


def ordinal_of(t: int) -> int:
    """The local calendar date (ordinal) of local time ``t``."""
    return _EPOCH + t // DAY


@lru_cache(maxsize=8192)
def iso_date(ordinal: int) -> str:
    """``YYYY-MM-DD`` of a date ordinal."""
    return date.fromordinal(ordinal).isoformat()


@lru_cache(maxsize=1)
def _clock_texts() -> tuple[str, ...]:
    """``THH:MM:SS+07:00`` for every second of a day (built once, ~5 MB)."""
    return tuple(f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+07:00" for s in range(DAY))


def iso(t: int) -> str:
    """ISO 8601 with the +07:00 offset, e.g. ``2025-03-04T09:15:00+07:00``."""
    days, secs = divmod(t, DAY)
    return iso_date(_EPOCH + days) + _clock_texts()[secs]


def public_holidays(year: int) -> tuple[list[date], list[date]]:
    """The weekday holidays of ``year`` and its swapped (working) Saturdays, both sorted."""
    tet = date(year, *_TET.get(year, (2, 5)))
    fixed = [
        date(year, 1, 1),
        date(year, *_HUNG_KINGS.get(year, (4, 15))),
        date(year, 4, 30),
        date(year, 5, 1),
        date(year, 9, 2),
        date(year, 9, _NATIONAL_DAY_SECOND[date(year, 9, 2).weekday()]),
    ]
    off: set[date] = {tet + timedelta(days=k) for k in range(-2, 5)}
    off.update(fixed)
    for day in fixed:  # compensate fixed holidays that fall on a weekend
        if day.weekday() >= 5:
            extra = day + timedelta(days=7 - day.weekday())
            while extra in off or extra.weekday() >= 5:
                extra += timedelta(days=1)
            off.add(extra)
    swapped: list[date] = []
    for day in (fixed[2], fixed[3], fixed[4], fixed[0], fixed[1]):
        bridge = None
        if day.weekday() == 1 and day - timedelta(days=1) not in off:
            bridge, saturday = day - timedelta(days=1), day + timedelta(days=4)
        elif day.weekday() == 3 and day + timedelta(days=1) not in off:
            bridge, saturday = day + timedelta(days=1), day - timedelta(days=5)
            if saturday.year != year:
                saturday = day + timedelta(days=9)
        if bridge is not None:
            off.add(bridge)
            swapped.append(saturday)
            break
    holidays = sorted(d for d in off if d.weekday() < 5 and d.year == year)
    return holidays, swapped


class WorkCalendar:
    """Working days from the year before ``year`` to two years after, with due-date maths."""

    def __init__(self, year: int) -> None:
        self.year = year
        off: set[int] = set()
        extra: set[int] = set()
        for y in range(year - 1, year + 3):
            holidays, swapped = public_holidays(y)
            off.update(d.toordinal() for d in holidays)
            extra.update(d.toordinal() for d in swapped)
        first, last = date(year - 1, 1, 1).toordinal(), date(year + 2, 12, 31).toordinal()
        self.first = first
        self.workdays: list[int] = [
            o
            for o in range(first, last + 1)
            if o in extra or (date.fromordinal(o).weekday() < 5 and o not in off)
        ]
        self.index: dict[int, int] = {o: i for i, o in enumerate(self.workdays)}

    def is_working(self, ordinal: int) -> bool:
        """Whether the offices work on that date."""
        return ordinal in self.index

    def next_index(self, ordinal: int) -> int:
        """Index of the first working day on or after ``ordinal``."""
        return bisect_left(self.workdays, ordinal)

    def add_working_days(self, ordinal: int, n: int) -> int:
        """The ``n``-th working day after ``ordinal`` (``n`` = 0: on or after it)."""
        i = self.next_index(ordinal)
        if n > 0 and self.workdays[i] == ordinal:
            i += 1
            n -= 1
        return self.workdays[min(i + n, len(self.workdays) - 1)]

    def open_at(self, t: int) -> int:
        """``t`` if the offices are open then, otherwise the next opening (07:30)."""
        o, secs = ordinal_of(t), t % DAY
        if o in self.index and OPEN <= secs < CLOSE:
            return t
        i = self.next_index(o + 1 if secs >= CLOSE else o)
        return (self.workdays[i] - _EPOCH) * DAY + OPEN

    def due(self, t_received: int, value: int, unit: str) -> int | None:
        """The due instant for a time limit, or None when the limit is 0 (no deadline).

        Day-based limits end at 17:00 local on the due date; a calendar-day limit that
        ends on a day off moves to the next working day; hours count office hours.
        """
        if value <= 0:
            return None
        received = ordinal_of(t_received)
        if unit == "WORKING_DAY":
            o = self.add_working_days(received, value)
        elif unit == "CALENDAR_DAY":
            o = self.add_working_days(received + value, 0)
        else:
            remaining, cursor = value * 3600, self.open_at(t_received)
            while True:
                left = CLOSE - cursor % DAY
                if remaining <= left:
                    return cursor + remaining
                remaining -= left
                cursor = self.open_at(cursor + left)
        return (o - _EPOCH) * DAY + CLOSE

    def shift(self, t: int, working_days: int) -> int:
        """The same local time of day, ``working_days`` working days later."""
        o = self.add_working_days(ordinal_of(t), working_days)
        return (o - _EPOCH) * DAY + t % DAY
