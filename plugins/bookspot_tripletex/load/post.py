"""Post a tenant-day's validated voucher to Tripletex exactly once, then the corrections it needs.

`post_day` posts the day's version (through `send.post_row`, the one posting protocol) and, once the
day is in the ledger, its pending corrections. Outcomes and errors are those of `send`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.load.corrections import post_corrections
from bookspot_tripletex.load.send import (
    POSTED_OR_REVERSED,
    DayRefused,
    Outcome,
    TripletexLike,
    VoucherBusy,
    as_voucher,
    post_row,
    summary,
)
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.tenants.config import TenantConfig

__all__ = [
    "DayRefused",
    "Outcome",
    "TripletexLike",
    "VoucherBusy",
    "as_voucher",
    "post_day",
    "post_row",
    "summary",
]


def post_day(
    engine: Engine,
    tenant: TenantConfig,
    day: dt.date,
    client: TripletexLike | None,
    claimant: str,
    dry_run: bool = False,
    version: int = 1,
    reconcile: bool = True,
) -> dict[str, Any]:
    """Post the day's `ready` voucher, then any correction it needs; read both back."""
    with engine.begin() as conn:
        row = get_voucher(conn, tenant.tenant, day, version)
    if row is None:
        raise LookupError(f"{tenant.tenant} {day}: no voucher built yet (run the journal step first)")
    result = post_row(engine, tenant, row, client, claimant, dry_run=dry_run, reconcile=reconcile)
    if version == 1 and not dry_run and client is not None and result["status"] in POSTED_OR_REVERSED:
        corrections = post_corrections(engine, tenant, day, client, claimant)
        if corrections:
            result["corrections"] = corrections
    return result
