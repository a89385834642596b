"""Incremental extract windows: a per-tenant watermark on updated_at, re-read with an overlap."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from bookspot_tripletex.staging.schema import extract_watermarks, tenants
from bookspot_tripletex.staging.upsert import upsert
from bookspot_tripletex.timeutil import as_utc, day_bounds


def tenant_start(conn: Connection, tenant_id: str) -> dt.datetime:
    """The first instant of the tenant's start date in its time zone, in UTC."""
    row = conn.execute(
        select(tenants.c.start_date, tenants.c.timezone).where(tenants.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        raise LookupError(f"tenant {tenant_id!r} is not imported")
    start, _ = day_bounds(row.start_date, ZoneInfo(row.timezone))
    return start


def get_watermark(conn: Connection, tenant_id: str) -> dt.datetime | None:
    mark = conn.execute(
        select(extract_watermarks.c.updated_to).where(extract_watermarks.c.tenant_id == tenant_id)
    ).scalar()
    return None if mark is None else as_utc(mark)


def extract_window(
    conn: Connection, tenant_id: str, now: dt.datetime, overlap: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """[from, to) in UTC: from the watermark minus the overlap (never before the tenant's start date),
    or from the start date on the first extract; to is `now`.

    The overlap re-reads recent changes, so one that BookSpot made visible late is still seen; the
    latest version of each id wins in staging, so re-reading costs nothing else. A watermark ahead of
    `now` (a clock set back) gives an empty window rather than an inverted one.
    """
    if overlap < dt.timedelta(0):
        raise ValueError("the overlap cannot be negative")
    now = as_utc(now)
    start = tenant_start(conn, tenant_id)
    mark = get_watermark(conn, tenant_id)
    updated_from = start if mark is None else max(mark - overlap, start)
    return min(updated_from, now), now


def save_watermark(conn: Connection, tenant_id: str, updated_to: dt.datetime, now: dt.datetime) -> None:
    """Record that everything updated before `updated_to` is staged; a watermark never moves back."""
    upsert(
        conn,
        extract_watermarks,
        [{"tenant_id": tenant_id, "updated_to": as_utc(updated_to), "updated_at": as_utc(now)}],
        ["tenant_id"],
        ["updated_to", "updated_at"],
        only_if_newer="updated_to",
    )
