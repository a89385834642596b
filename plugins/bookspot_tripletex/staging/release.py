"""Releasing held records: the data team posts days without them; released records stay kept.

A record whose day cannot be read (no UTC offset, an unreadable time) holds every unposted day of its
tenant; releasing any day, or the record by its id, releases it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Connection, or_, update

from bookspot_tripletex.staging.schema import quarantine

WHO_LENGTH = 100
"""Room left in `released_by` (200 characters) after the note around the name."""
NOTE_LENGTH = 200
"""`released_by` keeps who and why up to this many characters."""


def _release(
    conn: Connection, tenant: str, which: ColumnElement[bool], note: str, now: dt.datetime | None
) -> int:
    result = conn.execute(
        update(quarantine)
        .where(quarantine.c.tenant_id == tenant, quarantine.c.released_at.is_(None), which)
        .values(released_at=now or dt.datetime.now(dt.UTC), released_by=note[:NOTE_LENGTH])
    )
    return result.rowcount


def _who(released_by: str) -> str:
    who = released_by.strip()
    if not who:
        raise ValueError("say who releases the records")
    if len(who) > WHO_LENGTH or "\x00" in who:
        raise ValueError(f"who releases: at most {WHO_LENGTH} characters, no NUL")
    return who


def _why(reason: str | None) -> str:
    if reason is None:
        return ""
    why = " ".join(reason.split())
    if not why:
        raise ValueError("say why the records are released")
    if "\x00" in why:
        raise ValueError("why: no NUL")
    return f": {why}"


def release_day(
    conn: Connection,
    tenant: str,
    day: dt.date,
    released_by: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Mark the day's quarantined records, and those without a day, released (by whom and why); they are
    never posted as they are, and a corrected version that arrives later is staged (and, the day being
    posted, recorded as a pending correction)."""
    who, why = _who(released_by), _why(reason)
    which = or_(quarantine.c.local_date == day, quarantine.c.local_date.is_(None))
    return _release(conn, tenant, which, f"day {day.isoformat()} released by {who}{why}", now)


def release_record(
    conn: Connection,
    tenant: str,
    record_id: str,
    released_by: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Release every held version of one record (by its BookSpot transaction id), whatever its day."""
    who, why = _who(released_by), _why(reason)
    return _release(conn, tenant, quarantine.c.record_id == record_id, f"record released by {who}{why}", now)
