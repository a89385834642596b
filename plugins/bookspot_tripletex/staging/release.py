"""Releasing a held day: the data team posts it without its quarantined records, which stay kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, update

from bookspot_tripletex.staging.schema import quarantine


def release_day(
    conn: Connection, tenant: str, day: dt.date, released_by: str, now: dt.datetime | None = None
) -> int:
    """Mark the day's quarantined records released; they are never posted as they are, and a corrected
    version that arrives later is staged (and, the day being posted, recorded as a pending correction)."""
    if not released_by.strip():
        raise ValueError("say who releases the day")
    result = conn.execute(
        update(quarantine)
        .where(
            quarantine.c.tenant_id == tenant,
            quarantine.c.local_date == day,
            quarantine.c.released_at.is_(None),
        )
        .values(
            released_at=now or dt.datetime.now(dt.UTC), released_by=f"day released by {released_by.strip()}"
        )
    )
    return result.rowcount
