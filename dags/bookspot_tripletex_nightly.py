"""
### BookSpot → Tripletex, nightly

Every night (00:00 Europe/Oslo) one run brings every tenant up to date: for each active tenant (or the
`tenants` subset) it takes **every due day**, from the tenant's first day not yet posted (never before its
`start_date`) to yesterday in Oslo, read from staging's state, not from Airflow's list of runs. An initial
import, missed nights and a held day released later all take this one path, in one run. Catch-up is off:
unpausing the DAG starts one run, not one per missed day.

The tenants are split into **shards** (`shard_size` tenants each; 1 gives a task group per tenant). Each
shard is a mapped task group `night` (named e.g. "shard 3: fjord-kayak, tenant-001, …" on every task)
with one task per step: **extract** (records changed since the watermark; the shard's due days) →
**journal** (the mapping version in force) → **validate** (Great Expectations, the day's report) →
**load** (the approval gate, activation before a mapping version's first night, one voucher exactly
once) → **reconcile** (read back from Tripletex). Each step takes the tenant-days the step before left in
staging (`night_steps`) and has its own log; load and reconcile take a slot of the `tripletex_api` pool.

Each tenant-day's outcome is logged as one line in its step's log and kept in staging (`day_outcomes`).
One tenant's failure never stops the others: a step finishes every tenant-day of its shard, and the later
steps run whatever became of it (trigger rule `all_done`) for the days still going. A transient failure
(BookSpot or Tripletex 5xx/429, connection errors, a busy voucher) **retries that step only**, for the
days that failed (a load retry never extracts again; posted days stay posted); a held or refused day
**fails the step it stopped at** without retries, saying why and what releases it (e.g.
`python -m bookspot_tripletex release-day …`). The last task, **finish**, fails the run when any
tenant-day needs a person or still fails after its step's retries. Posted, corrected (correction vouchers
posted for a day posted before), already posted, empty and dry-run days succeed. When the run ends, its
callbacks send one alert per tenant-day it left held, refused or failed, or corrected, each with that
day's own reason and its link on the review screen.

A new tenant's first posting days and the first day under a new mapping version **wait for approval**
(`awaiting_approval`, alerted) on the BookSpot review screen; they fail nothing and hold up no other
tenant. An approved day is posted by the re-run the approval queues.

A **backfill** or the `day` param re-runs exactly the chosen day(s); posted days stay as they are.
`dry_run` stops before Tripletex.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task, task_group

from bookspot_schedule_plugin import LocalCronDataIntervalTimetable

POOL = "tripletex_api"
SHARD_SIZE = int(os.environ.get("BOOKSPOT_SHARD_SIZE", "25"))
LABEL = "{{ shard_label }}"


def _alert_failed_task(context: dict) -> None:
    from bookspot_tripletex.alerts import on_task_failure

    on_task_failure(context)


def _alert_run_end(context: dict) -> None:
    from bookspot_tripletex.alerts import on_run_end

    on_run_end(context)


def _retries() -> int:
    """Retries of a task (deployment default `BOOKSPOT_TASK_RETRIES`, 3), read when the DAG is built."""
    return int(os.environ.get("BOOKSPOT_TASK_RETRIES", "3"))


def _step(step: str, shard: dict, approvals: bool = False) -> dict:
    from bookspot_tripletex.tasks import run_step

    context = get_current_context()
    context["shard_label"] = shard["label"]  # type: ignore[typeddict-unknown-key]
    notify = None
    if approvals:
        from bookspot_tripletex.alerts import alert_approvals

        notify = alert_approvals
    return run_step(step, shard, context, notify=notify)


DEFAULT_ARGS = {
    "owner": "data-team",
    "retries": _retries(),
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    "on_failure_callback": _alert_failed_task,
}


@dag(
    dag_id="bookspot_tripletex_nightly",
    schedule=LocalCronDataIntervalTimetable("0 0 * * *", timezone="Europe/Oslo"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Oslo")),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_success_callback=_alert_run_end,
    on_failure_callback=_alert_run_end,
    doc_md=__doc__,
    tags=["bookspot", "tripletex", "accounting"],
    params={
        "tenants": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Tenants",
            description="BookSpot account ids to run; empty means every active tenant.",
        ),
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day",
            description="Re-run exactly this local day (YYYY-MM-DD) instead of every due day.",
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Validate and report, post nothing."
        ),
        "shard_size": Param(
            SHARD_SIZE,
            type="integer",
            minimum=1,
            title="Shard size",
            description="Tenants per shard task (1: a task per tenant); default: BOOKSPOT_SHARD_SIZE.",
        ),
    },
)
def bookspot_tripletex_nightly() -> None:
    @task
    def plan() -> list[dict]:
        from bookspot_tripletex.tasks import plan

        params = get_current_context()["params"]
        return plan(params["tenants"], int(params["shard_size"]))

    each = {"map_index_template": LABEL, "retries": _retries(), "multiple_outputs": False}
    later = {**each, "trigger_rule": TriggerRule.ALL_DONE, "on_failure_callback": None}

    @task_group(group_id="night")
    def night(shard: dict) -> None:
        """One shard's tenant-days through the steps; each step takes what the step before left."""

        @task(**each)
        def extract(shard: dict) -> dict:
            return _step("extract", shard)

        @task(**later)
        def journal(shard: dict) -> dict:
            return _step("journal", shard)

        @task(**later)
        def validate(shard: dict) -> dict:
            return _step("validate", shard)

        @task(pool=POOL, **later)
        def load(shard: dict) -> dict:
            return _step("load", shard, approvals=True)

        @task(pool=POOL, **later)
        def reconcile(shard: dict) -> dict:
            return _step("reconcile", shard)

        extract(shard) >> journal(shard) >> validate(shard) >> load(shard) >> reconcile(shard)

    @task(trigger_rule=TriggerRule.ALL_DONE, on_failure_callback=None, multiple_outputs=False)
    def finish() -> dict:
        from bookspot_tripletex.tasks import finish_run

        context = get_current_context()
        return finish_run(context, context["ti"].xcom_pull(task_ids="plan"))

    night.expand(shard=plan()) >> finish()


bookspot_tripletex_nightly()
