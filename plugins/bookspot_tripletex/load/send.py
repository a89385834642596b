"""Send one voucher row (a day or a correction) to Tripletex exactly once, under a fenced claim.

`post_row` returns an outcome: posted / already_posted / found_existing / held / failed / empty /
dry_run / awaiting_approval (a person approves it first, `load/approval.py`). It raises `DayRefused`
(no retry can help: fail the task with the reason), `VoucherBusy` (another run holds the claim; retry)
and lets transient errors (rate limits, unclear answers, a lost claim) propagate for the task's retries.
The day, its corrections and reconciliation's repairs all post through it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal, Protocol

from sqlalchemy import Engine

from bookspot_tripletex.domain import VoucherStatus, voucher_description
from bookspot_tripletex.journal.model import Voucher
from bookspot_tripletex.load import claims
from bookspot_tripletex.load.errors import ClaimLost, DayRefused, VoucherBusy, WrongCompany
from bookspot_tripletex.load.ids import resolved_ids
from bookspot_tripletex.load.protocol import ClosedPeriod, Sent, names_mapping, post_once, write_budget
from bookspot_tripletex.load.state import VoucherRow, day_versions, get_voucher_by_id
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.tenants.config import TenantConfig

log = logging.getLogger(__name__)

__all__ = ["DayRefused", "Outcome", "VoucherBusy", "check_company", "first_open_after", "post_row", "summary"]

MOVABLE = ("correction", "repost")
"""Kinds of voucher a closed period moves to the first open date; the day itself is refused instead."""
POSTED_OR_REVERSED = (VoucherStatus.POSTED, VoucherStatus.REVERSED)
Outcome = Literal[
    "posted", "already_posted", "found_existing", "held", "failed", "empty", "dry_run", "awaiting_approval"
]
NOT_POSTABLE: dict[str, Outcome] = {
    VoucherStatus.AWAITING_APPROVAL: "awaiting_approval",
    VoucherStatus.HELD: "held",
    VoucherStatus.FAILED: "failed",
    VoucherStatus.EMPTY: "empty",
    VoucherStatus.DRAFT: "held",
    VoucherStatus.BUILT: "held",
}


class TripletexLike(Protocol):
    timeout: float

    def who_am_i(self, fields: str | None = None) -> dict[str, Any]: ...
    def accounts_by_number(self, numbers: list[int]) -> dict[int, dict[str, Any]]: ...
    def vat_types_by_number(self, numbers: list[int]) -> dict[int, dict[str, Any]]: ...
    def voucher_type_by_name(self, name: str) -> dict[str, Any] | None: ...


def description(row: VoucherRow) -> str:
    return voucher_description(row.date, row.version if row.kind == "correction" else None)


def as_voucher(row: VoucherRow) -> Voucher:
    assert row.mapping_version_id is not None
    return Voucher(
        tenant=row.tenant,
        date=row.effective_date,
        version=row.version,
        description=description(row),
        external_number=row.external_number,
        postings=row.postings,
        mapping_version_id=row.mapping_version_id,
        mapping_valid_from=row.date,
    )


def summary(row: VoucherRow, outcome: str) -> dict[str, Any]:
    return {
        "tenant": row.tenant,
        "date": row.date.isoformat(),
        "version": row.version,
        "kind": row.kind,
        "outcome": outcome,
        "status": row.status,
        "external_number": row.external_number,
        "posting_date": row.effective_date.isoformat(),
        "tripletex_voucher_id": row.tripletex_voucher_id,
        "tripletex_number": row.tripletex_number,
        "company_id": row.company_id,
        "postings": [p.as_preview() for p in row.postings],
        "sum": format_nok(sum(p.amount_ore for p in row.postings)),
        "report": row.report_path,
        "note": row.note,
        "error": row.error,
    }


def post_row(
    engine: Engine,
    tenant: TenantConfig,
    row: VoucherRow,
    client: TripletexLike | None,
    claimant: str,
    dry_run: bool = False,
    reconcile: bool = True,
) -> dict[str, Any]:
    """Post one voucher row (a day or a correction) under a fenced claim."""
    if row.status in (VoucherStatus.POSTED, VoucherStatus.REVERSED):
        return summary(row, "already_posted")
    if row.status in NOT_POSTABLE:
        return summary(row, NOT_POSTABLE[row.status])
    with engine.connect() as conn:
        broken = chain_refusal(day_versions(conn, row.tenant, row.date), row)
    if broken is not None:
        raise DayRefused(broken)
    if dry_run:
        return summary(row, "dry_run")
    if client is None:
        raise ValueError("a Tripletex client is required unless dry_run")
    try:
        company_id = check_company(tenant, client, row, engine)
    except WrongCompany as exc:
        from bookspot_tripletex.load.binding import request_recheck

        request_recheck(engine, tenant.tenant, str(exc))
        raise
    budget = write_budget(client)  # type: ignore[arg-type]
    if claims.lease().total_seconds() < 2 * budget:
        raise ValueError(
            f"the claim lease ({claims.lease().total_seconds():.0f} s) must be at least twice the client's "
            f"write timeout ({budget:.0f} s)"
        )
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        claim = claims.take(conn, row, claimant, now)
        current = get_voucher_by_id(conn, row.id)
    assert current is not None
    if claim is None:
        if current.status == VoucherStatus.POSTED:
            return summary(current, "already_posted")
        raise claims.busy(current)
    try:
        with claims.heartbeat(engine, claim):
            sent = _post_claimed(engine, tenant, row, current, client, claim, company_id)
    except ClaimLost:
        raise
    except DayRefused as exc:
        if names_mapping(exc):
            from bookspot_tripletex.load.binding import request_recheck

            request_recheck(engine, tenant.tenant, str(exc))
        _drop_draft(engine, claim, client)
        _fail(engine, claim, str(exc))
        raise
    except BaseException as exc:
        _release(engine, claim, f"{type(exc).__name__}: {exc}")
        raise
    with engine.begin() as conn:
        done = get_voucher_by_id(conn, row.id)
    assert done is not None
    outcome: Outcome = "posted" if sent.created else "found_existing"
    log.info("%s: voucher %s %s", done.external_number, done.tripletex_number, outcome)
    result = summary(done, outcome)
    if reconcile:
        from bookspot_tripletex.load.readback import check_voucher

        check_voucher(engine, client, done, sent.voucher)
    return result


def chain_refusal(rows: list[VoucherRow], row: VoucherRow) -> str | None:
    """The one rule for every path that writes: a day has one voucher chain. Version 1 is posted only
    while no later version exists; a later version (correction, re-post) only after an earlier one was
    posted. Why `row` may not be posted, or None."""
    later = [r.version for r in rows if r.version > row.version]
    if row.version == 1 and later:
        return (
            f"{row.external_number}: the day already has version(s) {later} although version 1 was never "
            "posted; nothing is posted: reconcile the day with Tripletex first"
        )
    if row.version > 1 and not any(r.version < row.version and r.status in POSTED_OR_REVERSED for r in rows):
        return (
            f"{row.external_number}: no earlier version of the day was ever posted; a correction or re-post "
            "applies only to a posted day, so nothing is posted"
        )
    return None


def check_company(
    tenant: TenantConfig, client: Any, row: VoucherRow | None = None, engine: Engine | None = None
) -> int | None:
    """The company the connection reaches; refused when it is not the tenant's (or the row's earlier one).

    With `engine`, what staging's binding kept is used while the same connection was checked recently
    and nothing asked for a re-check (`load/binding.py`); otherwise `whoAmI` is asked (and kept)."""
    if engine is not None:
        from bookspot_tripletex.load.binding import ensure_company

        return ensure_company(
            engine,
            tenant,
            client,
            row.company_id if row is not None else None,
            row.external_number if row is not None else None,
        )
    me = client.who_am_i(fields="companyId")
    actual = me.get("companyId")
    actual = int(actual) if actual is not None else None
    expected = tenant.tripletex_company_id
    if expected is not None and actual is not None and int(expected) != actual:
        raise WrongCompany(
            f"{tenant.tenant}: the Tripletex connection reaches company {actual}, but the tenant's company "
            f"is {expected}; fix the connection {tenant.tripletex_conn_id!r}. Nothing was posted."
        )
    if row is not None and row.company_id is not None and actual is not None and row.company_id != actual:
        raise WrongCompany(
            f"{row.external_number} was begun in company {row.company_id}, but the connection now reaches "
            f"company {actual}. Nothing was posted."
        )
    return actual


def _post_claimed(
    engine: Engine,
    tenant: TenantConfig,
    before: VoucherRow,
    current: VoucherRow,
    client: Any,
    claim: claims.Claim,
    company_id: int | None,
) -> Sent:
    from bookspot_tripletex.tripletex.errors import PayloadError
    from bookspot_tripletex.tripletex.payload import voucher_payload

    with engine.begin() as conn:
        claims.fenced(conn, claim, dt.datetime.now(dt.UTC), company_id=company_id)
    refreshed = False
    moved = 0
    row = _as_before(current, before)
    if row.kind in MOVABLE:
        row = _to_open_period(engine, claim, client, row)
    while True:
        voucher = as_voucher(row)
        ids = resolved_ids(
            engine,
            client,
            tenant.tenant,
            row.mapping_version_id or 0,
            company_id,
            {p.account for p in voucher.postings},
            {p.vat_type for p in voucher.postings},
            tenant.voucher_type,
            refresh=refreshed,
        )
        try:
            payload = voucher_payload(
                voucher,
                ids.accounts,
                ids.vat_types,
                ids.voucher_types.get(tenant.voucher_type) if tenant.voucher_type else None,
            )
        except PayloadError as exc:
            raise DayRefused(f"{row.external_number}: {exc}") from exc
        try:
            sent = post_once(engine, claim, client, row, payload)
        except ClosedPeriod as exc:
            if row.kind not in MOVABLE or moved >= 24:
                raise
            moved += 1
            row = _move(engine, claim, row, str(exc))
            continue
        except DayRefused as exc:
            if names_mapping(exc):
                from bookspot_tripletex.load.binding import request_recheck

                request_recheck(engine, tenant.tenant, str(exc))
            if refreshed:
                raise
            refreshed = True  # ids from staging may be stale (chart changed): resolve once more
            with engine.begin() as conn:
                fresh = get_voucher_by_id(conn, row.id)
            assert fresh is not None
            row = _as_before(fresh, before)
            continue
        _mark_posted(engine, claim, sent.voucher)
        return sent


def _as_before(row: VoucherRow, before: VoucherRow) -> VoucherRow:
    """The claimed row, remembering whether an earlier attempt was under way (status `posting`)."""
    from dataclasses import replace

    return replace(row, status=before.status)


def first_open_after(day: dt.date) -> dt.date:
    """The next month's first day: the fallback guess when Tripletex refused the date as closed and its
    periods could not be read (they are read first, `load/periods.py`)."""
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _to_open_period(engine: Engine, claim: claims.Claim, client: Any, row: VoucherRow) -> VoucherRow:
    """A correction dated in a closed accounting period (as Tripletex's periods say) moves to the first
    open date before it is sent; when the periods cannot be read, Tripletex's refusal decides."""
    from bookspot_tripletex.load.periods import open_date

    found = open_date(client, row.effective_date)
    if found is None or not found.moved:
        return row
    return _move(
        engine, claim, row, "read from Tripletex's accounting periods", found.day, found.note(row.date)
    )


def _move(
    engine: Engine,
    claim: claims.Claim,
    row: VoucherRow,
    reason: str,
    target: dt.date | None = None,
    note: str | None = None,
) -> VoucherRow:
    from dataclasses import replace

    target = target or first_open_after(row.effective_date)
    note = note or (
        f"moved from {row.date.isoformat()} to {target.isoformat()}: the period is closed in Tripletex"
    )
    log.warning("%s: %s (%s)", row.external_number, note, reason)
    with engine.begin() as conn:
        claims.fenced(
            conn,
            claim,
            dt.datetime.now(dt.UTC),
            posting_date=target,
            note=note,
            draft_id=None,
            draft_version=None,
        )
    return replace(row, posting_date=target, note=note, draft_id=None, draft_version=None)


def _mark_posted(engine: Engine, claim: claims.Claim, voucher: dict[str, Any]) -> None:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        claims.fenced(
            conn,
            claim,
            now,
            status=VoucherStatus.POSTED,
            tripletex_voucher_id=int(voucher["id"]),
            tripletex_number=_number(voucher),
            posted_at=now,
            error=None,
            claim_token=None,
            claim_expires_at=None,
        )


def _drop_draft(engine: Engine, claim: claims.Claim, client: Any) -> None:
    """A refused day's draft is deleted (best effort): a rebuilt day must not find it."""
    from bookspot_tripletex.load.protocol import delete_drafts

    with engine.begin() as conn:
        row = get_voucher_by_id(conn, claim.voucher_id)
    if row is not None and row.draft_id is not None and row.claim_token == claim.token:
        delete_drafts(client, [{"id": row.draft_id}], row.external_number, engine, row)


def _fail(engine: Engine, claim: claims.Claim, reason: str) -> None:
    """A refusal: the day becomes `failed` (rebuildable) with the reason; its draft, if any, stays known."""
    try:
        with engine.begin() as conn:
            claims.fenced(
                conn,
                claim,
                dt.datetime.now(dt.UTC),
                status=VoucherStatus.FAILED,
                error=reason[:2000],
                claim_token=None,
                claim_expires_at=None,
            )
    except ClaimLost:
        log.warning("claim lost before the refusal could be recorded: %s", reason)


def _release(engine: Engine, claim: claims.Claim, reason: str) -> None:
    """A transient failure: the row stays `posting`, unclaimed, so the next attempt looks before it writes."""
    try:
        with engine.begin() as conn:
            claims.fenced(
                conn,
                claim,
                dt.datetime.now(dt.UTC),
                error=reason[:2000],
                claim_token=None,
                claim_expires_at=None,
            )
    except ClaimLost:
        log.warning("claim already taken over; not releasing it (%s)", reason)
    except Exception as exc:  # staging unreachable: the lease runs out by itself
        log.warning("could not release the claim (%s); it ends with its lease", exc)


def _number(posted: dict[str, Any]) -> str | None:
    number = posted.get("number")
    year = posted.get("year")
    if not number:
        return None
    return f"{number}-{year}" if year else str(number)
