"""Extract: stage what each tenant changed since its watermark and plan the tenant's days of the night."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.feed.source import TransactionSource
from bookspot_tripletex.staging.night_steps import IDLE, READY, STOPPED, StepRow, forget, read, write
from bookspot_tripletex.staging.outcomes import DayOutcome, forget_outcomes, record_outcomes
from bookspot_tripletex.steps.base import Night, Reporter, StepResult, failed
from bookspot_tripletex.triage import ExtractRefused

log = logging.getLogger("bookspot_tripletex.pipeline")

STEP = "extract"
EXTRACT_OVERLAP = dt.timedelta(days=2)


def stage_tenant(
    engine: Engine,
    tenant_id: str,
    source: TransactionSource,
    updated_from: dt.datetime,
    updated_to: dt.datetime,
) -> dict[str, Any]:
    """Extract records changed in [updated_from, updated_to) and stage them in one transaction."""
    from bookspot_tripletex.staging.stage import stage_records
    from bookspot_tripletex.tenants.store import load_tenant

    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
        result = stage_records(conn, tenant, source.iter_records(updated_from, updated_to))
    log.info("%s: staged %s", tenant_id, {k: v for k, v in result.as_dict().items() if k != "days"})
    return {"tenant": tenant_id, **result.as_dict()}


def extract_tenant(engine: Engine, tenant_id: str, now: dt.datetime) -> dict[str, Any]:
    """Stage what changed since the tenant's watermark (minus the overlap), then move the watermark.

    A refused token, an unknown account or a malformed answer raises `ExtractRefused` (retrying cannot
    help); 429, 5xx and connection errors, once the client's own retries are used up, raise as they are.
    The watermark moves only after the records are staged, so a failed run loses nothing.
    """
    from bookspot_tripletex.connections import bookspot_conn_id, open_source
    from bookspot_tripletex.feed.client import BookSpotError, BookSpotTransientError
    from bookspot_tripletex.staging.watermark import extract_window, save_watermark

    with engine.connect() as conn:
        updated_from, updated_to = extract_window(conn, tenant_id, now, EXTRACT_OVERLAP)
    conn_id = bookspot_conn_id(engine, tenant_id)
    try:
        source = open_source(engine, tenant_id)
    except ValueError as exc:
        raise ExtractRefused(f"{tenant_id}: BookSpot connection {conn_id!r}: {exc}") from exc
    try:
        result = stage_tenant(engine, tenant_id, source, updated_from, updated_to)
    except BookSpotTransientError:
        raise
    except BookSpotError as exc:
        raise ExtractRefused(f"{exc} (connection {conn_id!r})") from exc
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    with engine.begin() as conn:
        save_watermark(conn, tenant_id, updated_to, now)
    return {**result, "window": [updated_from.isoformat(), updated_to.isoformat()]}


def run(engine: Engine, night: Night, tenants: Sequence[str], track: Reporter) -> StepResult:
    """Extract every tenant not yet extracted in this pass of the run, and save its days to do (or an
    `idle` row when none is due); a tenant that cannot be extracted stops every day it had to do."""
    from bookspot_tripletex.staging.due import start_dates, voucher_states

    now = night.now or dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        extracted = {
            r.tenant for r in read(conn, night.run_id, tenants) if r.step == STEP and r.state != STOPPED
        }
        todo = [t for t in tenants if t not in extracted]
        starts = start_dates(conn, todo)
        states = voucher_states(conn, todo, night.until)
    result = StepResult(STEP)
    for tenant in todo:
        rows, outcomes = _tenant(
            engine, night, tenant, starts.get(tenant), states.get(tenant, {}), now, track
        )
        with engine.begin() as conn:
            forget(conn, night.run_id, [tenant])
            forget_outcomes(conn, night.run_id, tenant)
            write(conn, night.run_id, rows)
            record_outcomes(conn, night.run_id, outcomes)
        result.tenant_days += [(r.tenant, r.day) for r in rows if r.state != IDLE]
        result.outcomes += outcomes
    return result


def _tenant(
    engine: Engine,
    night: Night,
    tenant: str,
    start: dt.date | None,
    states: Any,
    now: dt.datetime,
    track: Reporter,
) -> tuple[list[StepRow], list[DayOutcome]]:
    from bookspot_tripletex.staging.due import chosen_days, correction_days, due_days

    def stop(days: list[dt.date], exc: Exception) -> tuple[list[StepRow], list[DayOutcome]]:
        outcomes = [failed(tenant, day, STEP, exc, {}) for day in days]
        for outcome in outcomes:
            track.report(outcome)
        rows = [
            StepRow(o.tenant, o.day, STEP, STOPPED, o.outcome.value, {"outcome": o.as_detail()})
            for o in outcomes
        ]
        return rows, outcomes

    if start is None:
        return stop([night.until], LookupError(f"tenant {tenant!r} is not imported"))
    chosen = night.days is not None
    planned = (
        chosen_days(start, night.until, night.days or ()) if chosen else due_days(start, night.until, states)
    )
    try:
        staged = extract_tenant(engine, tenant, now)
    except Exception as exc:
        track.plan(tenant, planned or [night.until], 0)
        return stop(planned or [night.until], exc)
    if not chosen:
        touched = [dt.date.fromisoformat(d) for d in staged["days"]]
        planned = due_days(start, night.until, states, touched)
        with engine.connect() as conn:
            corrected = correction_days(conn, [tenant], night.until)[tenant]
        planned = sorted(set(planned) | {d for d in corrected if d >= start})
    track.plan(tenant, planned, staged["staged"])
    rows = [StepRow(tenant, day, STEP, READY) for day in planned]
    return rows or [StepRow(tenant, night.until, STEP, IDLE)], []
