"""Each tenant-day's outcome of a run, kept in `day_outcomes` for people, the review screen and alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, select

from bookspot_tripletex.staging.schema import day_outcomes
from bookspot_tripletex.staging.upsert import upsert


class Outcome(StrEnum):
    """Where a run left a tenant-day."""

    POSTED = "posted"
    CORRECTED = "corrected"
    """The day was posted before; this run posted correction voucher(s) for it (counts: how many, net)."""
    ALREADY_POSTED = "already_posted"
    EMPTY = "empty"
    DRY_RUN = "dry_run"
    AWAITING_APPROVAL = "awaiting_approval"
    HELD = "held"
    REFUSED = "refused"
    RETRY = "retry"
    ERROR = "error"

    @property
    def done(self) -> bool:
        return self in DONE

    @property
    def needs_person(self) -> bool:
        return self in NEEDS_PERSON

    @property
    def retryable(self) -> bool:
        return self in RETRYABLE

    @property
    def waiting(self) -> bool:
        return self in WAITING


DONE = frozenset({Outcome.POSTED, Outcome.CORRECTED, Outcome.ALREADY_POSTED, Outcome.EMPTY, Outcome.DRY_RUN})
NEEDS_PERSON = frozenset({Outcome.HELD, Outcome.REFUSED})
"""A person must act (the row's `action` says how) before the day can be posted."""
WAITING = frozenset({Outcome.AWAITING_APPROVAL})
"""Ready, waiting for a person's approval (load/approval.py): not a failure, neither of its shard nor of
its run; each run finds it still waiting and alerts again once it has waited longer than the tenant's
limit."""
RETRYABLE = frozenset({Outcome.RETRY, Outcome.ERROR})
"""Transient (Tripletex 5xx/429, connection errors, a busy voucher) or unexpected: the run retries."""


@dataclass
class DayOutcome:
    tenant: str
    day: dt.date
    step: str
    outcome: Outcome
    counts: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    action: str | None = None
    alert: str | None = None
    """A waiting day's alert to send (`new`, `overdue`); not stored."""

    def line(self) -> str:
        """One readable log line: tenant, day, outcome, counts, and the reason when there is one."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v not in (None, [], {}))
        text = f"{self.tenant} {self.day}: {self.outcome.value}"
        if self.outcome.needs_person or self.outcome.retryable or self.outcome.waiting:
            text += f" at {self.step}"
        if counts:
            text += f" ({counts})"
        if self.reason:
            text += f": {self.reason}"
        if self.action:
            text += f" -> {self.action}"
        return " / ".join(part.strip() for part in text.splitlines() if part.strip())

    def as_xcom(self) -> dict[str, str]:
        return {"tenant": self.tenant, "date": self.day.isoformat(), "outcome": self.outcome.value}

    def as_detail(self) -> dict[str, Any]:
        """What a later step needs to tell this outcome again (`from_detail`)."""
        return {
            "step": self.step,
            "outcome": self.outcome.value,
            "counts": self.counts,
            "reason": self.reason,
            "action": self.action,
        }

    @classmethod
    def from_detail(cls, tenant: str, day: dt.date, detail: dict[str, Any]) -> DayOutcome:
        return cls(
            tenant,
            day,
            detail["step"],
            Outcome(detail["outcome"]),
            dict(detail.get("counts") or {}),
            detail.get("reason"),
            detail.get("action"),
        )

    @classmethod
    def from_row(cls, row: Any) -> DayOutcome:
        """A `day_outcomes` row as an outcome."""
        return cls(
            row.tenant_id,
            row.local_date,
            row.step,
            Outcome(row.outcome),
            dict(row.counts or {}),
            row.reason,
            row.action,
        )


def record_outcomes(
    conn: Connection, run_id: str, outcomes: Sequence[DayOutcome], now: dt.datetime | None = None
) -> None:
    """Write the outcomes of `run_id`; a later attempt of the same run replaces its earlier rows."""
    now = now or dt.datetime.now(dt.UTC)
    rows = [
        {
            "tenant_id": o.tenant,
            "local_date": o.day,
            "run_id": run_id,
            "step": o.step,
            "outcome": o.outcome.value,
            "counts": o.counts,
            "reason": o.reason[:4000] if o.reason else None,
            "action": o.action,
            "recorded_at": now,
        }
        for o in outcomes
    ]
    keys = ["tenant_id", "local_date", "run_id"]
    upsert(conn, day_outcomes, rows, keys, ["step", "outcome", "counts", "reason", "action", "recorded_at"])


def latest_outcomes(
    conn: Connection,
    tenants: Iterable[str] | None = None,
    outcomes: Iterable[str] | None = None,
    before_run: str | None = None,
) -> list[Any]:
    """The newest row of every tenant-day (optionally of some tenants, or with some outcomes); with
    `before_run`, as it stood before that run (its own rows left out)."""
    newest = select(
        day_outcomes.c.tenant_id, day_outcomes.c.local_date, func.max(day_outcomes.c.id).label("id")
    ).group_by(day_outcomes.c.tenant_id, day_outcomes.c.local_date)
    if before_run is not None:
        newest = newest.where(day_outcomes.c.run_id != before_run)
    if tenants is not None:
        newest = newest.where(day_outcomes.c.tenant_id.in_(list(tenants)))
    newest_ids = newest.subquery()
    query = select(day_outcomes).join(newest_ids, day_outcomes.c.id == newest_ids.c.id)
    if outcomes is not None:
        query = query.where(day_outcomes.c.outcome.in_(list(outcomes)))
    return list(conn.execute(query.order_by(day_outcomes.c.tenant_id, day_outcomes.c.local_date)).all())


def run_outcomes(
    conn: Connection,
    run_id: str,
    outcomes: Iterable[str] | None = None,
    tenants: Iterable[str] | None = None,
) -> list[Any]:
    """The rows one run wrote (its latest attempt's), optionally only some outcomes or tenants."""
    query = select(day_outcomes).where(day_outcomes.c.run_id == run_id)
    if outcomes is not None:
        query = query.where(day_outcomes.c.outcome.in_(list(outcomes)))
    if tenants is not None:
        query = query.where(day_outcomes.c.tenant_id.in_(list(tenants)))
    return list(conn.execute(query.order_by(day_outcomes.c.tenant_id, day_outcomes.c.local_date)).all())


def forget_outcomes(
    conn: Connection, run_id: str, tenant: str, steps: Iterable[str] | None = None
) -> list[dt.date]:
    """Drop the run's rows of the tenant (only those recorded at `steps`, if given); the days they were."""
    query = delete(day_outcomes).where(day_outcomes.c.run_id == run_id, day_outcomes.c.tenant_id == tenant)
    if steps is not None:
        query = query.where(day_outcomes.c.step.in_(list(steps)))
    return sorted(conn.execute(query.returning(day_outcomes.c.local_date)).scalars())


def forget_days(
    conn: Connection, run_id: str, tenant_days: Iterable[tuple[str, dt.date]], steps: Iterable[str]
) -> None:
    """Drop the run's rows of these tenant-days recorded at `steps` (a retry got them past that step)."""
    chosen = list(steps)
    for tenant, day in tenant_days:
        conn.execute(
            delete(day_outcomes).where(
                day_outcomes.c.run_id == run_id,
                day_outcomes.c.tenant_id == tenant,
                day_outcomes.c.local_date == day,
                day_outcomes.c.step.in_(chosen),
            )
        )
