"""The nightly steps for one tenant and local day, as plain functions the DAG and the CLI call, and the
night of many tenants (`run_night`): the steps of `steps/` one after the other in one process, each
reading what the step before saved."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome
from bookspot_tripletex.steps.base import Night, NightResult, Progress
from bookspot_tripletex.steps.base import failed as _failed
from bookspot_tripletex.steps.extract import EXTRACT_OVERLAP, extract_tenant, stage_tenant
from bookspot_tripletex.steps.journal import journal_day
from bookspot_tripletex.steps.load import (
    LOAD_OUTCOMES,
    _approval_gate,
    _Client,
    _finish_day,
    _owed,
    _refresh,
    activate_day,
    attach_report,
    corrections_posted,
    load_day,
    read_back_tenant,
)
from bookspot_tripletex.steps.reconcile import _reconciled, reconcile_tenant, refresh_touched
from bookspot_tripletex.steps.validate import _held_reason, _validate_batch, validate_day, validate_days
from bookspot_tripletex.tenants.store import load_tenant

__all__ = [
    "EXTRACT_OVERLAP",
    "LOAD_OUTCOMES",
    "Night",
    "NightResult",
    "Progress",
    "_Client",
    "_approval_gate",
    "_failed",
    "_finish_day",
    "_held_reason",
    "_owed",
    "_reconciled",
    "_refresh",
    "_validate_batch",
    "activate_day",
    "attach_report",
    "build_day",
    "corrections_posted",
    "extract_tenant",
    "journal_day",
    "load_day",
    "read_back_tenant",
    "reconcile_tenant",
    "refresh_touched",
    "run_night",
    "stage_tenant",
    "validate_day",
    "validate_days",
]

log = logging.getLogger(__name__)


TENANT_BATCH = 10
"""Tenants a night takes at a time: their days are validated together and logged as one batch."""


def force_repost_day(
    engine: Engine,
    tenant_id: str,
    day: dt.date,
    client: Any,
    by: str,
    reason: str,
    use_current_mapping: bool = False,
) -> dict[str, Any]:
    """A person's forced re-post of a posted day (`load.corrections.force_repost`), its report refreshed
    and its outcome recorded in `day_outcomes`; a refusal (`ActionRefused`) changes nothing."""
    from bookspot_tripletex.load.corrections import force_repost
    from bookspot_tripletex.staging.outcomes import record_outcomes
    from bookspot_tripletex.validation.store import refresh_report

    with engine.connect() as conn:
        tenant = load_tenant(conn, tenant_id)
    result = force_repost(engine, tenant, day, client, by, reason, use_current_mapping)
    now = dt.datetime.now(dt.UTC)
    run_id = f"force-repost__{now:%Y-%m-%dT%H:%M:%S.%f}"
    posted = result.get("posted") or {}
    counts = {"reversed": len(result["reversed"]), "voucher": posted.get("tripletex_number")}
    outcome = DayOutcome(tenant_id, day, "force-repost", Outcome.POSTED, counts, result["note"])
    with engine.begin() as conn:
        try:
            refresh_report(conn, tenant_id, day, run_id, "corrected")
        except LookupError as exc:
            log.warning("%s %s: report not refreshed: %s", tenant_id, day, exc)
        record_outcomes(conn, run_id, [outcome], now)
    return result


class _Tracker:
    """Tells progress: one line per tenant-day with how far its tenant is, one per batch with what is left."""

    def __init__(self, say: Progress, tenants: int) -> None:
        self.say, self.tenants = say, tenants
        self.planned: dict[str, int] = {}
        self.done: Counter[str] = Counter()
        self.batch: list[DayOutcome] = []
        self.result = NightResult()

    def plan(self, tenant: str, days: list[dt.date], staged: int) -> None:
        self.planned[tenant] = len(days)
        span = f"{days[0]} .. {days[-1]}" if days else "none"
        self.say(f"{tenant}: staged {staged} record(s); {len(days)} day(s) to do: {span}")

    def report(self, outcome: DayOutcome) -> None:
        self.batch.append(outcome)
        self.done[outcome.tenant] += 1
        planned = max(self.planned.get(outcome.tenant, 0), self.done[outcome.tenant])
        self.say(f"{outcome.line()} [{self.done[outcome.tenant]}/{planned} of {outcome.tenant}]")

    def end_batch(self, number: int, batches: int, finished: int) -> list[DayOutcome]:
        outcomes, self.batch = self.batch, []
        self.result.outcomes += outcomes
        total_days = len(self.result.outcomes)
        transactions = sum(int(o.counts.get("transactions") or 0) for o in self.result.outcomes)
        self.say(
            f"batch {number}/{batches}: {self.result.tally(outcomes)}. Done {finished}/{self.tenants} "
            f"tenant(s), {total_days} tenant-day(s), {transactions} transaction(s); "
            f"left: {self.tenants - finished} tenant(s)"
        )
        return outcomes


def run_night(
    engine: Engine,
    tenant_ids: Sequence[str],
    night: Night,
    progress: Progress | None = None,
    batch_size: int = TENANT_BATCH,
) -> NightResult:
    """Every step for every tenant's days, one tenant's failure never stopping the others.

    The steps of `steps/` run one after the other over each batch of tenants, as the DAG's step tasks run
    over a shard. Each tenant-day's outcome is written to `day_outcomes` and told to `progress` as one
    line; so is each batch of tenants, with what is left. Nothing raises for a tenant-day: the caller
    reads the result.
    """
    from bookspot_tripletex.staging.night_steps import forget
    from bookspot_tripletex.steps import extract, journal, load, reconcile, validate

    track = _Tracker(progress or log.info, len(tenant_ids))
    size = max(1, batch_size)
    batches = [list(tenant_ids[i : i + size]) for i in range(0, len(tenant_ids), size)]
    for number, batch in enumerate(batches, start=1):
        with engine.begin() as conn:
            forget(conn, night.run_id, batch)
        for step in (extract, journal, validate, load, reconcile):
            step.run(engine, night, batch, track)
        track.end_batch(number, len(batches), min(number * size, len(tenant_ids)))
    return track.result
