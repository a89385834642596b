"""Voucher rows in staging: the posting state machine that makes loading exactly-once.

``built`` (journal saved, not yet validated) becomes ``ready`` only through a passing validation, or
``held``; those and ``empty``/``failed`` may be rebuilt. ``posting`` is claimed by one run at a time
(see `claims`); ``posted`` is final unless a forced re-post makes it ``reversed``. Version 1 of a day
is the day itself; versions 2, 3, ... are its corrections (or a forced re-post), each its own voucher.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from bookspot_tripletex.domain import LOCKED_STATUSES, VoucherStatus
from bookspot_tripletex.journal.model import DayJournal, Posting, external_number
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.staging.upsert import insert_ignore

LOCKED = tuple(LOCKED_STATUSES)
ROW_COLUMNS = tuple(c for c in vouchers.c if c.name != "journal")
"""What a `VoucherRow` is read from: every column but the day's journal, the largest, which a
`VoucherRow` never holds (the reports' version history and the review screen read it themselves)."""


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
    kind: str = "day"
    posting_date: dt.date | None = None
    note: str | None = None
    claimed_by: str | None = None
    claim_token: str | None = None
    claim_expires_at: dt.datetime | None = None
    draft_id: int | None = None
    draft_version: int | None = None
    draft_requested_at: dt.datetime | None = None
    company_id: int | None = None
    reversal_id: int | None = None

    @property
    def effective_date(self) -> dt.date:
        """The date the voucher carries in Tripletex (a closed period moves a correction later)."""
        return self.posting_date or self.date

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
            kind=row.kind,
            posting_date=row.posting_date,
            note=row.note,
            claimed_by=row.claimed_by,
            claim_token=row.claim_token,
            claim_expires_at=_aware(row.claim_expires_at),
            draft_id=row.draft_id,
            draft_version=row.draft_version,
            draft_requested_at=_aware(row.draft_requested_at),
            company_id=row.company_id,
            reversal_id=row.reversal_id,
        )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without their zone; staging writes UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def get_voucher_by_id(conn: Connection, voucher_id: int) -> VoucherRow | None:
    row = conn.execute(select(*ROW_COLUMNS).where(vouchers.c.id == voucher_id)).first()
    return None if row is None else VoucherRow.from_row(row)


def day_versions(conn: Connection, tenant: str, day: dt.date) -> list[VoucherRow]:
    """All vouchers of a tenant-day, the day first, then its corrections in order."""
    rows = conn.execute(
        select(*ROW_COLUMNS)
        .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date == day)
        .order_by(vouchers.c.version)
    ).all()
    return [VoucherRow.from_row(r) for r in rows]


def next_version(conn: Connection, tenant: str, day: dt.date) -> int:
    top = conn.execute(
        select(func.max(vouchers.c.version)).where(
            vouchers.c.tenant_id == tenant, vouchers.c.local_date == day
        )
    ).scalar_one()
    return int(top or 0) + 1


def get_voucher(conn: Connection, tenant: str, day: dt.date, version: int = 1) -> VoucherRow | None:
    row = conn.execute(
        select(*ROW_COLUMNS).where(
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
            draft_id=None,
            draft_version=None,
            draft_requested_at=None,
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


CARRIES_THE_DAY = ("day", "repost")
"""Kinds of voucher that carry the whole day; a correction adjusts the one before it."""


def effective_row(rows: list[VoucherRow]) -> VoucherRow:
    """The version that carries the day now: the newest posted day or re-post (its corrections adjust
    it), else the newest on its way to Tripletex, else the newest built; `rows` as `day_versions` gives."""
    carrying = [r for r in rows if r.kind in CARRIES_THE_DAY] or rows
    for wanted in ((VoucherStatus.POSTED,), (VoucherStatus.READY, VoucherStatus.POSTING)):
        found = [r for r in carrying if r.status in wanted]
        if found:
            return found[-1]
    return carrying[-1]
