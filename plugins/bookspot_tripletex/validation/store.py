"""Reports kept in staging (table `reports`): each tenant-day's report model and HTML page per voucher
version and run, history kept; the latest row is the current report.

After posting, correcting or reconciling, `refresh_report` renders the day again from the current state
(the voucher rows: posted with Tripletex's number, id and link, held and why, corrections as versions
> 1 with what changed, the day's net result) and stores it as the newest row, so the current report
always shows where the day stands.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.staging.schema import reports, vouchers
from bookspot_tripletex.tenants.store import load_tenant
from bookspot_tripletex.validation.chart import tenant_chart_svg
from bookspot_tripletex.validation.model import Report, build_report, finish, now_text
from bookspot_tripletex.validation.page import render_html
from bookspot_tripletex.validation.versions import Link, day_net, day_versions, latest_transactions

LIVE_STATUSES = frozenset(
    {
        VoucherStatus.READY,
        VoucherStatus.AWAITING_APPROVAL,
        VoucherStatus.HELD,
        VoucherStatus.EMPTY,
        VoucherStatus.POSTING,
        VoucherStatus.POSTED,
        VoucherStatus.FAILED,
    }
)
"""Voucher states a report shows as they are; `draft`/`built` keep the status the report was made with."""
EXPLAINED_STATUSES = ("held", "failed", "awaiting_approval")
"""States whose reason (the voucher row's `error`) the report shows."""
WEB_BASE_TTL_S = 600.0
"""How long a Tripletex connection's UI origin is kept for the reports made through one staging engine."""

_web_bases: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, str | None]]] = (
    weakref.WeakKeyDictionary()
)


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


def _web_base(conn: Connection, conn_id: str) -> str | None:
    """The UI origin of a Tripletex connection, read once per staging engine and WEB_BASE_TTL_S: a
    night's reports of a tenant (validated, posted, reconciled) look its connection up once."""
    from bookspot_tripletex.tripletex.links import connection_web_base

    known = _web_bases.setdefault(conn.engine, {})
    now = time.monotonic()
    hit = known.get(conn_id)
    if hit is None or now - hit[0] > WEB_BASE_TTL_S:
        hit = known[conn_id] = (now, connection_web_base(conn_id))
    return hit[1]


def tripletex_link_for(conn: Connection, tenant: str) -> Link:
    """Links to the tenant's vouchers in Tripletex's UI, from its connection's host. The connection is
    read when the first link is asked for (a day without a Tripletex voucher reads none); without it, or
    without a host, every link is None."""
    from bookspot_tripletex.tripletex.links import voucher_link

    bases: list[str | None] = []

    def link(voucher_id: int, company_id: int | None) -> str | None:
        if not bases:
            try:
                conn_id = load_tenant(conn, tenant).tripletex_conn_id
            except LookupError:
                conn_id = None
            bases.append(_web_base(conn, conn_id) if conn_id else None)
        base = bases[0]
        return None if base is None else voucher_link(base, voucher_id, company_id)

    return link


def current_state(conn: Connection, tenant: str, day: dt.date, version: int = 1) -> dict[str, Any]:
    """What the voucher rows say now: status, Tripletex number, id and link, why held; the corrections
    (every later version with its number, date, amounts and the records that changed), the day's net
    result in the ledger and its transactions as the newest journal counts them."""
    versions = day_versions(conn, tenant, day, tripletex_link_for(conn, tenant))
    state: dict[str, Any] = {"corrections": [v for v in versions if v["version"] > 1], "net": []}
    for entry in versions:
        if entry["version"] == version:
            if entry["status"] in LIVE_STATUSES:
                state["status"] = entry["status"]
            state["tripletex_number"] = entry["tripletex_number"]
            state["tripletex_voucher_id"] = entry["tripletex_voucher_id"]
            state["tripletex_link"] = entry["tripletex_link"]
            state["posted_at"] = entry["posted_at"]
            state["note"] = entry["note"]
            held = entry["status"] in ("held", "failed", "awaiting_approval")
            state["held_reason"] = entry["error"] if held else None
    if state["corrections"]:
        state["net"] = day_net(conn, tenant, day)
        transactions = latest_transactions(conn, tenant, day)
        if transactions is not None:
            state["transactions"] = transactions
    return state


def render_report(
    conn: Connection, tenant: str, day: dt.date, chart: bool = True
) -> tuple[dict[str, Any], str]:
    """The tenant-day's report rendered again from the current state: the latest stored report's
    validation (or, never validated, the saved journal) with today's voucher state and chart (left
    out with `chart=False`, for a page that shows it already)."""
    stored = latest_report(conn, tenant, day)
    if stored is not None:
        base = stored.model
    else:
        journal = stored_journal(conn, tenant, day)
        if journal is None:
            raise LookupError(f"{tenant} {day}: no journal saved (run the journal step first)")
        base = build_report(load_tenant(conn, tenant), journal, None)
    report = with_current_state(conn, base)
    return report, render_html(report, tenant_chart_svg(conn, tenant, day) if chart else None)


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
    posting, correcting, re-posting or reconciling (event: "posted", "corrected", "reposted",
    "reconciled"). Stored under
    "<run_id>:<event>", so the run's validation report stays in the history."""
    report, html = render_report(conn, tenant, day)
    now = dt.datetime.now(dt.UTC)
    key = f"{run_id}:{event}" if run_id else f"{event}-{now:%Y%m%dT%H%M%S.%f}"
    return save_report(conn, report, html, key, now)
