"""`onestop stats --period`: the four spellings of CONTRACT.md and nothing else."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.period import Period, parse_period


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2020", date(2020, 1, 1), date(2020, 12, 31)),
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2020-Q1", date(2020, 1, 1), date(2020, 3, 31)),
        ("2020-Q2", date(2020, 4, 1), date(2020, 6, 30)),
        ("2020-Q3", date(2020, 7, 1), date(2020, 9, 30)),
        ("2020-Q4", date(2020, 10, 1), date(2020, 12, 31)),
        ("2020-01", date(2020, 1, 1), date(2020, 1, 31)),
        ("2020-02", date(2020, 2, 1), date(2020, 2, 29)),  # leap year
        ("2021-02", date(2021, 2, 1), date(2021, 2, 28)),
        ("2000-02", date(2000, 2, 1), date(2000, 2, 29)),  # divisible by 400: leap
        ("2100-02", date(2100, 2, 1), date(2100, 2, 28)),  # divisible by 100: not leap
        ("2020-04", date(2020, 4, 1), date(2020, 4, 30)),
        ("2020-11", date(2020, 11, 1), date(2020, 11, 30)),
        ("2020-12", date(2020, 12, 1), date(2020, 12, 31)),
        ("2020-11-01..2020-11-30", date(2020, 11, 1), date(2020, 11, 30)),
        ("2020-11-06..2020-11-06", date(2020, 11, 6), date(2020, 11, 6)),  # one day
        ("2020-12-15..2021-01-15", date(2020, 12, 15), date(2021, 1, 15)),
        ("2024-02-29..2024-03-01", date(2024, 2, 29), date(2024, 3, 1)),
        ("  2020-Q4\n", date(2020, 10, 1), date(2020, 12, 31)),  # blanks around are ignored
    ],
)
def test_accepted_spellings(text: str, start: date, end: date) -> None:
    assert parse_period(text) == Period(start, end)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", ""),
        ("20", ""),
        ("20201", ""),
        ("0000", "no year 0000"),
        ("2020-Q0", ""),
        ("2020-Q5", ""),
        ("2020-q4", ""),  # the contract spells the quarter with a capital Q
        ("2020Q4", ""),
        ("2020-00", "no month 00"),
        ("2020-13", "no month 13"),
        ("2020-1", ""),
        ("2020/11", ""),
        ("2020-11-06", ""),  # a single date is not a contract spelling
        ("2020-11-01..", ""),
        ("..2020-11-30", ""),
        ("2020-11-01...2020-11-30", ""),
        ("2020-11-01 .. 2020-11-30", ""),
        ("2020-11-30..2020-11-01", "start 2020-11-30 is after end 2020-11-01"),
        ("2021-02-29..2021-03-01", "day is out of range"),
        ("2020-02-30..2020-03-01", "day is out of range"),
        ("20201101..20201130", ""),  # basic ISO format is not accepted
        ("last month", ""),
        ("2020-Q4..2020-Q4", ""),
    ],
)
def test_rejected_spellings_name_the_text_and_the_forms(text: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_period(text)
    message = str(caught.value)
    assert repr(text) in message
    assert "YYYY-Qn (2020-Q4)" in message and "YYYY-MM-DD..YYYY-MM-DD" in message
    assert why in message


def test_a_period_is_never_inverted() -> None:
    with pytest.raises(ValueError, match="after its end"):
        Period(date(2020, 2, 1), date(2020, 1, 31))


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_period(2020)  # type: ignore[arg-type]


def test_json_form_and_membership() -> None:
    period = parse_period("2020-Q4")
    assert period.as_json() == {"from": "2020-10-01", "to": "2020-12-31"}
    assert date(2020, 10, 1) in period and date(2020, 12, 31) in period
    assert date(2020, 9, 30) not in period and date(2021, 1, 1) not in period


@given(st.integers(1, 9999))
def test_year_is_its_four_quarters_and_twelve_months(year: int) -> None:
    text = f"{year:04d}"
    whole = parse_period(text)
    quarters = [parse_period(f"{text}-Q{q}") for q in range(1, 5)]
    months = [parse_period(f"{text}-{m:02d}") for m in range(1, 13)]
    for parts in (quarters, months):
        assert parts[0].start == whole.start and parts[-1].end == whole.end
        for before, after in pairwise(parts):
            assert (after.start - before.end).days == 1
    assert quarters[3] == Period(months[9].start, months[11].end)


@given(st.dates(), st.dates())
def test_explicit_range_round_trips(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    assert parse_period(f"{start.isoformat()}..{end.isoformat()}") == Period(start, end)
