"""Reconcile: after a tenant's days are loaded, read back from Tripletex every day of it touched since its
last reconciliation; a tenant with a day held, refused or failed is left for the next run."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.staging.night_steps import DONE, IDLE, STOPPED, StepRow, move, read
from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome, forget_outcomes, record_outcomes
from bookspot_tripletex.steps.base import Night, Reporter, StepResult
from bookspot_tripletex.steps.base import failed as _failed
from bookspot_tripletex.steps.load import _Client
from bookspot_tripletex.tenants.store import load_tenant

log = logging.getLogger("bookspot_tripletex.pipeline")

STEP = "reconcile"


def reconcile_tenant(engine: Engine, tenant_id: str, client: Callable[[], Any]) -> dict[str, Any]:
    """Check every day of the tenant touched since its last reconciliation (and the rolling pass) against
    Tripletex; a day not in the ledger exactly once, as its journal says, raises ReconcileMismatch.

    What the load step listed (`steps.load.read_back_tenant`) is compared from staging; `client()` makes
    the Tripletex client only when something is left to ask Tripletex."""
    from bookspot_tripletex.load.reconcile import reconcile

    with engine.connect() as conn:
        tenant = load_tenant(conn, tenant_id)
    since = dt.datetime.now(dt.UTC)
    try:
        return reconcile(engine, tenant, client)
    finally:
        refresh_touched(engine, tenant_id, since, "reconciled")


def refresh_touched(engine: Engine, tenant_id: str, since: dt.datetime, event: str) -> list[dt.date]:
    """Render again the stored report of every day of the tenant whose vouchers changed since `since`
    (a correction, a reversal, a re-post, a note of reconciliation); a day without a report is skipped."""
    from sqlalchemy import select

    from bookspot_tripletex.staging.schema import vouchers
    from bookspot_tripletex.validation.store import refresh_report

    with engine.connect() as conn:
        days = sorted(
            set(
                conn.execute(
                    select(vouchers.c.local_date).where(
                        vouchers.c.tenant_id == tenant_id, vouchers.c.updated_at >= since
                    )
                ).scalars()
            )
        )
    for day in days:
        try:
            with engine.begin() as conn:
                refresh_report(conn, tenant_id, day, None, event)
        except Exception as exc:  # the ledger is right either way; the next refresh catches up
            log.warning("%s %s: report not refreshed: %s", tenant_id, day, exc)
    return days


def _reconciled(
    engine: Engine, tenant: str, client: _Client, until: dt.date, run_id: str | None = None
) -> list[DayOutcome]:
    """Reconcile the tenant; each day it holds is an outcome of its own, with that day's problems, and a
    day it held before that now agrees is settled again."""
    from bookspot_tripletex.load.errors import ReconcileMismatch
    from bookspot_tripletex.staging.outcomes import latest_outcomes
    from bookspot_tripletex.triage import CLI

    try:
        result = reconcile_tenant(engine, tenant, client.get)
    except ReconcileMismatch as exc:
        if not exc.days:
            return [_failed(tenant, until, "reconcile", exc, {})]
        action = (
            f"compare `{CLI} voucher --tenant {tenant} --date <day>` with Tripletex; reverse an extra "
            f"voucher there, or `{CLI} reconcile --tenant {tenant} --repair` to reverse duplicates of "
            "ours and post a day again whose voucher was deleted"
        )
        return [
            DayOutcome(tenant, day, "reconcile", Outcome.HELD, {}, "; ".join(problems), action)
            for day, problems in sorted(exc.days.items())
        ]
    except Exception as exc:
        return [_failed(tenant, until, "reconcile", exc, {})]
    checked = set(result.get("checked", ()))
    with engine.connect() as conn:
        held = latest_outcomes(conn, [tenant], [Outcome.HELD.value], before_run=run_id)
    return [
        DayOutcome(tenant, row.local_date, "reconcile", Outcome.ALREADY_POSTED)
        for row in held
        if row.step == "reconcile" and row.local_date.isoformat() in checked
    ]


def due(rows: list[StepRow]) -> bool:
    """Whether a tenant's rows ask for reconciliation now: it was extracted, not reconciled yet in this
    pass, and every day it journaled went through load without a problem."""
    if not rows or any(r.step == STEP for r in rows):
        return False
    if any(r.step == "extract" and r.state == STOPPED for r in rows):
        return False
    return all(r.state in (DONE, IDLE) for r in rows if not (r.step == "journal" and r.state == STOPPED))


def run(engine: Engine, night: Night, tenants: Sequence[str], track: Reporter) -> StepResult:
    """Reconcile every tenant whose days went through cleanly. A tenant whose reconciliation is to be
    retried keeps its rows where they are; its earlier attempt's outcomes give way to this attempt's."""
    result = StepResult(STEP)
    if not night.reconcile or night.dry_run:
        return result
    with engine.connect() as conn:
        rows = read(conn, night.run_id, tenants)
    for tenant, group in groupby(rows, key=lambda r: r.tenant):
        mine = list(group)
        if not due(mine):
            continue
        result.tenant_days += [(r.tenant, r.day) for r in mine if r.state != IDLE]
        with engine.begin() as conn:
            again = set(forget_outcomes(conn, night.run_id, tenant, [STEP]))
            told = [
                DayOutcome.from_detail(r.tenant, r.day, r.detail["outcome"])
                for r in mine
                if r.day in again and "outcome" in r.detail
            ]
            record_outcomes(conn, night.run_id, told)
        outcomes = _reconciled(engine, tenant, _Client(engine, tenant), night.until, night.run_id)
        with engine.begin() as conn:
            record_outcomes(conn, night.run_id, outcomes)
            if not any(o.outcome.retryable for o in outcomes):
                move(conn, night.run_id, tenant, STEP)
        for outcome in outcomes:
            track.report(outcome)
        result.outcomes += outcomes
    return result
