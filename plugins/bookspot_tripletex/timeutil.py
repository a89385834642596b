"""UTC instants and tenant-local days (Europe/Oslo by default, DST included)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values (SQLite reads) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The half-open UTC interval of one local day (23 or 25 hours on DST days)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return as_utc(start), as_utc(end)


def iso_utc(value: dt.datetime) -> str:
    return as_utc(value).isoformat(timespec="microseconds")
