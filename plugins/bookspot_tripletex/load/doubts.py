"""Where a draft of ours may be left in Tripletex's non-posted list, kept in staging (`draft_doubts`).

A doubt is written, in the transaction that notes the request, before each draft `POST`, and deleted
once that POST's answer is recorded on the row (or it was refused: nothing was made). A POST without a
clear answer, a process killed after it, a lease lost before its answer was recorded, or a draft that
could not be deleted leave their doubt. Reconciliation lists a day's drafts (`GET >nonPosted`) only
while the day has a doubt, deletes ours once the day has its effective voucher, and clears the doubts
older than the settling margin when that listing left no draft of ours (a late draft can land after a
lagging listing: a younger doubt is listed again by the next reconciliation).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection, Engine, delete, select

from bookspot_tripletex.load.state import VoucherRow
from bookspot_tripletex.staging.schema import draft_doubts

log = logging.getLogger(__name__)


def add_doubt(conn: Connection, row: VoucherRow, posting_date: dt.date, reason: str) -> int:
    result = conn.execute(
        draft_doubts.insert().values(
            tenant_id=row.tenant,
            local_date=row.date,
            posting_date=posting_date,
            external_number=row.external_number,
            reason=reason,
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    return int(result.inserted_primary_key[0])


def drop_doubt(engine: Engine, doubt_id: int) -> None:
    """The POST's answer is recorded: its doubt goes (best effort: a doubt left only costs a listing)."""
    try:
        with engine.begin() as conn:
            conn.execute(delete(draft_doubts).where(draft_doubts.c.id == doubt_id))
    except Exception as exc:
        log.warning("draft doubt %s not cleared (%s); reconciliation lists the day's drafts", doubt_id, exc)


def doubted_days(conn: Connection, tenant: str) -> dict[dt.date, set[dt.date]]:
    """Each day with a doubt, and the dates its drafts may carry."""
    out: dict[dt.date, set[dt.date]] = {}
    for day, posting in conn.execute(
        select(draft_doubts.c.local_date, draft_doubts.c.posting_date).where(
            draft_doubts.c.tenant_id == tenant
        )
    ):
        out.setdefault(day, set()).add(posting)
    return out


def clear_doubts(conn: Connection, tenant: str, days: set[dt.date], before: dt.datetime) -> int:
    """Doubts of these days written before `before` (older than the settling margin at the listing)."""
    if not days:
        return 0
    result = conn.execute(
        delete(draft_doubts).where(
            draft_doubts.c.tenant_id == tenant,
            draft_doubts.c.local_date.in_(sorted(days)),
            draft_doubts.c.created_at < before,
        )
    )
    return int(result.rowcount or 0)
