"""Every voucher version of a tenant-day as the report and the review screen tell it.

Version 1 is the day; versions 2, 3, ... are its corrections (or a forced re-post). For each: its
Tripletex number and id, the date it carries (a moved date and why), its amounts per account and VAT
type, the records that changed since the version posted before (from the journals kept with the rows), the
change to the day's sales, and a link into Tripletex's own UI. `day_net` is what the ledger holds for
the day now: every posted version summed per account and VAT type. Money as NOK strings (JSON-ready).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.staging.schema import transactions, vouchers

Link = Callable[[int, int | None], str | None]
"""(Tripletex voucher id, company id) -> the voucher's page in Tripletex, or None."""
LIVE = (VoucherStatus.POSTED,)
"""The versions whose postings are in the ledger (a reversed one is cancelled by its reversal)."""


def _lines_by_record(journal: dict[str, Any] | None) -> dict[str, list[tuple[Any, ...]]] | None:
    if not journal:
        return None
    out: dict[str, list[tuple[Any, ...]]] = {}
    for line in journal.get("lines") or []:
        key = (line["entry"], line["account_type"], line["vat_rate"], line["amount_ore"], line["vat_ore"])
        out.setdefault(str(line["transaction_id"]), []).append(key)
    return {k: sorted(v, key=repr) for k, v in out.items()}


def sales_ore(journal: dict[str, Any] | None) -> int | None:
    """Gross sales of a stored journal: its postings that carry a VAT rate (credits, shown positive)."""
    voucher = (journal or {}).get("voucher")
    if not voucher:
        return None if not journal else 0
    return -sum(p["amount_ore"] for p in voucher["postings"] if p.get("vat_rate") is not None)


def record_changes(
    conn: Connection, tenant: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[dict[str, str]] | None:
    """The records that differ between two stored journals, by id: added, voided, removed (no longer
    on the day: moved or no longer completed) or changed. None when either journal is unknown."""
    old, new = _lines_by_record(before), _lines_by_record(after)
    if old is None or new is None:
        return None
    gone = sorted(set(old) - set(new))
    statuses: dict[str, str] = {}
    if gone:
        query = select(transactions.c.transaction_id, transactions.c.status).where(
            transactions.c.tenant_id == tenant, transactions.c.transaction_id.in_(gone)
        )
        statuses = {str(i): str(s) for i, s in conn.execute(query).all()}
    changes = [{"id": i, "change": "added"} for i in sorted(set(new) - set(old))]
    changes += [{"id": i, "change": "voided" if statuses.get(i) == "voided" else "removed"} for i in gone]
    changes += [{"id": i, "change": "changed"} for i in sorted(set(old) & set(new)) if old[i] != new[i]]
    return sorted(changes, key=lambda c: c["id"])


def _amounts(postings: list[dict[str, Any]] | None) -> Counter[tuple[int, int]]:
    totals: Counter[tuple[int, int]] = Counter()
    for p in postings or []:
        totals[(int(p["account"]), int(p["vat_type"]))] += int(p["amount_ore"])
    return totals


def _amount_rows(totals: Counter[tuple[int, int]]) -> list[dict[str, Any]]:
    return [
        {"account": acc, "vat_type": vat, "amount": format_nok(amount)}
        for (acc, vat), amount in sorted(totals.items())
        if amount
    ]


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value.isoformat()


def _rows(conn: Connection, tenant: str, day: dt.date) -> list[Any]:
    return list(
        conn.execute(
            select(vouchers)
            .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date == day)
            .order_by(vouchers.c.version)
        ).all()
    )


def day_versions(
    conn: Connection, tenant: str, day: dt.date, link: Link | None = None
) -> list[dict[str, Any]]:
    """Every voucher version of the day, the day first (see the module's docstring)."""
    out: list[dict[str, Any]] = []
    journal_before: dict[str, Any] | None = None
    for row in _rows(conn, tenant, day):
        date = row.posting_date or row.local_date
        entry: dict[str, Any] = {
            "version": row.version,
            "kind": row.kind,
            "status": row.status,
            "external_number": row.external_number,
            "tripletex_number": row.tripletex_number,
            "tripletex_voucher_id": row.tripletex_voucher_id,
            "tripletex_link": (
                link(row.tripletex_voucher_id, row.company_id)
                if link is not None and row.tripletex_voucher_id is not None
                else None
            ),
            "date": date.isoformat(),
            "posting_date": row.posting_date.isoformat() if row.posting_date else None,
            "moved": date != row.local_date,
            "note": row.note,
            "posted_at": _iso(row.posted_at),
            "error": row.error,
            "postings": _amount_rows(_amounts(row.postings)),
            "changes": None,
            "sales_change": None,
        }
        if row.version > 1:
            entry["changes"] = record_changes(conn, tenant, journal_before, row.journal)
            before, after = sales_ore(journal_before), sales_ore(row.journal)
            if before is not None and after is not None:
                entry["sales_change"] = format_nok(after - before)
        if row.journal and row.status in (VoucherStatus.POSTED, VoucherStatus.REVERSED):
            journal_before = row.journal
        out.append(entry)
    return out


def day_net(conn: Connection, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """What the ledger holds for the day now, per account and VAT type: the posted versions summed."""
    totals: Counter[tuple[int, int]] = Counter()
    for row in _rows(conn, tenant, day):
        if row.status in LIVE:
            totals.update(_amounts(row.postings))
    return _amount_rows(totals)


def latest_transactions(conn: Connection, tenant: str, day: dt.date) -> int | None:
    """The day's completed transactions as its newest stored journal counted them."""
    for row in reversed(_rows(conn, tenant, day)):
        if row.journal and row.journal.get("transactions") is not None:
            return int(row.journal["transactions"])
    return None
