"""The nightly steps for one tenant and local day, as plain functions the DAG and the CLI call."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex import settings
from bookspot_tripletex.feed.source import TransactionSource
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.load.post import TripletexLike, post_day
from bookspot_tripletex.load.state import get_voucher, record_validation, save_journal, set_report
from bookspot_tripletex.staging.stage import stage_records
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


def validate_day(
    engine: Engine, tenant_id: str, day: dt.date, reports_dir: Path | None = None
) -> dict[str, Any]:
    """Validate the day with Great Expectations and write its report; only a pass makes it `ready`."""
    from bookspot_tripletex.validation.report import build_report, write_report
    from bookspot_tripletex.validation.run import validate_day as run_suites

    reports_dir = reports_dir or settings.reports_dir()
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
        existing = get_voucher(conn, tenant_id, day)
        if existing is not None and existing.status in ("posting", "posted"):
            return {
                "tenant": tenant_id,
                "date": day.isoformat(),
                "status": existing.status,
                "report": existing.report_path,
            }
        journal = build_day(conn, tenant, day)
        row = save_journal(conn, journal)
        result = run_suites(conn, tenant, journal) if journal.voucher is not None else None
        report = build_report(tenant, journal, result)
        _, html = write_report(report, reports_dir)
        success = result is not None and result.success
        summary = result.summary() if result is not None else {"success": False, "failed": []}
        now = dt.datetime.now(dt.UTC)
        if journal.voucher is not None:
            record_validation(conn, row.id, success, summary, str(html), now)
        else:
            set_report(conn, row.id, str(html), now)
        final = get_voucher(conn, tenant_id, day)
    assert final is not None
    return {
        "tenant": tenant_id,
        "date": day.isoformat(),
        "status": final.status,
        "success": success,
        "failed_checks": summary.get("failed", []),
        "report": str(html),
    }


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
    if result["outcome"] == "posted" and tenant.attach_report and client is not None:
        result["attachment"] = attach_report(client, result)
    return result


def attach_report(client: Any, posted: dict[str, Any]) -> str:
    """Upload the day's report as PDF onto its voucher; a failure is reported, the voucher stays posted."""
    import json

    from bookspot_tripletex.validation.report import render_pdf

    report_path = Path(posted["report"]).with_suffix(".json") if posted.get("report") else None
    if report_path is None or not report_path.is_file():
        return "skipped: no report"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report.update(status="posted", tripletex_number=posted.get("tripletex_number"))
    filename = f"bookspot-{posted['tenant']}-{posted['date']}-v{posted['version']}.pdf"
    try:
        client.upload_attachment(
            posted["tripletex_voucher_id"], filename, render_pdf(report), "application/pdf"
        )
    except Exception as exc:  # the voucher is posted either way; say so rather than fail the night
        log.warning("%s %s: report not attached: %s", posted["tenant"], posted["date"], exc)
        return f"failed: {exc}"
    return filename
