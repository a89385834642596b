"""
### BookSpot → Tripletex, nightly

Each run covers one accounting day: its data interval is one local day in Europe/Oslo
(23 or 25 hours on DST days). For every active tenant (or the `tenants` subset) it

1. **extracts** the tenant's BookSpot records changed since its watermark into staging
   (bad records are quarantined with their reason and hold their day),
2. **journals** the day with the mapping version in force (or the one the day was first posted with),
3. **validates** it with Great Expectations and writes the day's report (HTML + JSON),
4. **activates** the tenant before a mapping version's first night (the API key works; every mapped
   account exists, is active, accepts its VAT type and needs no customer or supplier),
5. **loads** the balanced voucher into the tenant's Tripletex company, exactly once.

Backfills (an initial import from a tenant's start date, or a re-run) are ordinary runs of this DAG:
every task is idempotent for its tenant and day, and a day already posted is never posted again.
`dry_run` stops before Tripletex.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task, task_group


def _alert_failed_task(context: dict) -> None:
    from bookspot_tripletex.alerts import on_task_failure

    on_task_failure(context)


def _alert_held_days(context: dict) -> None:
    from bookspot_tripletex.alerts import on_night_done

    on_night_done(context)


DEFAULT_ARGS = {
    "owner": "data-team",
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    "on_failure_callback": _alert_failed_task,
}


def _day() -> dt.date:
    from bookspot_tripletex.tasks import accounting_day

    return accounting_day(get_current_context())


@dag(
    dag_id="bookspot_tripletex_nightly",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Europe/Oslo"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"),
    catchup=True,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    on_success_callback=_alert_held_days,
    on_failure_callback=_alert_held_days,
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
            description="Re-run one local day (YYYY-MM-DD) instead of the run's own day.",
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Validate and report, post nothing."
        ),
    },
)
def bookspot_tripletex_nightly() -> None:
    @task
    def plan_tenants() -> list[str]:
        from bookspot_tripletex.tasks import plan

        return plan(get_current_context()["params"]["tenants"])

    @task_group
    def tenant_night(tenant: str) -> None:
        @task
        def extract(tenant: str) -> dict:
            from bookspot_tripletex.tasks import extract

            return extract(tenant, _day())

        @task
        def journal(tenant: str) -> dict:
            from bookspot_tripletex.tasks import journal

            return journal(tenant, _day())

        @task
        def validate(tenant: str) -> dict:
            from bookspot_tripletex.tasks import validate

            return validate(tenant, _day())

        @task
        def activate(tenant: str) -> dict:
            from bookspot_tripletex.tasks import activate

            return activate(tenant, _day())

        @task
        def load(tenant: str) -> dict:
            from bookspot_tripletex.tasks import load

            context = get_current_context()
            claimant = f"{context['dag_run'].run_id}/{tenant}"
            return load(tenant, _day(), bool(context["params"]["dry_run"]), claimant)

        extract(tenant) >> journal(tenant) >> validate(tenant) >> activate(tenant) >> load(tenant)

    tenant_night.expand(tenant=plan_tenants())


bookspot_tripletex_nightly()
