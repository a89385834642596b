"""Incremental extract windows: a per-tenant watermark on updated_at, re-read with an overlap."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from bookspot_tripletex.staging.schema import extract_watermarks, tenants
from bookspot_tripletex.staging.upsert import upsert
from bookspot_tripletex.timeutil import as_utc, day_bounds


def extract_window(
    conn: Connection, tenant_id: str, now: dt.datetime, overlap: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """[from, to): from the watermark minus the overlap, or from the tenant's start date at first."""
    mark = conn.execute(
        select(extract_watermarks.c.updated_to).where(extract_watermarks.c.tenant_id == tenant_id)
    ).scalar()
    if mark is None:
        row = conn.execute(
            select(tenants.c.start_date, tenants.c.timezone).where(tenants.c.tenant_id == tenant_id)
        ).one()
        from zoneinfo import ZoneInfo

        start, _ = day_bounds(row.start_date, ZoneInfo(row.timezone))
        return start, as_utc(now)
    return as_utc(mark) - overlap, as_utc(now)


def save_watermark(conn: Connection, tenant_id: str, updated_to: dt.datetime, now: dt.datetime) -> None:
    upsert(
        conn,
        extract_watermarks,
        [{"tenant_id": tenant_id, "updated_to": as_utc(updated_to), "updated_at": now}],
        ["tenant_id"],
        ["updated_to", "updated_at"],
        only_if_newer="updated_to",
    )
