"""Corrections of posted days: the difference between the day's journal now and what Tripletex holds.

A record changed after its day was posted (update, void, late arrival) leaves a `pending_corrections`
row. The correction voucher of that day is the journal built now, with the mapping version the day was
posted with, minus everything posted for the day so far (the day and its earlier corrections), per
account and VAT type. It is its own voucher (version 2, 3, ... with its own externalVoucherNumber),
posted by the same protocol; a closed period moves it to the first open date. Its row keeps the journal
it was built from, so the report can name the records that changed since the version before. A forced
re-post reverses the day's live vouchers and posts the whole journal again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.journal.model import Posting, external_number
from bookspot_tripletex.load.errors import DayRefused, VoucherBusy
from bookspot_tripletex.load.state import VoucherRow, day_versions, next_version
from bookspot_tripletex.staging.schema import pending_corrections, vouchers
from bookspot_tripletex.tenants.config import TenantConfig

log = logging.getLogger(__name__)

IN_FLIGHT = (VoucherStatus.READY, VoucherStatus.POSTING)


def posted_totals(rows: list[VoucherRow]) -> Counter[tuple[int, int]]:
    """Øre per (account, VAT type) of the day's live vouchers in the ledger."""
    totals: Counter[tuple[int, int]] = Counter()
    for row in rows:
        if row.status == VoucherStatus.POSTED:
            for p in row.postings:
                totals[(p.account, p.vat_type)] += p.amount_ore
    return totals


def journal_totals(journal: Any) -> Counter[tuple[int, int]] | None:
    """Øre per (account, VAT type) of the day's journal now; None while the day is held."""
    if journal.status == "empty" or journal.voucher is None:
        return Counter() if journal.status == "empty" else None
    totals: Counter[tuple[int, int]] = Counter()
    for p in journal.voucher.postings:
        totals[(p.account, p.vat_type)] += p.amount_ore
    return totals


def pending(conn: Connection, tenant: str, day: dt.date) -> list[int]:
    return list(
        conn.execute(
            select(pending_corrections.c.id).where(
                pending_corrections.c.tenant_id == tenant,
                pending_corrections.c.local_date == day,
                pending_corrections.c.resolved_at.is_(None),
            )
        ).scalars()
    )


def build_correction(
    conn: Connection, tenant: TenantConfig, day: dt.date, kind: str = "correction", note: str | None = None
) -> VoucherRow | None:
    """Save the day's next correction (`ready`) if the journal differs from what is posted; else None."""
    from bookspot_tripletex.journal.build import build_day

    rows = day_versions(conn, tenant.tenant, day)
    first = next((r for r in rows if r.version == 1), None)
    if first is None or first.mapping_version_id is None:
        return None
    if any(r.status in IN_FLIGHT for r in rows):
        return next(r for r in rows if r.status in IN_FLIGHT)
    journal = build_day(conn, tenant, day)
    mapping_version_id = journal.mapping_version_id if kind == "repost" else first.mapping_version_id
    if journal.mapping_version_id not in (None, mapping_version_id):
        raise DayRefused(
            f"{tenant.tenant} {day}: the journal's mapping is not the one the day was posted with"
        )
    now_totals = journal_totals(journal)
    if now_totals is None:
        log.info("%s %s: the day is held; its correction waits", tenant.tenant, day)
        return None
    diff = Counter(now_totals)
    diff.subtract(posted_totals(rows))
    lines = [(key, amount) for key, amount in sorted(diff.items()) if amount]
    now = dt.datetime.now(dt.UTC)
    ids = pending(conn, tenant.tenant, day)
    if not lines:
        _resolve(conn, ids, now)
        return None
    if sum(a for _, a in lines) != 0:
        raise DayRefused(f"{tenant.tenant} {day}: the correction does not balance; check the journal")
    version = next_version(conn, tenant.tenant, day)
    label = "Correction" if kind == "correction" else "Re-post"
    postings = [
        Posting(row=i, account=acc, vat_type=vat, amount_ore=amount, description=f"{label} {day.isoformat()}")
        for i, ((acc, vat), amount) in enumerate(lines, start=1)
    ]
    conn.execute(
        vouchers.insert().values(
            tenant_id=tenant.tenant,
            local_date=day,
            version=version,
            external_number=external_number(tenant.tenant, day, version),
            mapping_version_id=mapping_version_id,
            status=VoucherStatus.READY,
            kind=kind,
            postings=[p.as_record() for p in postings],
            journal=journal.as_record(),
            validation={"success": True, "checks": ["balance"]},
            note=note,
            updated_at=now,
        )
    )
    _resolve(conn, ids, now)
    from bookspot_tripletex.load.state import get_voucher

    row = get_voucher(conn, tenant.tenant, day, version)
    assert row is not None
    return row


def _resolve(conn: Connection, ids: list[int], now: dt.datetime) -> None:
    if ids:
        conn.execute(
            update(pending_corrections).where(pending_corrections.c.id.in_(ids)).values(resolved_at=now)
        )


def post_corrections(
    engine: Engine, tenant: TenantConfig, day: dt.date, client: Any, claimant: str
) -> list[dict[str, Any]]:
    """Post the day's unfinished corrections, and a new one if records changed since it was posted."""
    from bookspot_tripletex.load.send import post_row

    results = []
    with engine.begin() as conn:
        rows = day_versions(conn, tenant.tenant, day)
        waiting = [r for r in rows if r.version > 1 and r.status in IN_FLIGHT]
        if not waiting and pending(conn, tenant.tenant, day):
            built = build_correction(conn, tenant, day)
            waiting = [built] if built is not None else []
    for row in waiting:
        results.append(post_row(engine, tenant, row, client, claimant))
    return results


def force_repost(
    engine: Engine, tenant: TenantConfig, day: dt.date, client: Any, by: str, reason: str
) -> dict[str, Any]:
    """Reverse the day's vouchers in the ledger and post the whole journal again; who and why are recorded."""
    from bookspot_tripletex.load.protocol import VOUCHER_FIELDS, is_closed_period
    from bookspot_tripletex.load.send import check_company, post_row
    from bookspot_tripletex.tripletex.errors import TripletexError

    if not by or not reason:
        raise ValueError("a forced re-post needs who asks (--by) and why (--reason)")
    with engine.begin() as conn:
        rows = day_versions(conn, tenant.tenant, day)
    if any(r.status in IN_FLIGHT for r in rows):
        raise VoucherBusy(f"{tenant.tenant} {day}: a voucher of the day is being posted; force it afterwards")
    check_company(tenant, client)
    note = f"forced re-post by {by}: {reason}"
    reversed_ids = []
    for row in rows:
        if row.status != VoucherStatus.POSTED or row.tripletex_voucher_id is None:
            continue
        target = row.effective_date
        for _ in range(24):
            try:
                reversal = client.reverse_voucher(row.tripletex_voucher_id, target)
                break
            except TripletexError as exc:
                current = client.get_voucher(row.tripletex_voucher_id, VOUCHER_FIELDS)
                if current is not None and current.get("reverseVoucher"):
                    reversal = current["reverseVoucher"]
                    break
                if not is_closed_period(exc):
                    raise
                from bookspot_tripletex.load.send import first_open_after

                target = first_open_after(target)
        else:
            raise DayRefused(f"{row.external_number}: no open period to reverse it in")
        reversed_ids.append(int(reversal["id"]))
        with engine.begin() as conn:
            conn.execute(
                update(vouchers)
                .where(vouchers.c.id == row.id)
                .values(
                    status=VoucherStatus.REVERSED,
                    reversal_id=int(reversal["id"]),
                    note=f"{note} (reversed on {target.isoformat()})",
                    updated_at=dt.datetime.now(dt.UTC),
                )
            )
    with engine.begin() as conn:
        fresh = build_correction(conn, tenant, day, kind="repost", note=note)
    result: dict[str, Any] = {"reversed": reversed_ids, "by": by, "reason": reason}
    result["posted"] = post_row(engine, tenant, fresh, client, f"force:{by}") if fresh is not None else None
    return result
