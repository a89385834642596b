"""UTC instants and tenant-local days (Europe/Oslo by default, DST included), and days as Norwegians
read them."""

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


DAY_PATTERN = "dd.MM.yyyy"


def day_text(day: dt.date | str | None) -> str:
    """A day as Norwegians write it (Babel, nb-NO): 2026-11-24 -> "24.11.2026". An ISO string is read
    first; text that is not a day is returned as it is, None as ""."""
    from babel.dates import format_date

    if day is None:
        return ""
    if isinstance(day, str):
        try:
            day = dt.date.fromisoformat(day)
        except ValueError:
            return day
    if isinstance(day, dt.datetime):
        day = day.date()
    return format_date(day, DAY_PATTERN, locale="nb_NO")


def moment_text(value: dt.datetime | str | None, tz: str = "Europe/Oslo") -> str:
    """An instant as Norwegians write it, in local time: "24.11.2026 01:02". An ISO string is read first
    (naive taken as UTC); text that is not an instant is returned as it is, None as ""."""
    from babel.dates import format_datetime

    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return format_datetime(as_utc(value), "dd.MM.yyyy HH:mm", tzinfo=ZoneInfo(tz), locale="nb_NO")
