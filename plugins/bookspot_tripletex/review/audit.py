"""Airflow's audit log (Browse > Audit Log, `/api/v2/eventLogs`) for what a person did on the review screen.

An entry is written only once the action has happened, in the request's own session (committed with
it), so a refused or malformed request never appears as a release or a re-run.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bookspot_tripletex.review.actions import DAG_ID


def record(
    session: Any, event: str, user: Any, tenant: str, day: dt.date, run_id: str | None = None, **extra: Any
) -> None:
    """Add the audit entry of one action on a tenant-day, masked as Airflow masks its own entries."""
    from airflow._shared.secrets_masker.secrets_masker import redact
    from airflow.models.log import Log

    fields = {"tenant": tenant, "day": day.isoformat(), **extra, "method": "POST"}
    session.add(
        Log(
            event=event,
            owner=user.get_name(),
            owner_display_name=user.get_name(),
            extra=json.dumps({k: redact(v, k) for k, v in fields.items()}),
            dag_id=DAG_ID,
            run_id=run_id,
        )
    )
