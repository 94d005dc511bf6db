"""Local calendar dates for reporting: Asia/Ho_Chi_Minh, a fixed UTC+07:00 with no DST.

Every date a projection reports (receipt, due, end, status-history dates) is the local
calendar date of a UTC instant. The offset is fixed (Vietnam has had no DST since 1975), so
no time-zone database is needed and the result never depends on the machine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

__all__ = ["LOCAL_OFFSET", "LOCAL_TZ", "local_date", "utc"]

LOCAL_OFFSET = timedelta(hours=7)
LOCAL_TZ = timezone(LOCAL_OFFSET, "Asia/Ho_Chi_Minh")


def local_date(instant: datetime) -> date:
    """The Asia/Ho_Chi_Minh calendar date of an aware instant.

    A naive datetime is refused: the contract's times are instants, and guessing a zone
    would silently shift dates by a day around midnight.
    """
    offset = instant.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {instant.isoformat()} has no offset")
    return (instant - offset + LOCAL_OFFSET).date()


def utc(instant: datetime) -> datetime:
    """The same instant as an aware UTC datetime (naive input is refused)."""
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()} has no offset")
    return instant.astimezone(UTC)
