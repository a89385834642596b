"""Validate: check the saved journals (Great Expectations, many tenant-days in one run per suite), store
each day's report; only a pass makes a day ready to load, a failure holds it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from bookspot_tripletex import settings
from bookspot_tripletex.domain import LOCKED_STATUSES
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.load.state import VoucherRow, get_voucher, record_validation, set_report
from bookspot_tripletex.staging.night_steps import READY, StepRow
from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome
from bookspot_tripletex.steps.base import Night, Reporter, StepResult, failed, finished, save, to_take
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.store import load_tenant

log = logging.getLogger("bookspot_tripletex.pipeline")

STEP = "validate"
COUNTS = ("transactions", "postings", "quarantined")
"""The journal's counts every later outcome of the day carries."""
KEPT = ("status", "success", "failed_checks", "report", "report_id")
"""What the load step needs of a validation."""


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


def _validate_batch(
    engine: Engine, tenant_days: Sequence[tuple[str, dt.date]], run_id: str | None
) -> dict[tuple[str, dt.date], dict[str, Any] | Exception]:
    """A batch's tenant-days in one validation; should the batch fail as a whole, day by day, so that one
    day's failure is that day's outcome only."""
    try:
        results = validate_days(engine, tenant_days, run_id)
        return dict(zip(tenant_days, results, strict=True))
    except Exception as exc:
        log.warning(
            "validating %d tenant-days together failed (%s); validating them one by one",
            len(tenant_days),
            exc,
        )
    out: dict[tuple[str, dt.date], dict[str, Any] | Exception] = {}
    for tenant_day in tenant_days:
        try:
            out[tenant_day] = validate_days(engine, [tenant_day], run_id)[0]
        except Exception as exc:  # one day's failure is that day's outcome, never the others'
            out[tenant_day] = exc
    return out


def _held_reason(journal: dict[str, Any], validated: dict[str, Any]) -> str:
    reasons = []
    if journal.get("quarantined"):
        reasons.append(f"{journal['quarantined']} quarantined record(s)")
    if journal.get("missing_mappings"):
        reasons.append("no account mapped for " + ", ".join(journal["missing_mappings"]))
    if validated.get("failed_checks"):
        reasons.append("validation failed: " + ", ".join(validated["failed_checks"]))
    return "; ".join(reasons) or "held"


def held_outcome(tenant: str, day: dt.date, journal: dict[str, Any], validated: dict[str, Any]) -> DayOutcome:
    """A day the validation held, with why (quarantined records, missing mappings, failed checks) and the
    command that releases it."""
    from bookspot_tripletex.triage import action_for

    counts = {k: journal.get(k) for k in COUNTS}
    detail = {**journal, "report": validated.get("report")}
    action = action_for(STEP, Outcome.HELD, tenant, day, detail)
    return DayOutcome(tenant, day, STEP, Outcome.HELD, counts, _held_reason(journal, validated), action)


def run(engine: Engine, night: Night, tenants: Sequence[str], track: Reporter) -> StepResult:
    """Validate every journaled tenant-day together; a held or failed day stops here."""
    with engine.connect() as conn:
        rows = to_take(conn, night.run_id, tenants, STEP)
    result = StepResult(STEP, [(r.tenant, r.day) for r in rows])
    checked = _validate_batch(engine, result.tenant_days, night.run_id) if rows else {}
    out: list[StepRow] = []
    for row in rows:
        journal = row.detail.get("journal") or {}
        validated = checked.get((row.tenant, row.day), KeyError("not validated"))
        if isinstance(validated, Exception):
            outcome = failed(row.tenant, row.day, STEP, validated, {k: journal.get(k) for k in COUNTS})
        elif validated["status"] == "held":
            outcome = held_outcome(row.tenant, row.day, journal, validated)
        else:
            kept = {k: validated.get(k) for k in KEPT}
            out.append(
                StepRow(row.tenant, row.day, STEP, READY, None, {"journal": journal, "validated": kept})
            )
            continue
        track.report(outcome)
        result.outcomes.append(outcome)
        out.append(finished(row, STEP, outcome))
    save(engine, night.run_id, STEP, out, result.outcomes, retried=rows)
    return result
