"""Load: for each validated tenant-day, the approval gate, activation before a mapping version's first
night, and the voucher posted exactly once; `run` takes the days the validate step left ready."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.load.post import TripletexLike, post_day
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.money import nok_text
from bookspot_tripletex.staging.night_steps import StepRow
from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome
from bookspot_tripletex.steps.base import Night, Reporter, StepResult, finished, save, to_take
from bookspot_tripletex.steps.base import failed as _failed
from bookspot_tripletex.steps.validate import _held_reason
from bookspot_tripletex.tenants.store import load_tenant

log = logging.getLogger("bookspot_tripletex.pipeline")

STEP = "load"


def activate_day(engine: Engine, tenant_id: str, day: dt.date, client: Any) -> dict[str, Any]:
    """Before a mapping version's first night: the key works and every mapped account takes its postings."""
    from bookspot_tripletex.load.activation import ensure_activated

    return ensure_activated(engine, tenant_id, day, client)


def corrections_posted(engine: Engine, loaded: dict[str, Any]) -> tuple[int, int | None]:
    """How many of a load's correction vouchers reached Tripletex, and the net change they made to the
    day's sales in øre (None when a journal it needs was not kept)."""
    from bookspot_tripletex.money import parse_nok
    from bookspot_tripletex.validation.versions import day_versions

    done = {
        int(c["version"])
        for c in loaded.get("corrections") or []
        if c.get("outcome") in ("posted", "found_existing")
    }
    if not done:
        return 0, None
    with engine.connect() as conn:
        versions = day_versions(conn, loaded["tenant"], dt.date.fromisoformat(loaded["date"]))
    changes = [v["sales_change"] for v in versions if v["version"] in done]
    if any(c is None for c in changes):
        return len(done), None
    return len(done), sum(parse_nok(c) for c in changes)


def load_day(
    engine: Engine,
    tenant_id: str,
    day: dt.date,
    client: TripletexLike | None,
    claimant: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
    result = post_day(engine, tenant, day, client, claimant, dry_run=dry_run)
    corrected = any(c.get("outcome") in ("posted", "found_existing") for c in result.get("corrections") or [])
    if result["outcome"] == "posted" or corrected:
        from bookspot_tripletex.validation.store import refresh_report

        event = "posted" if result["outcome"] == "posted" else "corrected"
        try:
            with engine.begin() as conn:
                refresh_report(conn, tenant_id, day, claimant, event)
        except LookupError as exc:  # posted either way; the report catches up on the next refresh
            log.warning("%s %s: report not refreshed: %s", tenant_id, day, exc)
    if result["outcome"] == "posted" and tenant.attach_report and client is not None:
        result["attachment"] = attach_report(engine, client, result)
    return result


def attach_report(engine: Engine, client: Any, posted: dict[str, Any]) -> str:
    """Upload the day's current report (refreshed after posting) as PDF onto its voucher; a failure is
    reported, the voucher stays posted."""
    from bookspot_tripletex.validation.pdf import render_pdf
    from bookspot_tripletex.validation.store import latest_report

    with engine.connect() as conn:
        stored = latest_report(
            conn, posted["tenant"], dt.date.fromisoformat(posted["date"]), posted.get("version")
        )
    if stored is None:
        return "skipped: no report"
    report = stored.model
    filename = f"bookspot-{posted['tenant']}-{posted['date']}-v{posted['version']}.pdf"
    try:
        client.upload_attachment(
            posted["tripletex_voucher_id"], filename, render_pdf(report), "application/pdf"
        )
    except Exception as exc:  # the voucher is posted either way; say so rather than fail the night
        log.warning("%s %s: report not attached: %s", posted["tenant"], posted["date"], exc)
        return f"failed: {exc}"
    return filename


def read_back_tenant(engine: Engine, tenant_id: str, client: Any) -> dict[str, Any]:
    """The load step's end for a tenant: one listing (per run of nearby dates) of what this night's
    reconciliation checks, with the load's session, saved in staging for the reconcile step. A failure
    is logged: reconciliation then lists for itself."""
    from bookspot_tripletex.load.ledger import read_for_reconcile

    try:
        return read_for_reconcile(engine, tenant_id, client)
    except Exception as exc:  # reconciliation asks Tripletex itself
        log.warning("%s: ledger not read for reconciliation (%s); it reads it itself", tenant_id, exc)
        return {"tenant": tenant_id, "error": str(exc)}


class _Client:
    """A tenant's Tripletex client, made on first use; a failure to make it is every later day's too."""

    def __init__(self, engine: Engine, tenant_id: str) -> None:
        self.engine, self.tenant_id = engine, tenant_id
        self._client: Any = None
        self._error: Exception | None = None

    @property
    def made(self) -> bool:
        """Whether a step of this night already used the client (its session is there)."""
        return self._client is not None

    def get(self) -> Any:
        if self._error is not None:
            raise self._error
        if self._client is None:
            from bookspot_tripletex.connections import tripletex_client

            try:
                self._client = tripletex_client(self.engine, self.tenant_id)
            except Exception as exc:
                self._error = exc
                raise
        return self._client


LOAD_OUTCOMES = {
    "posted": Outcome.POSTED,
    "found_existing": Outcome.POSTED,
    "already_posted": Outcome.ALREADY_POSTED,
    "empty": Outcome.EMPTY,
    "dry_run": Outcome.DRY_RUN,
    "held": Outcome.HELD,
    "failed": Outcome.REFUSED,
    "awaiting_approval": Outcome.AWAITING_APPROVAL,
}


def _finish_day(
    engine: Engine,
    tenant: str,
    day: dt.date,
    journal: dict[str, Any],
    validated: dict[str, Any] | Exception,
    client: _Client,
    night: Night,
) -> DayOutcome:
    """Activate, load and reconcile one journaled and validated tenant-day."""
    from bookspot_tripletex.triage import action_for

    counts = {k: journal.get(k) for k in ("transactions", "postings", "quarantined")}
    if isinstance(validated, Exception):
        return _failed(tenant, day, "validate", validated, counts)
    if validated["status"] == "held":
        detail = {**journal, "report": validated.get("report")}
        action = action_for("validate", Outcome.HELD, tenant, day, detail)
        return DayOutcome(
            tenant, day, "validate", Outcome.HELD, counts, _held_reason(journal, validated), action
        )
    if validated["status"] == "ready" and not night.dry_run:
        try:
            waits = _approval_gate(engine, tenant, day, night, counts)
        except Exception as exc:
            return _failed(tenant, day, "approve", exc, counts)
        if waits is not None:
            return waits
    step = "activate"
    try:
        postable = validated["status"] in ("ready", "posting") and not night.dry_run
        if postable:
            activate_day(engine, tenant, day, client.get())
        step = "load"
        claimant = f"{night.run_id}/{tenant}"
        correctable = (
            validated["status"] in ("posted", "reversed") and not night.dry_run and _owed(engine, tenant, day)
        )
        needs_client = postable or correctable
        loaded = load_day(
            engine, tenant, day, client.get() if needs_client else None, claimant, night.dry_run
        )
        outcome = LOAD_OUTCOMES.get(loaded["outcome"], Outcome.ERROR)
        if loaded.get("tripletex_number"):
            counts["voucher"] = loaded["tripletex_number"]
        corrections, net = corrections_posted(engine, loaded)
        if corrections:
            counts["corrections"] = corrections
            counts["net"] = None if net is None else f"{nok_text(net)} NOK"
            if outcome is Outcome.ALREADY_POSTED:
                outcome = Outcome.CORRECTED
        if loaded["outcome"] == "found_existing":
            counts["found_in_tripletex"] = True
        reason = None if outcome.done else (loaded.get("error") or f"voucher is {loaded['outcome']}")
    except Exception as exc:
        return _failed(tenant, day, step, exc, counts)
    action = action_for(step, outcome, tenant, day, {**journal, "report": loaded.get("report")})
    return DayOutcome(tenant, day, step, outcome, counts, reason, action)


def _approval_gate(
    engine: Engine, tenant: str, day: dt.date, night: Night, counts: dict[str, Any]
) -> DayOutcome | None:
    """None when the day may be posted; else it waits for a person or was rejected (held with the
    reason). A waiting day's outcome says when to alert: `new` when it starts waiting, `overdue` once it
    waited longer than the tenant's limit since its last alert (the night task sends them)."""
    from bookspot_tripletex.load.approval import gate
    from bookspot_tripletex.triage import action_for

    now = night.now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        row = get_voucher(conn, tenant, day)
        if row is None:
            raise LookupError(f"{tenant} {day}: no voucher built")
        found = gate(conn, load_tenant(conn, tenant), row, night.run_id, now)
    if found.may_post:
        return None
    _refresh(engine, tenant, day, night.run_id, found.state)
    outcome = Outcome.AWAITING_APPROVAL if found.state == "awaiting" else Outcome.HELD
    reason = found.held_reason if found.state == "rejected" else found.why
    action = action_for("approve", outcome, tenant, day, {})
    return DayOutcome(tenant, day, "approve", outcome, counts, reason, action, alert=found.alert)


def _refresh(engine: Engine, tenant: str, day: dt.date, run_id: str, event: str) -> None:
    from bookspot_tripletex.validation.store import refresh_report

    try:
        with engine.begin() as conn:
            refresh_report(conn, tenant, day, run_id, event)
    except LookupError as exc:
        log.warning("%s %s: report not refreshed: %s", tenant, day, exc)


def _owed(engine: Engine, tenant: str, day: dt.date) -> bool:
    from bookspot_tripletex.load.corrections import owed

    with engine.connect() as conn:
        return owed(conn, tenant, day)


def run(engine: Engine, night: Night, tenants: Sequence[str], track: Reporter) -> StepResult:
    """Load every validated tenant-day, tenant by tenant (`_finish_day`, with one Tripletex client per
    tenant); each tenant's outcomes are saved before the next tenant starts."""
    with engine.connect() as conn:
        rows = to_take(conn, night.run_id, tenants, STEP)
    result = StepResult(STEP, [(r.tenant, r.day) for r in rows])
    for tenant, days in groupby(rows, key=lambda r: r.tenant):
        client = _Client(engine, tenant)
        out: list[StepRow] = []
        outcomes: list[DayOutcome] = []
        taken = list(days)
        for row in taken:
            journal = row.detail.get("journal") or {}
            validated = row.detail.get("validated") or {}
            outcome = _finish_day(engine, tenant, row.day, journal, validated, client, night)
            track.report(outcome)
            outcomes.append(outcome)
            out.append(finished(row, STEP, outcome))
        save(engine, night.run_id, STEP, out, outcomes, retried=taken)
        clean = all(o.outcome.done or o.outcome.waiting for o in outcomes)
        if night.reconcile and not night.dry_run and clean and client.made:
            read_back_tenant(engine, tenant, client.get())
        result.outcomes += outcomes
    return result
