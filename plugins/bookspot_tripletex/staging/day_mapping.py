"""The mapping version a tenant-day is built with: its posted voucher's, else the one in force."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.tenants.store import StoredMapping, mapping_in_force, stored_mapping

POSTED_ONCE = (VoucherStatus.POSTING, VoucherStatus.POSTED, VoucherStatus.REVERSED)


def mapping_for_day(conn: Connection, tenant: str, day: dt.date) -> StoredMapping | None:
    """The mapping a day is posted with: the one its first live posted voucher recorded, else the one its
    newest reversed voucher had (a re-post keeps it), else the one in force (a mapping imported later never
    rewrites a posted day)."""
    recorded = posted_mapping_id(conn, tenant, day)
    if recorded is not None:
        return stored_mapping(conn, recorded)
    return mapping_in_force(conn, tenant, day)


def posted_mapping_id(conn: Connection, tenant: str, day: dt.date) -> int | None:
    """The mapping version id the day was posted with, or None when it never was."""
    rows = conn.execute(
        select(vouchers.c.status, vouchers.c.mapping_version_id)
        .where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.local_date == day,
            vouchers.c.status.in_(POSTED_ONCE),
            vouchers.c.mapping_version_id.is_not(None),
        )
        .order_by(vouchers.c.version)
    ).all()
    live = [r.mapping_version_id for r in rows if r.status != VoucherStatus.REVERSED]
    if live:
        return int(live[0])
    return int(rows[-1].mapping_version_id) if rows else None
