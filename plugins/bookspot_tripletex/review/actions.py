"""What a person may do from the review screen: release a held day, re-run a tenant-day, approve or
reject a day waiting for approval.

They act only through the pipeline's own functions (`staging.release`, `load.approval`) and Airflow's
own models (`trigger_dag`), on behalf of the Airflow user the request was authenticated as.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from bookspot_tripletex.staging.release import WHO_LENGTH, release_day

DAG_ID = "bookspot_tripletex_nightly"
RELEASED_BY_MAX = WHO_LENGTH


class ActionRefused(ValueError):
    """The action does not apply to this tenant-day (the message says why)."""


@dataclass(frozen=True)
class Released:
    tenant: str
    day: dt.date
    records: int
    released_by: str


def release(
    conn: Connection, tenant: str, day: dt.date, user: str, reason: str, status: str | None
) -> Released:
    """Release a held day's quarantined records; who and why are kept with every record released."""
    reason = " ".join(reason.split())
    if not reason:
        raise ActionRefused("say why the day is released")
    if status != "held":
        raise ActionRefused(f"{tenant} {day} is {status or 'not built'}, not held")
    released_by = f"{user}: {reason}"[:RELEASED_BY_MAX]
    count = release_day(conn, tenant, day, released_by)
    if count == 0:
        raise ActionRefused(
            f"{tenant} {day} has no quarantined records left to release; a day held by failed checks "
            "is corrected at the source or in its mapping and re-run"
        )
    return Released(tenant, day, count, released_by)


def decide(
    conn: Connection, tenant: str, day: dt.date, user: str, approve: bool, reason: str
) -> dict[str, Any]:
    """Approve or reject the day's open approval request; who, when and why are kept with it."""
    from bookspot_tripletex.load.approval import DecisionRefused
    from bookspot_tripletex.load.approval import decide as record_decision

    try:
        return record_decision(conn, tenant, day, user, approve, reason).as_dict()
    except DecisionRefused as exc:
        raise ActionRefused(str(exc)) from exc


def rerun_conf(tenant: str, day: dt.date) -> dict[str, Any]:
    """The run form's params for one tenant-day (the DAG's `tenants` and `day`)."""
    return {"tenants": [tenant], "day": day.isoformat()}


def trigger_rerun(tenant: str, day: dt.date, user: str, session: Any = None) -> str:
    """Queue a manual run of the nightly DAG for one tenant-day; returns its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound, DagRunAlreadyExists
    from airflow.utils.types import DagRunTriggeredByType

    kwargs = {"session": session} if session is not None else {}
    try:
        run = trigger_dag(
            DAG_ID,
            triggered_by=DagRunTriggeredByType.UI,
            triggering_user_name=user,
            conf=rerun_conf(tenant, day),
            note=f"Re-run of {tenant} {day.isoformat()} from the review screen by {user}",
            **kwargs,
        )
    except (DagNotFound, DagRunAlreadyExists, ValueError) as exc:
        raise ActionRefused(f"{DAG_ID} could not be triggered: {exc}") from exc
    if run is None:
        raise ActionRefused(f"{DAG_ID} could not be triggered")
    return str(run.run_id)
