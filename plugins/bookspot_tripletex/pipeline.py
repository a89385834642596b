"""The nightly steps for one tenant and local day, as plain functions the DAG and the CLI call."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from bookspot_tripletex import settings
from bookspot_tripletex.domain import LOCKED_STATUSES
from bookspot_tripletex.feed.source import TransactionSource
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.load.post import TripletexLike, post_day
from bookspot_tripletex.load.state import (
    VoucherRow,
    get_voucher,
    record_validation,
    save_journal,
    set_report,
)
from bookspot_tripletex.staging.stage import stage_records
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.store import load_tenant

log = logging.getLogger(__name__)

EXTRACT_OVERLAP = dt.timedelta(days=2)


def stage_tenant(
    engine: Engine,
    tenant_id: str,
    source: TransactionSource,
    updated_from: dt.datetime,
    updated_to: dt.datetime,
) -> dict[str, Any]:
    """Extract records changed in [updated_from, updated_to) and stage them in one transaction."""
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
        result = stage_records(conn, tenant, source.iter_records(updated_from, updated_to))
    log.info("%s: staged %s", tenant_id, result.as_dict())
    return {"tenant": tenant_id, **result.as_dict()}


def journal_day(engine: Engine, tenant_id: str, day: dt.date) -> dict[str, Any]:
    """Build the day's journal and save its draft voucher (never touching one already posted)."""
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
        existing = get_voucher(conn, tenant_id, day)
        if existing is not None and existing.status in ("posting", "posted"):
            return {"tenant": tenant_id, "date": day.isoformat(), "status": existing.status}
        journal = build_day(conn, tenant, day)
        row = save_journal(conn, journal)
    return {
        "tenant": tenant_id,
        "date": day.isoformat(),
        "status": row.status,
        "transactions": journal.transactions,
        "postings": len(row.postings),
        "quarantined": len(journal.quarantined),
        "missing_mappings": journal.missing_account_types,
    }


def validate_days(
    engine_or_conn: Engine | Connection,
    items: Sequence[tuple[str, dt.date] | DayJournal],
    run_id: str | None = None,
    reports_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Validate the journals the journal step saved, many tenant-days with one GX run per suite; store
    each day's report (and export it when a reports folder is set). Only a pass makes a day `ready`.

    items: (tenant, day) pairs, or the saved journals themselves. One result per item, in order."""
    if isinstance(engine_or_conn, Connection):
        return _validate_days(engine_or_conn, items, run_id, reports_dir)
    with engine_or_conn.begin() as conn:
        return _validate_days(conn, items, run_id, reports_dir)


def _validate_days(
    conn: Connection,
    items: Sequence[tuple[str, dt.date] | DayJournal],
    run_id: str | None,
    reports_dir: Path | None,
) -> list[dict[str, Any]]:
    from bookspot_tripletex.validation.batch import validate_journals
    from bookspot_tripletex.validation.chart import tenant_chart_svg
    from bookspot_tripletex.validation.history import range_warnings
    from bookspot_tripletex.validation.report import build_report, render_html, report_paths, write_report
    from bookspot_tripletex.validation.store import save_report, stored_journal, with_current_state

    now = dt.datetime.now(dt.UTC)
    run_id = run_id or f"manual-{now:%Y%m%dT%H%M%S.%f}"
    export = reports_dir or settings.reports_export_dir()
    tenants: dict[str, TenantConfig] = {}
    out: list[dict[str, Any]] = []
    todo: list[tuple[int, TenantConfig, DayJournal, VoucherRow]] = []
    for item in items:
        tenant_id, day = (item.tenant, item.date) if isinstance(item, DayJournal) else item
        result: dict[str, Any] = {"tenant": tenant_id, "date": day.isoformat()}
        out.append(result)
        row = get_voucher(conn, tenant_id, day)
        journal = item if isinstance(item, DayJournal) else stored_journal(conn, tenant_id, day)
        if row is None or journal is None:
            result.update(status="missing", error="no journal saved: run the journal step first")
        elif row.status in LOCKED_STATUSES:
            result.update(status=row.status, report=row.report_path)
        else:
            if tenant_id not in tenants:
                tenants[tenant_id] = load_tenant(conn, tenant_id)
            todo.append((len(out) - 1, tenants[tenant_id], journal, row))
    validated = iter(validate_journals(conn, [(t, j) for _, t, j, _ in todo if j.voucher is not None]))
    for index, tenant, journal, row in todo:
        checked = next(validated) if journal.voucher is not None else None
        if checked is not None:
            checked.warnings = range_warnings(conn, tenant.tenant, journal.date)
        report = build_report(tenant, journal, checked)
        path = str(report_paths(report, export)[1]) if export else None
        if checked is not None:
            record_validation(conn, row.id, checked.success, checked.summary(), path, now)
        else:
            set_report(conn, row.id, path, now)
        report = with_current_state(conn, report)
        html = render_html(report, tenant_chart_svg(conn, tenant.tenant, journal.date))
        stored = save_report(conn, report, html, run_id, now)
        if export:
            write_report(report, export, html)
        final = get_voucher(conn, tenant.tenant, journal.date)
        assert final is not None
        out[index].update(
            status=final.status,
            success=checked is not None and checked.success,
            failed_checks=checked.failed if checked is not None else [],
            warnings=[w["check"] for w in checked.warnings] if checked is not None else [],
            report=path,
            report_id=stored.id,
        )
    return out


def validate_day(
    engine: Engine,
    tenant_id: str,
    day: dt.date,
    reports_dir: Path | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Validate one tenant-day's saved journal (see validate_days)."""
    return validate_days(engine, [(tenant_id, day)], run_id, reports_dir)[0]


def load_day(
    engine: Engine,
    tenant_id: str,
    day: dt.date,
    client: TripletexLike | None,
    claimant: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
    result = post_day(engine, tenant, day, client, claimant, dry_run=dry_run)
    if result["outcome"] == "posted":
        from bookspot_tripletex.validation.store import refresh_report

        try:
            with engine.begin() as conn:
                refresh_report(conn, tenant_id, day, claimant, "posted")
        except LookupError as exc:  # posted either way; the report catches up on the next refresh
            log.warning("%s %s: report not refreshed: %s", tenant_id, day, exc)
    if result["outcome"] == "posted" and tenant.attach_report and client is not None:
        result["attachment"] = attach_report(engine, client, result)
    return result


def attach_report(engine: Engine, client: Any, posted: dict[str, Any]) -> str:
    """Upload the day's current report (refreshed after posting) as PDF onto its voucher; a failure is
    reported, the voucher stays posted."""
    from bookspot_tripletex.validation.pdf import render_pdf
    from bookspot_tripletex.validation.store import latest_report

    with engine.connect() as conn:
        stored = latest_report(
            conn, posted["tenant"], dt.date.fromisoformat(posted["date"]), posted.get("version")
        )
    if stored is None:
        return "skipped: no report"
    report = stored.model
    filename = f"bookspot-{posted['tenant']}-{posted['date']}-v{posted['version']}.pdf"
    try:
        client.upload_attachment(
            posted["tripletex_voucher_id"], filename, render_pdf(report), "application/pdf"
        )
    except Exception as exc:  # the voucher is posted either way; say so rather than fail the night
        log.warning("%s %s: report not attached: %s", posted["tenant"], posted["date"], exc)
        return f"failed: {exc}"
    return filename
