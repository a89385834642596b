"""What every step shares: the night a run asks for, its outcomes, how a step tells its progress, and
which of a step's tenant-days stopped there."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from bookspot_tripletex.staging.night_steps import DONE, READY, STOPPED, StepRow, read, write
from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome, record_outcomes, run_outcomes

log = logging.getLogger("bookspot_tripletex.night")

Progress = Callable[[str], None]

OUTCOME_STEPS = {
    "extract": ("extract",),
    "journal": ("journal",),
    "validate": ("validate",),
    "load": ("approve", "activate", "load"),
    "reconcile": ("reconcile",),
}
"""The `day_outcomes` steps each night step records (activation and the approval gate are load's)."""


@dataclass(frozen=True)
class Night:
    """What a run asks: its id, its day (the last one it may post), and chosen days instead of due ones."""

    run_id: str
    until: dt.date
    days: tuple[dt.date, ...] | None = None
    dry_run: bool = False
    now: dt.datetime | None = None
    reconcile: bool = True
    """Read back from Tripletex, after a tenant's days, every day of it touched since its last
    reconciliation and the rolling pass (`load/reconcile.py`)."""


@dataclass
class NightResult:
    """Every tenant-day outcome of a night (or of a shard of it)."""

    outcomes: list[DayOutcome] = field(default_factory=list)

    def tally(self, outcomes: Iterable[DayOutcome] | None = None) -> str:
        chosen = list(self.outcomes if outcomes is None else outcomes)
        counts = Counter(o.outcome.value for o in chosen)
        transactions = sum(int(o.counts.get("transactions") or 0) for o in chosen)
        corrections = sum(int(o.counts.get("corrections") or 0) for o in chosen)
        parts = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "nothing due"
        text = f"{len(chosen)} tenant-day(s): {parts}; {transactions} transaction(s)"
        return text + (f"; {corrections} correction voucher(s)" if corrections else "")

    @property
    def corrected(self) -> list[DayOutcome]:
        """The tenant-days this run posted correction vouchers for."""
        return [o for o in self.outcomes if o.counts.get("corrections")]

    @property
    def needs_person(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.outcome.needs_person]

    @property
    def to_retry(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.outcome.retryable]

    def problems(self, limit: int = 20) -> str:
        """The tenants that need a retry or a person, each day with its reason and what releases it."""
        bad = self.to_retry + self.needs_person
        tenants = sorted({o.tenant for o in bad})
        lines = [f"{len(bad)} tenant-day(s) of {len(tenants)} tenant(s) not posted: {', '.join(tenants)}"]
        lines += [f"  {o.line()}" for o in bad[:limit]]
        if len(bad) > limit:
            lines.append(f"  ... and {len(bad) - limit} more (table day_outcomes)")
        return "\n".join(lines)


class Reporter(Protocol):
    """Where a step tells what it planned and each tenant-day's outcome."""

    def plan(self, tenant: str, days: list[dt.date], staged: int) -> None: ...

    def report(self, outcome: DayOutcome) -> None: ...


class LogReporter:
    """One log line per tenant's plan and per tenant-day outcome."""

    def __init__(self, say: Progress | None = None) -> None:
        self.say = say or log.info

    def plan(self, tenant: str, days: list[dt.date], staged: int) -> None:
        span = f"{days[0]} .. {days[-1]}" if days else "none"
        self.say(f"{tenant}: staged {staged} record(s); {len(days)} day(s) to do: {span}")

    def report(self, outcome: DayOutcome) -> None:
        self.say(outcome.line())


@dataclass
class StepResult:
    """One step's pass over its tenants: the tenant-days it took and the outcomes it decided."""

    step: str
    tenant_days: list[tuple[str, dt.date]] = field(default_factory=list)
    outcomes: list[DayOutcome] = field(default_factory=list)


def failed(tenant: str, day: dt.date, step: str, exc: Exception, counts: dict[str, Any]) -> DayOutcome:
    """A day that failed at a step: retry or a person, as `triage` reads the error."""
    from bookspot_tripletex.triage import action_for, classify, reason_of

    outcome = classify(exc)
    if outcome is Outcome.ERROR:
        log.exception("%s %s: %s failed unexpectedly", tenant, day, step, exc_info=exc)
    action = action_for(step, outcome, tenant, day, {})
    return DayOutcome(tenant, day, step, outcome, counts, reason_of(exc), action)


def to_take(conn: Connection, run_id: str, tenants: Sequence[str], step: str) -> list[StepRow]:
    """The rows a step takes: those the step before left ready, and those that stopped at this step
    before (a retry, or a person asked to run it again)."""
    from bookspot_tripletex.staging.night_steps import STEPS

    before = STEPS[STEPS.index(step) - 1]
    return [
        r
        for r in read(conn, run_id, tenants)
        if (r.step == before and r.state == READY) or (r.step == step and r.state == STOPPED)
    ]


def finished(row: StepRow, step: str, outcome: DayOutcome) -> StepRow:
    """The row of a day whose outcome the step decided: done, or stopped there."""
    state = DONE if outcome.outcome.done or outcome.outcome.waiting else STOPPED
    detail = {**row.detail, "outcome": outcome.as_detail()}
    return StepRow(row.tenant, row.day, step, state, outcome.outcome.value, detail)


def save(
    engine: Engine,
    run_id: str,
    step: str,
    rows: Sequence[StepRow],
    outcomes: Sequence[DayOutcome],
    retried: Iterable[StepRow] = (),
) -> None:
    """The step's rows and the outcomes it decided, together; the outcomes an earlier attempt of the step
    recorded for the days it took again (`retried`) give way."""
    from bookspot_tripletex.staging.outcomes import forget_days

    with engine.begin() as conn:
        forget_days(
            conn, run_id, [(r.tenant, r.day) for r in retried if r.state == STOPPED], OUTCOME_STEPS[step]
        )
        write(conn, run_id, rows)
        record_outcomes(conn, run_id, outcomes)


def stopped_at(engine: Engine, run_id: str, tenants: Sequence[str], step: str) -> NightResult:
    """The tenant-days of these tenants whose outcome in the run is a retry or a person's, at this step."""
    with engine.connect() as conn:
        rows = run_outcomes(conn, run_id, tenants=tenants)
    steps = OUTCOME_STEPS[step]
    found = [DayOutcome.from_row(r) for r in rows if r.step in steps]
    return NightResult([o for o in found if o.outcome.retryable or o.outcome.needs_person])
