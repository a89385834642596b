"""Voucher rows in staging: the posting state machine that makes loading exactly-once.

``built`` (journal saved, not yet validated) becomes ``ready`` only through a passing validation, or
``held``; those and ``empty``/``failed`` may be rebuilt. ``posting`` is claimed by one run at a time
(a stale claim can be taken over after a lease); ``posted`` is final.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from bookspot_tripletex.domain import LOCKED_STATUSES
from bookspot_tripletex.journal.model import DayJournal, Posting, external_number
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.staging.upsert import insert_ignore

LOCKED = tuple(LOCKED_STATUSES)
CLAIM_LEASE = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class VoucherRow:
    id: int
    tenant: str
    date: dt.date
    version: int
    external_number: str
    status: str
    mapping_version_id: int | None
    postings: tuple[Posting, ...]
    tripletex_voucher_id: int | None
    tripletex_number: str | None
    report_path: str | None
    validation: dict[str, Any] | None
    error: str | None

    @classmethod
    def from_row(cls, row: Any) -> VoucherRow:
        return cls(
            id=row.id,
            tenant=row.tenant_id,
            date=row.local_date,
            version=row.version,
            external_number=row.external_number,
            status=row.status,
            mapping_version_id=row.mapping_version_id,
            postings=tuple(Posting.from_record(p) for p in (row.postings or [])),
            tripletex_voucher_id=row.tripletex_voucher_id,
            tripletex_number=row.tripletex_number,
            report_path=row.report_path,
            validation=row.validation,
            error=row.error,
        )


def get_voucher(conn: Connection, tenant: str, day: dt.date, version: int = 1) -> VoucherRow | None:
    row = conn.execute(
        select(vouchers).where(
            vouchers.c.tenant_id == tenant, vouchers.c.local_date == day, vouchers.c.version == version
        )
    ).first()
    return None if row is None else VoucherRow.from_row(row)


def save_journal(
    conn: Connection, journal: DayJournal, version: int = 1, now: dt.datetime | None = None
) -> VoucherRow:
    """Record the day's draft voucher; a row already posting or posted is never rewritten."""
    now = now or dt.datetime.now(dt.UTC)
    insert_ignore(
        conn,
        vouchers,
        [
            {
                "tenant_id": journal.tenant,
                "local_date": journal.date,
                "version": version,
                "external_number": external_number(journal.tenant, journal.date, version),
                "status": "draft",
                "updated_at": now,
            }
        ],
        ["tenant_id", "local_date", "version"],
    )
    conn.execute(
        update(vouchers)
        .where(
            vouchers.c.tenant_id == journal.tenant,
            vouchers.c.local_date == journal.date,
            vouchers.c.version == version,
            vouchers.c.status.not_in(LOCKED),
        )
        .values(
            status="built" if journal.status == "ready" else journal.status,
            mapping_version_id=journal.mapping_version_id,
            postings=[p.as_record() for p in journal.voucher.postings] if journal.voucher else None,
            journal=journal.as_record(),
            validation=None,
            error=None,
            updated_at=now,
        )
    )
    row = get_voucher(conn, journal.tenant, journal.date, version)
    assert row is not None
    return row


def record_validation(
    conn: Connection,
    voucher_id: int,
    success: bool,
    summary: dict[str, Any],
    report_path: str | None,
    now: dt.datetime,
) -> None:
    """Only a passing validation of a built voucher makes it `ready` to post."""
    values: dict[str, Any] = {"validation": summary, "report_path": report_path, "updated_at": now}
    if success:
        conn.execute(
            update(vouchers)
            .where(vouchers.c.id == voucher_id, vouchers.c.status == "built")
            .values(status="ready", **values)
        )
        return
    values["error"] = "validation failed: " + ", ".join(summary.get("failed", []))
    conn.execute(
        update(vouchers)
        .where(vouchers.c.id == voucher_id, vouchers.c.status.not_in(LOCKED))
        .values(status="held", **values)
    )


def set_report(conn: Connection, voucher_id: int, report_path: str | None, now: dt.datetime) -> None:
    conn.execute(
        update(vouchers).where(vouchers.c.id == voucher_id).values(report_path=report_path, updated_at=now)
    )


def claim(conn: Connection, voucher_id: int, claimant: str, now: dt.datetime) -> bool:
    """Take the right to post this voucher; False when another run holds a live claim or it is done."""
    stale = now - CLAIM_LEASE
    result = conn.execute(
        update(vouchers)
        .where(
            vouchers.c.id == voucher_id,
            or_(
                vouchers.c.status == "ready",
                and_(
                    vouchers.c.status == "posting",
                    or_(vouchers.c.claimed_at.is_(None), vouchers.c.claimed_at < stale),
                ),
            ),
        )
        .values(status="posting", claimed_by=claimant, claimed_at=now, updated_at=now)
    )
    return result.rowcount == 1


def mark_posted(
    conn: Connection, voucher_id: int, claimant: str, tripletex_id: int, number: str | None, now: dt.datetime
) -> None:
    conn.execute(
        update(vouchers)
        .where(vouchers.c.id == voucher_id, vouchers.c.status == "posting")
        .values(
            status="posted",
            tripletex_voucher_id=tripletex_id,
            tripletex_number=number,
            posted_at=now,
            claimed_by=claimant,
            error=None,
            updated_at=now,
        )
    )


def release_claim(conn: Connection, voucher_id: int, error: str, now: dt.datetime, refused: bool) -> None:
    """After a failure: a refusal (4xx) marks the day failed; anything else keeps it `posting`, unclaimed,
    so the next attempt looks the voucher up in Tripletex before it posts."""
    values: dict[str, Any] = {"error": error[:2000], "claimed_at": None, "updated_at": now}
    if refused:
        values["status"] = "failed"
    conn.execute(
        update(vouchers).where(vouchers.c.id == voucher_id, vouchers.c.status == "posting").values(**values)
    )
