"""The tenant-days of a run and the step each reached (`night_steps`): what one step of the night leaves for
the next, so that each step runs (and is retried) on its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bookspot_tripletex.staging.schema import night_steps
from bookspot_tripletex.staging.upsert import upsert

STEPS = ("extract", "journal", "validate", "load", "reconcile")
"""The night's steps in order; activation and the approval gate belong to load."""

READY = "ready"
"""The step finished the day: the next step takes it."""
STOPPED = "stopped"
"""The day stopped at the step (held, refused, or to retry): its outcome is in `day_outcomes`."""
DONE = "done"
"""The day is through load (posted, empty, dry run, waiting for approval, …)."""
IDLE = "idle"
"""A tenant extracted with nothing due (one row, on the run's day)."""


@dataclass
class StepRow:
    tenant: str
    day: dt.date
    step: str
    state: str
    outcome: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def read(conn: Connection, run_id: str, tenants: Iterable[str]) -> list[StepRow]:
    """The run's rows of these tenants, by tenant and day."""
    query = (
        select(night_steps)
        .where(night_steps.c.run_id == run_id, night_steps.c.tenant_id.in_(list(tenants)))
        .order_by(night_steps.c.tenant_id, night_steps.c.local_date)
    )
    return [
        StepRow(r.tenant_id, r.local_date, r.step, r.state, r.outcome, dict(r.detail or {}))
        for r in conn.execute(query)
    ]


def write(conn: Connection, run_id: str, rows: Sequence[StepRow], now: dt.datetime | None = None) -> None:
    """Save rows (a later step's row replaces the earlier one of the same tenant-day)."""
    now = now or dt.datetime.now(dt.UTC)
    values = [
        {
            "run_id": run_id,
            "tenant_id": r.tenant,
            "local_date": r.day,
            "step": r.step,
            "state": r.state,
            "outcome": r.outcome,
            "detail": r.detail,
            "updated_at": now,
        }
        for r in rows
    ]
    keys = ["run_id", "tenant_id", "local_date"]
    upsert(conn, night_steps, values, keys, ["step", "state", "outcome", "detail", "updated_at"])


def move(conn: Connection, run_id: str, tenant: str, step: str) -> None:
    """Every row of the tenant reached `step` (their states kept)."""
    conn.execute(
        update(night_steps)
        .where(night_steps.c.run_id == run_id, night_steps.c.tenant_id == tenant)
        .values(step=step, updated_at=dt.datetime.now(dt.UTC))
    )


def forget(conn: Connection, run_id: str, tenants: Iterable[str]) -> None:
    """Drop the run's rows of these tenants (a new pass over them starts from extract)."""
    conn.execute(
        delete(night_steps).where(night_steps.c.run_id == run_id, night_steps.c.tenant_id.in_(list(tenants)))
    )


def prune(conn: Connection, before: dt.datetime) -> int:
    """Drop the rows of runs last written before `before`; the outcomes stay in `day_outcomes`."""
    return conn.execute(delete(night_steps).where(night_steps.c.updated_at < before)).rowcount or 0
