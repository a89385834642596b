"""What the Airflow tasks of the nightly DAG do: plan the night's shards, run one shard. The DAG file only
wires these together; these call `pipeline` only."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bookspot_tripletex import pipeline
from bookspot_tripletex.staging.db import make_engine
from bookspot_tripletex.staging.outcomes import DayOutcome

DAG_TZ = ZoneInfo("Europe/Oslo")
POOL = "tripletex_api"
"""The Airflow pool every shard task takes a slot of: it bounds concurrent Tripletex work per deployment.
Create it once per deployment (`airflow pools set tripletex_api 4 "Tripletex API"`)."""
HELD_XCOM_LIMIT = 200
"""At most this many held tenant-days go to XCom (the full list is in `day_outcomes`)."""

log = logging.getLogger("bookspot_tripletex.night")


class ShardRetry(RuntimeError):
    """Some tenant-days failed for a reason that may pass (Tripletex 5xx/429, connections, a busy voucher):
    Airflow retries the shard; what was posted is not posted again."""


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


def night_of(context: dict[str, Any], now: dt.datetime) -> pipeline.Night:
    """What this run asks: the `day` param or a backfill run re-runs exactly its day; any other run brings
    every due day of each tenant up to its own day. Days that are not over yet are never due."""
    params = context.get("params") or {}
    day = accounting_day(context)
    dag_run = context.get("dag_run")
    run_type = str(getattr(dag_run, "run_type", "") or "")
    chosen = bool(params.get("day")) or run_type.endswith("backfill")
    until = min(day, yesterday(now))
    return pipeline.Night(
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


def run_shard(
    shard: dict[str, Any],
    context: dict[str, Any],
    notify: Callable[[list[DayOutcome]], Any] | None = None,
) -> dict[str, Any]:
    """Every step for the shard's tenants and their days; `notify` gets the outcomes (the DAG passes
    `alerts.alert_approvals`: days that start waiting for approval, or wait too long); then fail (naming
    them) if any need a retry or a person. Posted days stay posted: a retry of the shard is a no-op for
    them. A day waiting for approval fails nothing."""
    from airflow.sdk.exceptions import AirflowFailException

    night = night_of(context, utcnow())
    scope = ", ".join(map(str, night.days)) if night.days else f"every due day up to {night.until}"
    log.info(
        "%s: %d tenant(s), %s%s", shard["label"], len(shard["tenants"]), scope, " (dry run)" * night.dry_run
    )
    engine = _engine()
    try:
        result = pipeline.run_night(engine, shard["tenants"], night, progress=log.info)
    finally:
        engine.dispose()
    held = [o.as_xcom() for o in result.needs_person][:HELD_XCOM_LIMIT]
    held_tenant_days = sorted({(o.tenant, o.day.isoformat()) for o in result.outcomes})[:HELD_XCOM_LIMIT]
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key="held_days", value=held)
        ti.xcom_push(key="tenant_days", value=[list(td) for td in held_tenant_days])
    log.info("%s: %s", shard["label"], result.tally())
    if notify is not None:
        try:
            notify(result.outcomes)
        except Exception as exc:  # an alert failing never fails the shard; the days' outcomes stand
            log.warning("%s: alerts not sent: %s", shard["label"], exc)
    if result.to_retry:
        raise ShardRetry(result.problems())
    if result.needs_person:
        raise AirflowFailException(result.problems())
    return {"tenants": len(shard["tenants"]), "summary": result.tally()}


def extract(tenant_id: str, day: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    """The extract step alone, as a task would run it: a refusal fails at once, transient errors raise."""
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex.triage import ExtractRefused

    try:
        return pipeline.extract_tenant(_engine(), tenant_id, now or utcnow())
    except ExtractRefused as exc:
        raise AirflowFailException(str(exc)) from exc
