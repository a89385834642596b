"""The load step's one listing per tenant and night, kept in staging for reconciliation (`ledger_reads`).

After a tenant's days are posted, `read_for_reconcile` plans what this night's reconciliation will
check (the same plan: days touched since the last clean reconciliation, less the settling margin, and
the rolling pass) and lists their vouchers with the load's own session: one `GET /ledger/voucher` per
run of nearby dates (one for a night's days; a rolling pass far back adds one). What it lists is saved;
reconciliation, in its own process, compares with that and calls Tripletex only for what the load did
not read (a range not covered, or a day changed after the listing). Nothing secret is saved: vouchers of
ours as Tripletex listed them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from bookspot_tripletex import settings
from bookspot_tripletex.staging.schema import ledger_reads

log = logging.getLogger(__name__)

LISTING = "listing"


@dataclass(frozen=True)
class Listing:
    start: dt.date
    end: dt.date
    read_at: dt.datetime
    vouchers: list[dict[str, Any]]

    def covers(self, start: dt.date, end: dt.date) -> bool:
        return self.start <= start and end <= self.end


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def save_listing(
    engine: Engine, tenant: str, start: dt.date, end: dt.date, read_at: dt.datetime, vouchers: list[dict]
) -> None:
    from bookspot_tripletex.load.reconcile import day_of

    ours = [v for v in vouchers if day_of(tenant, v.get("externalVoucherNumber")) is not None]
    with engine.begin() as conn:
        conn.execute(
            ledger_reads.insert().values(
                tenant_id=tenant,
                kind=LISTING,
                date_from=start,
                date_to=end,
                read_at=read_at,
                vouchers=_jsonable(ours),
            )
        )


def saved_listings(conn: Connection, tenant: str, now: dt.datetime) -> list[Listing]:
    """The tenant's listings younger than `settings.ledger_read_max_age_seconds()`, newest first."""
    oldest = now - dt.timedelta(seconds=settings.ledger_read_max_age_seconds())
    rows = conn.execute(
        select(ledger_reads)
        .where(
            ledger_reads.c.tenant_id == tenant,
            ledger_reads.c.kind == LISTING,
            ledger_reads.c.read_at >= oldest,
        )
        .order_by(ledger_reads.c.read_at.desc(), ledger_reads.c.id.desc())
    )
    return [Listing(r.date_from, r.date_to, _aware(r.read_at), list(r.vouchers or [])) for r in rows]


def forget_reads(engine: Engine, tenant: str, before: dt.datetime) -> None:
    """A clean reconciliation used what was read before its start: those reads go."""
    with engine.begin() as conn:
        conn.execute(
            delete(ledger_reads).where(ledger_reads.c.tenant_id == tenant, ledger_reads.c.read_at < before)
        )


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
    from bookspot_tripletex.load.reconcile import plan_for_tonight

    now = now or dt.datetime.now(dt.UTC)
    ranges_, calls = plan_for_tonight(engine, tenant_id, client, today or dt.date.today(), now, days)
    listed = []
    for start, end in ranges_:
        read_at = dt.datetime.now(dt.UTC)
        found = client.list_vouchers(start, end, fields=_fields())
        calls += 1
        save_listing(engine, tenant_id, start, end, read_at, found)
        listed.append([start.isoformat(), end.isoformat()])
    log.info(
        "%s: listed %d range(s) for reconciliation in %d Tripletex call(s)", tenant_id, len(listed), calls
    )
    return {"tenant": tenant_id, "ranges": listed, "calls": calls}


def _fields() -> str:
    from bookspot_tripletex.load.protocol import VOUCHER_FIELDS

    return VOUCHER_FIELDS


def _jsonable(value: Any) -> Any:
    """Tripletex's amounts are read as Decimal; JSON keeps them as text, as Tripletex sends them."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
