"""The load step's listings, kept in staging for reconciliation (`ledger_reads`): saved by
`load/ledger.py` after a tenant's days, compared by `load/reconcile.py` in its own process, deleted by a
clean reconciliation. Nothing secret is kept: vouchers of ours as Tripletex listed them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from bookspot_tripletex import settings
from bookspot_tripletex.staging.schema import ledger_reads

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
    """Keep one listing of [start, end) asked at `read_at`; `vouchers`: ours of it."""
    with engine.begin() as conn:
        conn.execute(
            ledger_reads.insert().values(
                tenant_id=tenant,
                kind=LISTING,
                date_from=start,
                date_to=end,
                read_at=read_at,
                vouchers=_jsonable(vouchers),
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
