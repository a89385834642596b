"""From a task of the nightly DAG to the review screen of the tenant-days it holds, and, from the steps
that write to Tripletex (load, reconcile), to the voucher in Tripletex's own UI when the task holds one
tenant-day.

The links are computed on the API server when the task's page asks for them: the run gives the day
(its `day` param, else its logical date in Oslo), the task's own XCom (each step pushes the tenant-days
it took) or its map index (the shard planned) the tenants.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

URL_PREFIX = "/bookspot-review"
TENANT_DAYS_XCOM_KEY = "tenant_days"
"""A task that holds several tenant-days may push them as [[tenant, 'YYYY-MM-DD'], ...] under this key."""
PLAN_TASK_ID = "plan"
VOUCHER_STEPS = frozenset({"load", "reconcile"})
"""The step tasks (`night.<step>`) whose tenant-day may have a voucher in Tripletex to link to."""


def base_path() -> str:
    """The review app's path, under the API server's base URL path when it has one."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base).path.rstrip("/") + URL_PREFIX


def review_url(tenant_days: list[tuple[str, dt.date]], day: dt.date | None) -> str:
    """One tenant-day opens its page (with its report); several open the list filtered to them."""
    if len(tenant_days) == 1:
        tenant, only = tenant_days[0]
        return f"{base_path()}/days/{tenant}/{only.isoformat()}"
    days = sorted({d for _, d in tenant_days} | ({day} if day else set()))
    query: list[tuple[str, str]] = [("tenant", t) for t in sorted({t for t, _ in tenant_days})]
    if days:
        query += [("date_from", days[0].isoformat()), ("date_to", days[-1].isoformat())]
    return f"{base_path()}/?{urlencode(query)}"


def _run_day(run: Any) -> dt.date:
    from bookspot_tripletex.tasks import accounting_day

    return accounting_day(
        {
            "params": dict(run.conf or {}),
            "logical_date": run.logical_date,
            "data_interval_start": run.data_interval_start or run.run_after,
        }
    )


def _xcom(session: Any, ti_key: Any, task_id: str, key: str, map_index: int) -> Any:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == ti_key.dag_id,
            XComModel.run_id == ti_key.run_id,
            XComModel.task_id == task_id,
            XComModel.key == key,
            XComModel.map_index == map_index,
        )
    ).first()
    return None if row is None else XComModel.deserialize_value(row)


def task_tenant_days(ti_key: Any) -> tuple[list[tuple[str, dt.date]], dt.date | None]:
    """The tenant-days a task instance holds, and its run's day."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == ti_key.dag_id, DagRun.run_id == ti_key.run_id)
        ).first()
        if run is None:
            return [], None
        day = _run_day(run)
        own = _xcom(session, ti_key, ti_key.task_id, TENANT_DAYS_XCOM_KEY, ti_key.map_index)
        if own:
            return [(str(t), dt.date.fromisoformat(str(d))) for t, d in own], day
        if ti_key.map_index is not None and ti_key.map_index >= 0:
            planned = _xcom(session, ti_key, PLAN_TASK_ID, "return_value", -1) or []
            if ti_key.map_index < len(planned):
                return [(str(t), day) for t in planned[ti_key.map_index]["tenants"]], day
        return [], day


class ReviewLink(BaseOperatorLink):
    """'Review' on every task of the nightly DAG: the tenant-days a step took, the shard's tenants on the
    run's day, or the run's day."""

    name = "Review"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from bookspot_tripletex.review.actions import DAG_ID

        if ti_key.dag_id != DAG_ID:
            return ""
        tenant_days, day = task_tenant_days(ti_key)
        if not tenant_days and day is not None:
            return f"{base_path()}/?{urlencode({'date_from': day.isoformat(), 'date_to': day.isoformat()})}"
        return review_url(tenant_days, day)


def tripletex_voucher_url(tenant: str, day: dt.date) -> str:
    """The newest voucher of the tenant-day that is in Tripletex (a correction over the day), in
    Tripletex's UI; "" when none is or the connection's host is unknown."""
    from bookspot_tripletex.review.app import engine
    from bookspot_tripletex.review.data import versions

    with engine().connect() as conn:
        posted = [v for v in versions(conn, tenant, day) if v["status"] == "posted" and v["tripletex_link"]]
    return str(posted[-1]["tripletex_link"]) if posted else ""


class TripletexLink(BaseOperatorLink):
    """'Tripletex' on the nightly DAG's load and reconcile tasks: the voucher of the one tenant-day a task
    holds (empty on other tasks)."""

    name = "Tripletex"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from bookspot_tripletex.review.actions import DAG_ID

        if ti_key.dag_id != DAG_ID or ti_key.task_id.rpartition(".")[2] not in VOUCHER_STEPS:
            return ""
        tenant_days, _ = task_tenant_days(ti_key)
        if len(tenant_days) != 1:
            return ""
        return tripletex_voucher_url(*tenant_days[0])
