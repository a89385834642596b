"""Journal: build each tenant-day's journal with the mapping version in force and save its voucher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.load.state import get_voucher, save_journal
from bookspot_tripletex.staging.night_steps import READY, StepRow
from bookspot_tripletex.steps.base import Night, Reporter, StepResult, failed, finished, save, to_take
from bookspot_tripletex.tenants.store import load_tenant

STEP = "journal"


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


def run(engine: Engine, night: Night, tenants: Sequence[str], track: Reporter) -> StepResult:
    """Journal every extracted tenant-day; the journal's counts go with the day to the next step."""
    with engine.connect() as conn:
        rows = to_take(conn, night.run_id, tenants, STEP)
    result = StepResult(STEP, [(r.tenant, r.day) for r in rows])
    out: list[StepRow] = []
    for row in rows:
        try:
            journal = journal_day(engine, row.tenant, row.day)
        except Exception as exc:
            outcome = failed(row.tenant, row.day, STEP, exc, {})
            track.report(outcome)
            result.outcomes.append(outcome)
            out.append(finished(row, STEP, outcome))
            continue
        out.append(StepRow(row.tenant, row.day, STEP, READY, None, {"journal": journal}))
    save(engine, night.run_id, STEP, out, result.outcomes, retried=rows)
    return result
