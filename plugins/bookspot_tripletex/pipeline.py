"""The nightly steps for one tenant and local day, as plain functions the DAG and the CLI call, and the
night of many tenants (`run_night`) built from them: each step reads what the step before saved."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from bookspot_tripletex import settings
from bookspot_tripletex.domain import LOCKED_STATUSES
from bookspot_tripletex.feed.source import TransactionSource
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.load.post import TripletexLike, post_day
from bookspot_tripletex.load.state import (
    VoucherRow,
    get_voucher,
    record_validation,
    save_journal,
    set_report,
)
from bookspot_tripletex.money import nok_text
from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome
from bookspot_tripletex.staging.stage import stage_records
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.store import load_tenant
from bookspot_tripletex.triage import ExtractRefused

log = logging.getLogger(__name__)

EXTRACT_OVERLAP = dt.timedelta(days=2)


def stage_tenant(
    engine: Engine,
    tenant_id: str,
    source: TransactionSource,
    updated_from: dt.datetime,
    updated_to: dt.datetime,
) -> dict[str, Any]:
    """Extract records changed in [updated_from, updated_to) and stage them in one transaction."""
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
        result = stage_records(conn, tenant, source.iter_records(updated_from, updated_to))
    log.info("%s: staged %s", tenant_id, {k: v for k, v in result.as_dict().items() if k != "days"})
    return {"tenant": tenant_id, **result.as_dict()}


def extract_tenant(engine: Engine, tenant_id: str, now: dt.datetime) -> dict[str, Any]:
    """Stage what changed since the tenant's watermark (minus the overlap), then move the watermark.

    A refused token, an unknown account or a malformed answer raises `ExtractRefused` (retrying cannot
    help); 429, 5xx and connection errors, once the client's own retries are used up, raise as they are.
    The watermark moves only after the records are staged, so a failed run loses nothing.
    """
    from bookspot_tripletex.connections import bookspot_conn_id, open_source
    from bookspot_tripletex.feed.client import BookSpotError, BookSpotTransientError
    from bookspot_tripletex.staging.watermark import extract_window, save_watermark

    with engine.connect() as conn:
        updated_from, updated_to = extract_window(conn, tenant_id, now, EXTRACT_OVERLAP)
    conn_id = bookspot_conn_id(engine, tenant_id)
    try:
        source = open_source(engine, tenant_id)
    except ValueError as exc:
        raise ExtractRefused(f"{tenant_id}: BookSpot connection {conn_id!r}: {exc}") from exc
    try:
        result = stage_tenant(engine, tenant_id, source, updated_from, updated_to)
    except BookSpotTransientError:
        raise
    except BookSpotError as exc:
        raise ExtractRefused(f"{exc} (connection {conn_id!r})") from exc
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    with engine.begin() as conn:
        save_watermark(conn, tenant_id, updated_to, now)
    return {**result, "window": [updated_from.isoformat(), updated_to.isoformat()]}


def journal_day(engine: Engine, tenant_id: str, day: dt.date) -> dict[str, Any]:
    """Build the day's journal and save its draft voucher (never touching one already posted)."""
    with engine.begin() as conn:
        tenant = load_tenant(conn, tenant_id)
        existing = get_voucher(conn, tenant_id, day)
        if existing is not None and existing.status in ("posting", "posted"):
            return {"tenant": tenant_id, "date": day.isoformat(), "status": existing.status}
        journal = build_day(conn, tenant, day)
        row = save_journal(conn, journal)
    return {
        "tenant": tenant_id,
        "date": day.isoformat(),
        "status": row.status,
        "transactions": journal.transactions,
        "postings": len(row.postings),
        "quarantined": len(journal.quarantined),
        "missing_mappings": journal.missing_account_types,
    }


def validate_days(
    engine_or_conn: Engine | Connection,
    items: Sequence[tuple[str, dt.date] | DayJournal],
    run_id: str | None = None,
    reports_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Validate the journals the journal step saved, many tenant-days with one GX run per suite; store
    each day's report (and export it when a reports folder is set). Only a pass makes a day `ready`.

    items: (tenant, day) pairs, or the saved journals themselves. One result per item, in order."""
    if isinstance(engine_or_conn, Connection):
        return _validate_days(engine_or_conn, items, run_id, reports_dir)
    with engine_or_conn.begin() as conn:
        return _validate_days(conn, items, run_id, reports_dir)


def _validate_days(
    conn: Connection,
    items: Sequence[tuple[str, dt.date] | DayJournal],
    run_id: str | None,
    reports_dir: Path | None,
) -> list[dict[str, Any]]:
    from bookspot_tripletex.validation.batch import validate_journals
    from bookspot_tripletex.validation.chart import tenant_chart_svg
    from bookspot_tripletex.validation.history import range_warnings
    from bookspot_tripletex.validation.report import build_report, render_html, report_paths, write_report
    from bookspot_tripletex.validation.store import save_report, stored_journal, with_current_state

    now = dt.datetime.now(dt.UTC)
    run_id = run_id or f"manual-{now:%Y%m%dT%H%M%S.%f}"
    export = reports_dir or settings.reports_export_dir()
    tenants: dict[str, TenantConfig] = {}
    out: list[dict[str, Any]] = []
    todo: list[tuple[int, TenantConfig, DayJournal, VoucherRow]] = []
    for item in items:
        tenant_id, day = (item.tenant, item.date) if isinstance(item, DayJournal) else item
        result: dict[str, Any] = {"tenant": tenant_id, "date": day.isoformat()}
        out.append(result)
        row = get_voucher(conn, tenant_id, day)
        journal = item if isinstance(item, DayJournal) else stored_journal(conn, tenant_id, day)
        if row is None or journal is None:
            result.update(status="missing", error="no journal saved: run the journal step first")
        elif row.status in LOCKED_STATUSES:
            result.update(status=row.status, report=row.report_path)
        else:
            if tenant_id not in tenants:
                tenants[tenant_id] = load_tenant(conn, tenant_id)
            todo.append((len(out) - 1, tenants[tenant_id], journal, row))
    validated = iter(validate_journals(conn, [(t, j) for _, t, j, _ in todo if j.voucher is not None]))
    for index, tenant, journal, row in todo:
        checked = next(validated) if journal.voucher is not None else None
        if checked is not None:
            checked.warnings = range_warnings(conn, tenant.tenant, journal.date)
        report = build_report(tenant, journal, checked)
        path = str(report_paths(report, export)[1]) if export else None
        if checked is not None:
            record_validation(conn, row.id, checked.success, checked.summary(), path, now)
        else:
            set_report(conn, row.id, path, now)
        report = with_current_state(conn, report)
        html = render_html(report, tenant_chart_svg(conn, tenant.tenant, journal.date))
        stored = save_report(conn, report, html, run_id, now)
        if export:
            write_report(report, export, html)
        final = get_voucher(conn, tenant.tenant, journal.date)
        assert final is not None
        out[index].update(
            status=final.status,
            success=checked is not None and checked.success,
            failed_checks=checked.failed if checked is not None else [],
            warnings=[w["check"] for w in checked.warnings] if checked is not None else [],
            report=path,
            report_id=stored.id,
        )
    return out


def validate_day(
    engine: Engine,
    tenant_id: str,
    day: dt.date,
    reports_dir: Path | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Validate one tenant-day's saved journal (see validate_days)."""
    return validate_days(engine, [(tenant_id, day)], run_id, reports_dir)[0]


def _validate_batch(
    engine: Engine, tenant_days: Sequence[tuple[str, dt.date]], run_id: str | None
) -> dict[tuple[str, dt.date], dict[str, Any] | Exception]:
    """A batch's tenant-days in one validation; should the batch fail as a whole, day by day, so that one
    day's failure is that day's outcome only."""
    try:
        results = validate_days(engine, tenant_days, run_id)
        return dict(zip(tenant_days, results, strict=True))
    except Exception as exc:
        log.warning(
            "validating %d tenant-days together failed (%s); validating them one by one",
            len(tenant_days),
            exc,
        )
    out: dict[tuple[str, dt.date], dict[str, Any] | Exception] = {}
    for tenant_day in tenant_days:
        try:
            out[tenant_day] = validate_days(engine, [tenant_day], run_id)[0]
        except Exception as exc:  # one day's failure is that day's outcome, never the others'
            out[tenant_day] = exc
    return out


def activate_day(engine: Engine, tenant_id: str, day: dt.date, client: Any) -> dict[str, Any]:
    """Before a mapping version's first night: the key works and every mapped account takes its postings."""
    from bookspot_tripletex.load.activation import ensure_activated

    return ensure_activated(engine, tenant_id, day, client)


def reconcile_tenant(engine: Engine, tenant_id: str, client: Callable[[], Any]) -> dict[str, Any]:
    """Check every day of the tenant touched since its last reconciliation (and the rolling pass) against
    Tripletex; a day not in the ledger exactly once, as its journal says, raises ReconcileMismatch.

    What the load step listed (`read_back_tenant`) is compared from staging; `client()` makes the
    Tripletex client only when something is left to ask Tripletex."""
    from bookspot_tripletex.load.reconcile import reconcile

    with engine.connect() as conn:
        tenant = load_tenant(conn, tenant_id)
    since = dt.datetime.now(dt.UTC)
    try:
        return reconcile(engine, tenant, client)
    finally:
        refresh_touched(engine, tenant_id, since, "reconciled")


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


def refresh_touched(engine: Engine, tenant_id: str, since: dt.datetime, event: str) -> list[dt.date]:
    """Render again the stored report of every day of the tenant whose vouchers changed since `since`
    (a correction, a reversal, a re-post, a note of reconciliation); a day without a report is skipped."""
    from sqlalchemy import select

    from bookspot_tripletex.staging.schema import vouchers
    from bookspot_tripletex.validation.store import refresh_report

    with engine.connect() as conn:
        days = sorted(
            set(
                conn.execute(
                    select(vouchers.c.local_date).where(
                        vouchers.c.tenant_id == tenant_id, vouchers.c.updated_at >= since
                    )
                ).scalars()
            )
        )
    for day in days:
        try:
            with engine.begin() as conn:
                refresh_report(conn, tenant_id, day, None, event)
        except Exception as exc:  # the ledger is right either way; the next refresh catches up
            log.warning("%s %s: report not refreshed: %s", tenant_id, day, exc)
    return days


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


TENANT_BATCH = 10
"""Tenants a night takes at a time: their days are validated together and logged as one batch."""

Progress = Callable[[str], None]


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


def _failed(tenant: str, day: dt.date, step: str, exc: Exception, counts: dict[str, Any]) -> DayOutcome:
    from bookspot_tripletex.triage import action_for, classify, reason_of

    outcome = classify(exc)
    if outcome is Outcome.ERROR:
        log.exception("%s %s: %s failed unexpectedly", tenant, day, step, exc_info=exc)
    action = action_for(step, outcome, tenant, day, {})
    return DayOutcome(tenant, day, step, outcome, counts, reason_of(exc), action)


def _held_reason(journal: dict[str, Any], validated: dict[str, Any]) -> str:
    reasons = []
    if journal.get("quarantined"):
        reasons.append(f"{journal['quarantined']} quarantined record(s)")
    if journal.get("missing_mappings"):
        reasons.append("no account mapped for " + ", ".join(journal["missing_mappings"]))
    if validated.get("failed_checks"):
        reasons.append("validation failed: " + ", ".join(validated["failed_checks"]))
    return "; ".join(reasons) or "held"


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


def _run_batch(engine: Engine, batch: Sequence[str], night: Night, track: _Tracker) -> None:
    from bookspot_tripletex.staging.due import (
        chosen_days,
        correction_days,
        due_days,
        start_dates,
        voucher_states,
    )

    now = night.now or dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        starts = start_dates(conn, batch)
        states = voucher_states(conn, batch, night.until)
    work: dict[str, list[dt.date]] = {}
    for tenant in batch:
        if tenant not in starts:
            missing = LookupError(f"tenant {tenant!r} is not imported")
            track.report(_failed(tenant, night.until, "extract", missing, {}))
            continue
        start, chosen = starts[tenant], night.days is not None
        if chosen:
            planned = chosen_days(start, night.until, night.days or ())
        else:
            planned = due_days(start, night.until, states[tenant])
        try:
            staged = extract_tenant(engine, tenant, now)
        except Exception as exc:
            track.plan(tenant, planned or [night.until], 0)
            for day in planned or [night.until]:
                track.report(_failed(tenant, day, "extract", exc, {}))
            continue
        if not chosen:
            touched = [dt.date.fromisoformat(d) for d in staged["days"]]
            planned = due_days(start, night.until, states[tenant], touched)
            with engine.connect() as conn:
                corrected = correction_days(conn, [tenant], night.until)[tenant]
            planned = sorted(set(planned) | {d for d in corrected if d >= start})
        track.plan(tenant, planned, staged["staged"])
        work[tenant] = planned
    journals: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for tenant, days in work.items():
        for day in days:
            try:
                journals[(tenant, day)] = journal_day(engine, tenant, day)
            except Exception as exc:
                track.report(_failed(tenant, day, "journal", exc, {}))
    validated = _validate_batch(engine, list(journals), night.run_id)
    for tenant, days in work.items():
        client = _Client(engine, tenant)
        finished: list[DayOutcome] = []
        for day in days:
            if (tenant, day) in journals:
                result = validated.get((tenant, day), KeyError("not validated"))
                finished.append(
                    _finish_day(engine, tenant, day, journals[(tenant, day)], result, client, night)
                )
                track.report(finished[-1])
        clean = all(o.outcome.done or o.outcome.waiting for o in finished)
        if night.reconcile and not night.dry_run and clean:
            if client.made:
                read_back_tenant(engine, tenant, client.get())
            for outcome in _reconciled(engine, tenant, client, night.until):
                track.report(outcome)


def _reconciled(engine: Engine, tenant: str, client: _Client, until: dt.date) -> list[DayOutcome]:
    """Reconcile the tenant; each day it holds is an outcome of its own, with that day's problems, and a
    day it held before that now agrees is settled again."""
    from bookspot_tripletex.load.errors import ReconcileMismatch
    from bookspot_tripletex.staging.outcomes import latest_outcomes
    from bookspot_tripletex.triage import CLI

    try:
        result = reconcile_tenant(engine, tenant, client.get)
    except ReconcileMismatch as exc:
        if not exc.days:
            return [_failed(tenant, until, "reconcile", exc, {})]
        action = (
            f"compare `{CLI} voucher --tenant {tenant} --date <day>` with Tripletex; reverse an extra "
            f"voucher there, or `{CLI} reconcile --tenant {tenant} --repair` to reverse duplicates of "
            "ours and post a day again whose voucher was deleted"
        )
        return [
            DayOutcome(tenant, day, "reconcile", Outcome.HELD, {}, "; ".join(problems), action)
            for day, problems in sorted(exc.days.items())
        ]
    except Exception as exc:
        return [_failed(tenant, until, "reconcile", exc, {})]
    checked = set(result.get("checked", ()))
    with engine.connect() as conn:
        held = latest_outcomes(conn, [tenant], [Outcome.HELD.value])
    return [
        DayOutcome(tenant, row.local_date, "reconcile", Outcome.ALREADY_POSTED)
        for row in held
        if row.step == "reconcile" and row.local_date.isoformat() in checked
    ]


def run_night(
    engine: Engine,
    tenant_ids: Sequence[str],
    night: Night,
    progress: Progress | None = None,
    batch_size: int = TENANT_BATCH,
) -> NightResult:
    """Every step for every tenant's days, one tenant's failure never stopping the others.

    Each tenant-day's outcome is written to `day_outcomes` and told to `progress` as one line; so is each
    batch of tenants, with what is left. Nothing raises for a tenant-day: the caller reads the result.
    """
    from bookspot_tripletex.staging.outcomes import record_outcomes

    track = _Tracker(progress or log.info, len(tenant_ids))
    size = max(1, batch_size)
    batches = [list(tenant_ids[i : i + size]) for i in range(0, len(tenant_ids), size)]
    for number, batch in enumerate(batches, start=1):
        _run_batch(engine, batch, night, track)
        outcomes = track.end_batch(number, len(batches), min(number * size, len(tenant_ids)))
        with engine.begin() as conn:
            record_outcomes(conn, night.run_id, outcomes)
    return track.result
