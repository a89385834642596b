"""The load step's one listing per tenant and night, kept in staging for reconciliation (`load/reads.py`).

After a tenant's days are posted, `read_for_reconcile` plans what this night's reconciliation will
check (the same plan: days touched since the last clean reconciliation, less the settling margin, days
with a doubt about a draft, and the rolling pass) and lists their vouchers with the load's own session:
one `GET /ledger/voucher` per run of nearby dates (one for a night's days; a rolling pass far back adds
one). Our vouchers of each listing are saved; reconciliation, in its own process, compares with them and
calls Tripletex only for what the load did not read (a range not covered, or a day changed after the
listing).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.load.protocol import VOUCHER_FIELDS
from bookspot_tripletex.load.reads import save_listing
from bookspot_tripletex.load.reconcile import day_of, plan_for_tonight

log = logging.getLogger(__name__)


def read_for_reconcile(
    engine: Engine,
    tenant_id: str,
    client: Any,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    days: int | None = None,
) -> dict[str, Any]:
    """List what this night's reconciliation of the tenant will check (with `days`: what one asked to
    check the last `days` days too will), with the load's client, and save it; returns the ranges listed
    and the calls made."""
    now = now or dt.datetime.now(dt.UTC)
    ranges_, calls = plan_for_tonight(engine, tenant_id, client, today or dt.date.today(), now, days)
    listed = []
    for start, end in ranges_:
        read_at = dt.datetime.now(dt.UTC)
        found = client.list_vouchers(start, end, fields=VOUCHER_FIELDS)
        calls += 1
        ours = [v for v in found if day_of(tenant_id, v.get("externalVoucherNumber")) is not None]
        save_listing(engine, tenant_id, start, end, read_at, ours)
        listed.append([start.isoformat(), end.isoformat()])
    log.info(
        "%s: listed %d range(s) for reconciliation in %d Tripletex call(s)", tenant_id, len(listed), calls
    )
    return {"tenant": tenant_id, "ranges": listed, "calls": calls}
