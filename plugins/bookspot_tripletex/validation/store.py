"""Reports kept in staging (table `reports`): each tenant-day's report model and HTML page per voucher
version and run, history kept; the latest row is the current report.

After posting, correcting or reconciling, `refresh_report` renders the day again from the current state
(the voucher rows: posted with Tripletex's number and id, held and why, corrections as versions > 1)
and stores it as the newest row, so the current report always shows where the day stands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.staging.schema import reports, vouchers
from bookspot_tripletex.tenants.store import load_tenant
from bookspot_tripletex.validation.chart import tenant_chart_svg
from bookspot_tripletex.validation.model import Report, build_report, finish, now_text
from bookspot_tripletex.validation.page import render_html

LIVE_STATUSES = frozenset(
    {
        VoucherStatus.READY,
        VoucherStatus.HELD,
        VoucherStatus.EMPTY,
        VoucherStatus.POSTING,
        VoucherStatus.POSTED,
        VoucherStatus.FAILED,
    }
)
"""Voucher states a report shows as they are; `draft`/`built` keep the status the report was made with."""


@dataclass(frozen=True)
class StoredReport:
    id: int
    tenant: str
    date: dt.date
    version: int
    run_id: str
    status: str
    model: dict[str, Any]
    html: str
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredReport:
        return cls(
            id=row.id,
            tenant=row.tenant_id,
            date=row.local_date,
            version=row.version,
            run_id=row.run_id,
            status=row.status,
            model=row.model,
            html=row.html,
            created_at=row.created_at,
        )


def stored_journal(conn: Connection, tenant: str, day: dt.date, version: int = 1) -> DayJournal | None:
    """The journal the journal step kept with its voucher row (None before the journal step ran)."""
    data = conn.execute(
        select(vouchers.c.journal).where(
            vouchers.c.tenant_id == tenant, vouchers.c.local_date == day, vouchers.c.version == version
        )
    ).scalar_one_or_none()
    return None if data is None else DayJournal.from_record(data)


def save_report(
    conn: Connection, report: dict[str, Any], html: str, run_id: str, now: dt.datetime | None = None
) -> StoredReport:
    """Store a tenant-day's report as its newest; the same run saving again replaces its own row."""
    key = {
        "tenant_id": report["tenant"],
        "local_date": dt.date.fromisoformat(report["date"]),
        "version": int(report.get("version") or 1),
        "run_id": run_id,
    }
    conn.execute(delete(reports).where(*(reports.c[k] == v for k, v in key.items())))
    conn.execute(
        insert(reports).values(
            **key,
            status=report["status"],
            model=report,
            html=html,
            created_at=now or dt.datetime.now(dt.UTC),
        )
    )
    stored = latest_report(conn, key["tenant_id"], key["local_date"], key["version"])
    assert stored is not None
    return stored


def _history(tenant: str, day: dt.date, version: int | None) -> Any:
    query = select(reports).where(reports.c.tenant_id == tenant, reports.c.local_date == day)
    if version is not None:
        query = query.where(reports.c.version == version)
    return query.order_by(reports.c.created_at.desc(), reports.c.id.desc())


def latest_report(
    conn: Connection, tenant: str, day: dt.date, version: int | None = None
) -> StoredReport | None:
    """The current report of a tenant-day (of one voucher version, or of any)."""
    row = conn.execute(_history(tenant, day, version).limit(1)).first()
    return None if row is None else StoredReport.from_row(row)


def report_history(conn: Connection, tenant: str, day: dt.date) -> list[StoredReport]:
    """Every report stored for a tenant-day, newest first."""
    return [StoredReport.from_row(r) for r in conn.execute(_history(tenant, day, None))]


def current_state(conn: Connection, tenant: str, day: dt.date, version: int = 1) -> dict[str, Any]:
    """What the voucher rows say now: status, Tripletex number and id, why held, the corrections."""
    rows = conn.execute(
        select(vouchers)
        .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date == day)
        .order_by(vouchers.c.version)
    ).all()
    state: dict[str, Any] = {"corrections": []}
    for row in rows:
        if row.version == version:
            if row.status in LIVE_STATUSES:
                state["status"] = row.status
            state["tripletex_number"] = row.tripletex_number
            state["tripletex_voucher_id"] = row.tripletex_voucher_id
            state["posted_at"] = row.posted_at.isoformat(timespec="seconds") if row.posted_at else None
            state["held_reason"] = row.error if row.status in ("held", "failed") else None
        elif row.version > 1:
            state["corrections"].append(
                {
                    "version": row.version,
                    "status": row.status,
                    "external_number": row.external_number,
                    "tripletex_number": row.tripletex_number,
                    "tripletex_voucher_id": row.tripletex_voucher_id,
                    "posted_at": row.posted_at.isoformat(timespec="seconds") if row.posted_at else None,
                    "error": row.error,
                    "kind": row.kind,
                    "note": row.note,
                }
            )
    return state


def render_report(conn: Connection, tenant: str, day: dt.date) -> tuple[dict[str, Any], str]:
    """The tenant-day's report rendered again from the current state: the latest stored report's
    validation (or, never validated, the saved journal) with today's voucher state and chart."""
    stored = latest_report(conn, tenant, day)
    if stored is not None:
        base = stored.model
    else:
        journal = stored_journal(conn, tenant, day)
        if journal is None:
            raise LookupError(f"{tenant} {day}: no journal saved (run the journal step first)")
        base = build_report(load_tenant(conn, tenant), journal, None)
    report = with_current_state(conn, base)
    return report, render_html(report, tenant_chart_svg(conn, tenant, day))


def with_current_state(conn: Connection, report: dict[str, Any]) -> dict[str, Any]:
    """The report with the voucher rows' current state laid over it and its summary written again."""
    model = Report.model_validate(report)
    day = dt.date.fromisoformat(model.date)
    for key, value in current_state(conn, model.tenant, day, model.version).items():
        setattr(model, key, value)
    model.generated_at = now_text()
    return finish(model)


def refresh_report(
    conn: Connection, tenant: str, day: dt.date, run_id: str | None = None, event: str = "refresh"
) -> StoredReport:
    """Render the tenant-day from the current state and store it as its newest report; call it after
    posting, correcting or reconciling (event: "posted", "corrected", "reconciled"). Stored under
    "<run_id>:<event>", so the run's validation report stays in the history."""
    report, html = render_report(conn, tenant, day)
    now = dt.datetime.now(dt.UTC)
    key = f"{run_id}:{event}" if run_id else f"{event}-{now:%Y%m%dT%H%M%S.%f}"
    return save_report(conn, report, html, key, now)
