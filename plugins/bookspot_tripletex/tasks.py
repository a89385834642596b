"""What the Airflow tasks of the nightly DAG do: plan the night's shards, run one step of the night over a
shard (`run_step`), and decide the run (`finish_run`). The DAG file only wires these together.

A task imports only what its step needs: this module imports no step at import time, and each step
module imports its own stage (extract never loads Great Expectations or the Tripletex client)."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bookspot_tripletex.masking import compile_on_use
from bookspot_tripletex.staging.db import make_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bookspot_tripletex.staging.outcomes import DayOutcome
    from bookspot_tripletex.steps.base import Night

DAG_TZ = ZoneInfo("Europe/Oslo")
POOL = "tripletex_api"
"""The Airflow pool the load and reconcile tasks take a slot of: it bounds concurrent Tripletex work per
deployment. Create it once per deployment (`airflow pools set tripletex_api 4 "Tripletex API"`)."""
STEPS = ("extract", "journal", "validate", "load", "reconcile")
"""The night's step tasks of a shard, in order (`steps/`)."""
KEEP_STEP_ROWS = dt.timedelta(days=35)
"""How long a run's `night_steps` rows are kept (its outcomes stay in `day_outcomes`)."""
HELD_XCOM_LIMIT = 200
"""At most this many held tenant-days go to XCom (the full list is in `day_outcomes`)."""

log = logging.getLogger("bookspot_tripletex.night")


class StepRetry(RuntimeError):
    """Some tenant-days failed at a step for a reason that may pass (BookSpot or Tripletex 5xx/429,
    connections, a busy voucher): Airflow retries that step only, for those days; what was posted is not
    posted again."""


def accounting_day(context: dict[str, Any]) -> dt.date:
    """The local day a run covers.

    A scheduled or backfill run's data interval is one local day in Europe/Oslo and its logical date is
    that interval's start. A manual run (`airflow dags test D 2026-11-24`, the UI's trigger form) names
    its day by its logical date; the optional `day` param overrides both. A run without a logical date
    covers yesterday.
    """
    requested = (context.get("params") or {}).get("day")
    if requested:
        return dt.date.fromisoformat(requested)
    moment = context.get("logical_date") or context.get("data_interval_start")
    if moment is None:
        return yesterday(utcnow())
    local = moment.astimezone(DAG_TZ)
    return dt.date(local.year, local.month, local.day)


def yesterday(now: dt.datetime) -> dt.date:
    """The last day that is over in Oslo: no later day is ever due."""
    return now.astimezone(DAG_TZ).date() - dt.timedelta(days=1)


def night_of(context: dict[str, Any], now: dt.datetime) -> Night:
    """What this run asks: the `day` param or a backfill run re-runs exactly its day; any other run brings
    every due day of each tenant up to its own day. Days that are not over yet are never due."""
    params = context.get("params") or {}
    day = accounting_day(context)
    dag_run = context.get("dag_run")
    run_type = str(getattr(dag_run, "run_type", "") or "")
    chosen = bool(params.get("day")) or run_type.endswith("backfill")
    until = min(day, yesterday(now))
    from bookspot_tripletex.steps.base import Night

    return Night(
        run_id=str(getattr(dag_run, "run_id", None) or context.get("run_id") or "manual"),
        until=until,
        days=(day,) if chosen else None,
        dry_run=bool(params.get("dry_run")),
        now=now,
    )


def utcnow() -> dt.datetime:
    """The night's clock: where the extract window ends and which days are over (tests pin it)."""
    return dt.datetime.now(dt.UTC)


def _engine() -> Engine:
    return make_engine()


def max_shards() -> int:
    from airflow.sdk.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def shards(tenants: list[str], size: int, limit: int) -> list[dict[str, Any]]:
    """Tenants in shards of `size` (more per shard when that would make more than `limit` shards)."""
    if not tenants:
        return []
    size = max(1, size, math.ceil(len(tenants) / limit))
    out = []
    for index, start in enumerate(range(0, len(tenants), size)):
        chunk = tenants[start : start + size]
        names = ", ".join(chunk[:3]) + (f" … ({len(chunk)} tenants)" if len(chunk) > 3 else "")
        out.append({"index": index, "tenants": chunk, "label": f"shard {index}: {names}"})
    return out


def plan(requested: list[str] | None, shard_size: int) -> list[dict[str, Any]]:
    """Check staging is at the code's revision; shard the active tenants (or the requested subset)."""
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex.staging.db import StagingNotAtHead, require_head
    from bookspot_tripletex.tenants.store import active_tenants

    engine = _engine()
    try:
        require_head(engine)
    except StagingNotAtHead as exc:
        raise AirflowFailException(str(exc)) from exc
    with engine.connect() as conn:
        active = active_tenants(conn)
    engine.dispose()
    if requested:
        unknown = sorted(set(requested) - set(active))
        if unknown:
            raise AirflowFailException(f"not active or not imported: {', '.join(unknown)}")
        active = [t for t in active if t in set(requested)]
    planned = shards(active, shard_size, max_shards())
    log.info("%d active tenant(s) in %d shard(s) of up to %d", len(active), len(planned), shard_size)
    return planned


def run_step(
    step: str,
    shard: dict[str, Any],
    context: dict[str, Any],
    notify: Callable[[list[DayOutcome]], Any] | None = None,
) -> dict[str, Any]:
    """One step of the night for the shard's tenant-days (`steps.<step>.run`), then its verdict: a retry
    when a day it took failed for a reason that may pass (after every other day of the shard was done),
    else a failure without retries naming the days that stopped here for a person. Later steps go on with
    the shard's other days. `notify` gets the step's outcomes (the DAG passes `alerts.alert_approvals` to
    load: days that start waiting for approval, or wait too long); a day waiting fails nothing.

    The return value (the task's XCom) is small: the step, its tenant-days, a summary and `cpu_s`, the
    CPU seconds spent in here (the rest of the task's CPU is Airflow's)."""
    from airflow.sdk.exceptions import AirflowFailException

    started = time.process_time()
    compile_on_use()
    module = importlib.import_module(f"bookspot_tripletex.steps.{step}")
    from bookspot_tripletex.steps.base import LogReporter, NightResult, stopped_at

    night = night_of(context, utcnow())
    scope = ", ".join(map(str, night.days)) if night.days else f"every due day up to {night.until}"
    log.info(
        "%s, %s: %d tenant(s), %s%s",
        shard["label"],
        step,
        len(shard["tenants"]),
        scope,
        " (dry run)" * night.dry_run,
    )
    engine = _engine()
    try:
        result = module.run(engine, night, shard["tenants"], LogReporter(log.info))
        verdict = stopped_at(engine, night.run_id, shard["tenants"], step)
    finally:
        engine.dispose()
    took = [[t, d.isoformat()] for t, d in sorted(set(result.tenant_days))][:HELD_XCOM_LIMIT]
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key="held_days", value=[o.as_xcom() for o in verdict.needs_person][:HELD_XCOM_LIMIT])
        ti.xcom_push(key="tenant_days", value=took)
    summary = NightResult(result.outcomes).tally()
    log.info("%s, %s: %d tenant-day(s); %s", shard["label"], step, len(result.tenant_days), summary)
    if notify is not None:
        try:
            notify(result.outcomes)
        except Exception as exc:  # an alert failing never fails the step; the days' outcomes stand
            log.warning("%s: alerts not sent: %s", shard["label"], exc)
    cpu_s = round(time.process_time() - started, 4)
    if verdict.to_retry:
        raise StepRetry(verdict.problems())
    if verdict.needs_person:
        raise AirflowFailException(verdict.problems())
    return {
        "step": step,
        "tenants": len(shard["tenants"]),
        "tenant_days": len(result.tenant_days),
        "summary": summary,
        "cpu_s": cpu_s,
    }


def finish_run(context: dict[str, Any], shards_planned: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The run's verdict, after every shard's steps: it fails (so the run fails) naming the tenant-days
    that need a person or were still failing after their step's last retry. A day a step never took (its
    task failed as a whole) is recorded as failed there, so the run's end alerts it; a planned tenant with
    nothing recorded was alerted by its extract task's failure callback."""
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex.staging.night_steps import READY, STEPS, prune, read
    from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome, record_outcomes, run_outcomes
    from bookspot_tripletex.steps.base import NightResult

    started = time.process_time()
    if shards_planned is None:
        raise AirflowFailException("the plan task did not finish: nothing ran (see its log)")
    tenants = [t for shard in shards_planned for t in shard["tenants"]]
    night = night_of(context, utcnow())
    engine = _engine()
    try:
        with engine.begin() as conn:
            rows = read(conn, night.run_id, tenants)
            stuck = [
                DayOutcome(
                    r.tenant,
                    r.day,
                    STEPS[STEPS.index(r.step) + 1],
                    Outcome.ERROR,
                    {},
                    f"the {STEPS[STEPS.index(r.step) + 1]} task did not take this day: see its log",
                )
                for r in rows
                if r.state == READY and r.step != STEPS[-1]
            ]
            record_outcomes(conn, night.run_id, stuck)
            result = NightResult(
                [DayOutcome.from_row(r) for r in run_outcomes(conn, night.run_id, tenants=tenants)]
            )
            prune(conn, utcnow() - KEEP_STEP_ROWS)
    finally:
        engine.dispose()
    silent = sorted(set(tenants) - {r.tenant for r in rows} - {o.tenant for o in result.outcomes})
    log.info("%d tenant(s): %s", len(tenants), result.tally())
    problems = []
    if result.to_retry or result.needs_person:
        problems.append(result.problems())
    if silent:
        problems.append(f"{len(silent)} tenant(s) without any step recorded: {', '.join(silent[:20])}")
    if problems:
        raise AirflowFailException("\n".join(problems))
    return {
        "tenants": len(tenants),
        "tenant_days": len(result.outcomes),
        "summary": result.tally(),
        "cpu_s": round(time.process_time() - started, 4),
    }


def extract(tenant_id: str, day: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    """The extract step alone, as a task would run it: a refusal fails at once, transient errors raise."""
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex.steps.extract import extract_tenant
    from bookspot_tripletex.triage import ExtractRefused

    try:
        return extract_tenant(_engine(), tenant_id, now or utcnow())
    except ExtractRefused as exc:
        raise AirflowFailException(str(exc)) from exc
