"""The mapping version a tenant-day is built with: its posted voucher's, else the one in force."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.tenants.store import StoredMapping, mapping_in_force, stored_mapping


def mapping_for_day(conn: Connection, tenant: str, day: dt.date) -> StoredMapping | None:
    """The mapping a day is posted with: the one its first posted voucher recorded, else the one in force
    (a mapping imported later never rewrites a posted day)."""
    recorded = conn.execute(
        select(vouchers.c.mapping_version_id)
        .where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.local_date == day,
            vouchers.c.status.in_((VoucherStatus.POSTING, VoucherStatus.POSTED)),
            vouchers.c.mapping_version_id.is_not(None),
        )
        .order_by(vouchers.c.version)
        .limit(1)
    ).scalar()
    if recorded is not None:
        return stored_mapping(conn, recorded)
    return mapping_in_force(conn, tenant, day)
