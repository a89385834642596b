"""Read-back: what Tripletex holds for our vouchers against what staging says was posted.

After each post the voucher is read back by id; over the last N days one listing by date range per
tenant covers every day. Each of our externalVoucherNumbers must have exactly one live voucher in the
ledger (extras are reversed, recorded and reported), the recorded id must still be there and not
reversed by someone else, its postings must equal the journal (with the VAT rows Tripletex derived
balancing it), and no correction may be left pending. Any difference raises ReconcileMismatch in words.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, or_, select, update

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.journal.model import external_number
from bookspot_tripletex.load.errors import ReconcileMismatch
from bookspot_tripletex.load.protocol import VOUCHER_FIELDS
from bookspot_tripletex.load.state import VoucherRow
from bookspot_tripletex.staging.schema import pending_corrections, vouchers
from bookspot_tripletex.tenants.config import TenantConfig

log = logging.getLogger(__name__)

RECONCILE_DAYS = 14


def reconcile_days_setting() -> int:
    return int(os.environ.get("BOOKSPOT_RECONCILE_DAYS", RECONCILE_DAYS))


def _ore(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def differences(row: VoucherRow, voucher: dict[str, Any] | None) -> list[str]:
    """What differs between a posted row and the voucher Tripletex holds under its id, in words."""
    ext = row.external_number
    if voucher is None:
        return [f"{ext}: voucher {row.tripletex_voucher_id} is gone from Tripletex (deleted there)"]
    problems = []
    if voucher.get("reverseVoucher") and row.status == VoucherStatus.POSTED:
        problems.append(f"{ext}: voucher {voucher['id']} was reversed in Tripletex by someone else")
    postings = voucher.get("postings") or []
    held: Counter[tuple[int, int, int]] = Counter()
    net_total = 0
    for p in postings:
        net_total += _ore(p.get("amount", p.get("amountGross", 0)))
        if int(p.get("row") or 0) >= 1:
            vat = (p.get("vatType") or {}).get("number")
            held[(int(p["account"]["number"]), int(vat or 0), _ore(p["amountGross"]))] += 1
    wanted = Counter((p.account, p.vat_type, p.amount_ore) for p in row.postings)
    if held != wanted:
        missing = wanted - held
        extra = held - wanted
        bits = [
            f"missing {_words(missing)}" if missing else "",
            f"unexpected {_words(extra)}" if extra else "",
        ]
        problems.append(f"{ext}: postings differ from the journal: " + "; ".join(b for b in bits if b))
    if net_total != 0:
        problems.append(
            f"{ext}: net amounts with Tripletex's VAT rows sum to {net_total / 100:.2f} NOK, not 0"
        )
    return problems


def _words(lines: Counter[tuple[int, int, int]]) -> str:
    return ", ".join(
        f"account {acc} VAT {vat} {amount / 100:.2f} NOK" + (f" ×{n}" if n > 1 else "")
        for (acc, vat, amount), n in sorted(lines.items())
    )


def check_voucher(engine: Engine, client: Any, row: VoucherRow) -> None:
    """Read one just-posted voucher back by id; raise ReconcileMismatch if it is not what was posted."""
    assert row.tripletex_voucher_id is not None
    problems = differences(row, client.get_voucher(row.tripletex_voucher_id, VOUCHER_FIELDS))
    if problems:
        raise ReconcileMismatch("; ".join(problems))


def reconcile(
    engine: Engine,
    tenant: TenantConfig,
    client: Any,
    days: int | None = None,
    today: dt.date | None = None,
    repair: bool = False,
) -> dict[str, Any]:
    """Check the last `days` days of a tenant with one listing; reverse duplicates; raise on differences.

    With `repair`, a voucher deleted or reversed behind our back gets its day posted again (a new
    version carrying the whole journal, recorded with the reason) by the next load.
    """
    days = days if days is not None else reconcile_days_setting()
    today = today or dt.date.today()
    start = today - dt.timedelta(days=days)
    with engine.connect() as conn:
        rows = [
            VoucherRow.from_row(r)
            for r in conn.execute(
                select(vouchers).where(
                    vouchers.c.tenant_id == tenant.tenant,
                    or_(vouchers.c.local_date >= start, vouchers.c.posting_date >= start),
                )
            )
        ]
        open_pending = (
            conn.execute(
                select(pending_corrections.c.local_date).where(
                    pending_corrections.c.tenant_id == tenant.tenant,
                    pending_corrections.c.local_date >= start,
                    pending_corrections.c.resolved_at.is_(None),
                )
            )
            .scalars()
            .all()
        )
    end = max([today, *(r.effective_date for r in rows)]) + dt.timedelta(days=1)
    listed = client.list_vouchers(start, end, fields=VOUCHER_FIELDS)
    prefix = external_number(tenant.tenant, today, 1).rsplit(":", 2)[0] + ":"
    ours = {r.external_number for r in rows}
    by_ext: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in listed:
        ext = v.get("externalVoucherNumber") or ""
        if ext in ours or ext.startswith(prefix):
            by_ext[ext].append(v)
    by_id = {int(v["id"]): v for vs in by_ext.values() for v in vs}
    problems: list[str] = []
    reversed_extras: list[int] = []
    row_by_ext = {r.external_number: r for r in rows}
    for ext, found in sorted(by_ext.items()):
        live = sorted((v for v in found if not v.get("reverseVoucher")), key=lambda v: int(v["id"]))
        if len(live) <= 1:
            continue
        row = row_by_ext.get(ext)
        keep = (
            row.tripletex_voucher_id
            if row and row.tripletex_voucher_id in {int(v["id"]) for v in live}
            else None
        )
        keep = keep or int(live[0]["id"])
        for extra in live:
            if int(extra["id"]) == keep:
                continue
            reversal = client.reverse_voucher(int(extra["id"]), dt.date.fromisoformat(extra["date"]))
            reversed_extras.append(int(extra["id"]))
            problems.append(
                f"{ext}: duplicate voucher {extra['id']} found and reversed (by {reversal.get('id')})"
            )
            if row is not None:
                _note(engine, row, f"duplicate voucher {extra['id']} reversed by reconciliation")
    for row in rows:
        if row.status != VoucherStatus.POSTED or row.tripletex_voucher_id is None:
            continue
        found_problems = differences(row, by_id.get(row.tripletex_voucher_id))
        problems += found_problems
        gone = by_id.get(row.tripletex_voucher_id) is None or bool(
            by_id[row.tripletex_voucher_id].get("reverseVoucher")
        )
        if found_problems and gone and repair:
            _repost(engine, tenant, row, found_problems[0])
    in_flight = [
        r for r in rows if r.status in (VoucherStatus.READY, VoucherStatus.POSTING) and r.version > 1
    ]
    for day in sorted(set(open_pending)):
        problems.append(f"{tenant.tenant} {day}: a change after posting has no correction voucher yet")
    for r in in_flight:
        problems.append(f"{r.external_number}: correction not posted yet ({r.status})")
    result = {
        "tenant": tenant.tenant,
        "from": start.isoformat(),
        "to": today.isoformat(),
        "vouchers": len(by_id),
        "reversed_duplicates": reversed_extras,
        "problems": problems,
    }
    if problems:
        raise ReconcileMismatch(f"{tenant.tenant}: " + "; ".join(problems))
    return result


def _note(engine: Engine, row: VoucherRow, text: str) -> None:
    note = f"{row.note}; {text}" if row.note else text
    with engine.begin() as conn:
        conn.execute(
            update(vouchers)
            .where(vouchers.c.id == row.id)
            .values(note=note, updated_at=dt.datetime.now(dt.UTC))
        )


def _repost(engine: Engine, tenant: TenantConfig, row: VoucherRow, why: str) -> None:
    """The ledger lost the day's voucher: mark it so and queue the whole day again as a new version."""
    from bookspot_tripletex.load.corrections import build_correction

    with engine.begin() as conn:
        conn.execute(
            update(vouchers)
            .where(vouchers.c.id == row.id, vouchers.c.status == VoucherStatus.POSTED)
            .values(status=VoucherStatus.REVERSED, note=why, updated_at=dt.datetime.now(dt.UTC))
        )
        build_correction(conn, tenant, row.date, kind="repost", note=f"posted again: {why}")
