"""Which days a run owes each tenant, read from staging state (not from the scheduler's run list).

A day is settled once its voucher is posted, or empty. A tenant's due days run from its first unsettled
day on or after its start date up to the run's day, skipping settled ones, plus any earlier day whose
records changed since it was found empty, plus posted days with a pending correction (a change after
posting, or a forced re-post asked for: the load step posts its voucher) or with a later version not yet
in Tripletex (an interrupted correction or re-post: the load step finishes it). The initial import, a
missed night and a held day released later all take this one path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection, exists, or_, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.staging.schema import (
    pending_corrections,
    quarantine,
    tenants,
    transactions,
    vouchers,
)

SETTLED = (VoucherStatus.POSTED.value, VoucherStatus.EMPTY.value)
ONE_DAY = dt.timedelta(days=1)


def start_dates(conn: Connection, tenant_ids: Iterable[str]) -> dict[str, dt.date]:
    rows = conn.execute(
        select(tenants.c.tenant_id, tenants.c.start_date).where(tenants.c.tenant_id.in_(list(tenant_ids)))
    ).all()
    return {row.tenant_id: row.start_date for row in rows}


def voucher_states(
    conn: Connection, tenant_ids: Iterable[str], until: dt.date
) -> dict[str, dict[dt.date, str]]:
    """Each tenant's voucher status per day (version 1) up to `until`."""
    out: dict[str, dict[dt.date, str]] = {t: {} for t in tenant_ids}
    rows = conn.execute(
        select(vouchers.c.tenant_id, vouchers.c.local_date, vouchers.c.status).where(
            vouchers.c.tenant_id.in_(list(out)), vouchers.c.version == 1, vouchers.c.local_date <= until
        )
    )
    for row in rows:
        out[row.tenant_id][row.local_date] = row.status
    return out


def due_days(
    start: dt.date, until: dt.date, states: dict[dt.date, str], touched: Iterable[dt.date] = ()
) -> list[dt.date]:
    """Unsettled days from `start` to `until`, plus earlier days the extract touched that are not posted."""
    due, day = set(), start
    while day <= until:
        if states.get(day) not in SETTLED:
            due.add(day)
        day += ONE_DAY
    for day in touched:
        if start <= day <= until and states.get(day) != VoucherStatus.POSTED:
            due.add(day)
    return sorted(due)


def chosen_days(start: dt.date, until: dt.date, days: Iterable[dt.date]) -> list[dt.date]:
    """The days a backfill or the `day` param asks for, within the tenant's start date and `until`."""
    return sorted({d for d in days if start <= d <= until})


def correction_days(conn: Connection, tenant_ids: Iterable[str], until: dt.date) -> dict[str, set[dt.date]]:
    """Each tenant's days up to `until` with a change after posting not yet corrected (a forced re-post
    asked for included), with a later version (correction, re-post) not yet in Tripletex, or found empty
    before records of the day were staged (by a run that did not take the day, e.g. a backfill of others)."""
    out: dict[str, set[dt.date]] = {t: set() for t in tenant_ids}
    rows = conn.execute(
        select(pending_corrections.c.tenant_id, pending_corrections.c.local_date)
        .where(
            pending_corrections.c.tenant_id.in_(list(out)),
            pending_corrections.c.resolved_at.is_(None),
            pending_corrections.c.local_date <= until,
        )
        .distinct()
    )
    for row in rows:
        out[row.tenant_id].add(row.local_date)
    on_the_way = conn.execute(
        select(vouchers.c.tenant_id, vouchers.c.local_date)
        .where(
            vouchers.c.tenant_id.in_(list(out)),
            vouchers.c.version > 1,
            vouchers.c.status.in_((VoucherStatus.READY.value, VoucherStatus.POSTING.value)),
            vouchers.c.local_date <= until,
        )
        .distinct()
    )
    for row in on_the_way:
        out[row.tenant_id].add(row.local_date)
    filled = conn.execute(
        select(vouchers.c.tenant_id, vouchers.c.local_date)
        .where(
            vouchers.c.tenant_id.in_(list(out)),
            vouchers.c.version == 1,
            vouchers.c.status == VoucherStatus.EMPTY.value,
            vouchers.c.local_date <= until,
            or_(
                exists().where(
                    transactions.c.tenant_id == vouchers.c.tenant_id,
                    transactions.c.local_date == vouchers.c.local_date,
                    transactions.c.staged_at > vouchers.c.updated_at,
                ),
                exists().where(
                    quarantine.c.tenant_id == vouchers.c.tenant_id,
                    quarantine.c.local_date == vouchers.c.local_date,
                    quarantine.c.released_at.is_(None),
                    quarantine.c.received_at > vouchers.c.updated_at,
                ),
            ),
        )
        .distinct()
    )
    for row in filled:
        out[row.tenant_id].add(row.local_date)
    return out
