"""Corrections and forced re-posts of posted days: the day's journal now against what Tripletex holds.

A record changed after its day was posted (update, void, late arrival) leaves a `pending_corrections`
row. The correction voucher of that day is the journal built now, with the mapping version the day was
posted with, minus everything posted for the day so far (the day and its earlier corrections), per
account and VAT type. It is its own voucher (version 2, 3, ... with its own externalVoucherNumber),
posted by the same protocol; a closed period moves it to the first open date. Its row keeps the journal
it was built from, so the report can name the records that changed since the version before.

A forced re-post applies only to a day posted before (anything else is refused with the reason and the
command that helps, `ActionRefused`). It is first recorded as a request with the day (a
`pending_corrections` row of change `repost`: who, why, the mapping version); then the day's live
vouchers are reversed and the whole journal is posted again as the next version (`kind=repost`). A run
that stops half-way leaves the request, and the next load of the day finishes it, so the day always ends
with one effective voucher chain whose sums equal its journal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.journal.model import Posting, external_number
from bookspot_tripletex.load.errors import ActionRefused, DayRefused, VoucherBusy
from bookspot_tripletex.load.state import VoucherRow, day_versions, next_version
from bookspot_tripletex.staging.day_mapping import posted_mapping_id
from bookspot_tripletex.staging.schema import pending_corrections, vouchers
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.store import StoredMapping, mapping_in_force, stored_mapping

log = logging.getLogger(__name__)

IN_FLIGHT = (VoucherStatus.READY, VoucherStatus.POSTING)
POSTED_ONCE = (VoucherStatus.POSTED, VoucherStatus.REVERSED)
REPOST = "repost"
"""`pending_corrections.change` of a forced re-post's request."""
REPOST_RECORD = "(forced re-post)"
CLI = "python -m bookspot_tripletex"


def posted_totals(rows: list[VoucherRow]) -> Counter[tuple[int, int]]:
    """Øre per (account, VAT type) of the day's live vouchers in the ledger."""
    totals: Counter[tuple[int, int]] = Counter()
    for row in rows:
        if row.status == VoucherStatus.POSTED:
            for p in row.postings:
                totals[(p.account, p.vat_type)] += p.amount_ore
    return totals


def journal_totals(journal: Any) -> Counter[tuple[int, int]] | None:
    """Øre per (account, VAT type) of the day's journal now; None while the day is held."""
    if journal.status == VoucherStatus.HELD:
        return None
    if journal.status == VoucherStatus.EMPTY or journal.voucher is None:
        return Counter() if journal.status == VoucherStatus.EMPTY else None
    totals: Counter[tuple[int, int]] = Counter()
    for p in journal.voucher.postings:
        totals[(p.account, p.vat_type)] += p.amount_ore
    return totals


def pending(conn: Connection, tenant: str, day: dt.date) -> list[int]:
    """The day's unresolved changes after posting, a forced re-post's request included."""
    return list(
        conn.execute(
            select(pending_corrections.c.id).where(
                pending_corrections.c.tenant_id == tenant,
                pending_corrections.c.local_date == day,
                pending_corrections.c.resolved_at.is_(None),
            )
        ).scalars()
    )


def owed(conn: Connection, tenant: str, day: dt.date) -> bool:
    """Whether a posted day still owes Tripletex a voucher: a change, a re-post asked for or one not sent."""
    if pending(conn, tenant, day):
        return True
    return any(r.version > 1 and r.status in IN_FLIGHT for r in day_versions(conn, tenant, day))


def repost_request(conn: Connection, tenant: str, day: dt.date) -> dict[str, Any] | None:
    """The day's unfinished forced re-post (who, why, mapping version), the newest if several."""
    row = conn.execute(
        select(pending_corrections.c.id, pending_corrections.c.raw)
        .where(
            pending_corrections.c.tenant_id == tenant,
            pending_corrections.c.local_date == day,
            pending_corrections.c.change == REPOST,
            pending_corrections.c.resolved_at.is_(None),
        )
        .order_by(pending_corrections.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else {"id": row.id, **json.loads(row.raw)}


def lock_day(conn: Connection, tenant: str, day: dt.date) -> None:
    """Hold the day's version 1 row for the rest of the transaction (a row lock on PostgreSQL, the write
    lock on SQLite), so that two runs never both decide the day needs a next version and build one each."""
    conn.execute(
        update(vouchers)
        .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date == day, vouchers.c.version == 1)
        .values(updated_at=vouchers.c.updated_at)
    )


def _mapping(conn: Connection, mapping_version_id: int | None) -> StoredMapping | None:
    return stored_mapping(conn, mapping_version_id) if mapping_version_id is not None else None


def build_correction(
    conn: Connection,
    tenant: TenantConfig,
    day: dt.date,
    kind: str = "correction",
    note: str | None = None,
    mapping_version_id: int | None = None,
) -> VoucherRow | None:
    """Save the day's next correction (`ready`) if the journal differs from what is posted; else None.

    Only a day posted before gets one. The journal is built with the mapping version the day was posted
    with, unless `mapping_version_id` names another (a re-post with the current mapping)."""
    from bookspot_tripletex.journal.build import build_day

    lock_day(conn, tenant.tenant, day)
    rows = day_versions(conn, tenant.tenant, day)
    if not any(r.status in POSTED_ONCE for r in rows):
        return None
    if any(r.status in IN_FLIGHT for r in rows):
        return next(r for r in rows if r.status in IN_FLIGHT)
    mapping_id = mapping_version_id or posted_mapping_id(conn, tenant.tenant, day)
    journal = build_day(conn, tenant, day, mapping=_mapping(conn, mapping_id))
    now_totals = journal_totals(journal)
    if now_totals is None:
        log.info("%s %s: the day is held; its correction waits", tenant.tenant, day)
        return None
    diff = Counter(now_totals)
    diff.subtract(posted_totals(rows))
    lines = [(key, amount) for key, amount in sorted(diff.items()) if amount]
    now = dt.datetime.now(dt.UTC)
    ids = pending(conn, tenant.tenant, day)
    if not lines:
        _resolve(conn, ids, now)
        return None
    if sum(a for _, a in lines) != 0:
        raise DayRefused(f"{tenant.tenant} {day}: the correction does not balance; check the journal")
    version = next_version(conn, tenant.tenant, day)
    label = "Correction" if kind == "correction" else "Re-post"
    postings = [
        Posting(row=i, account=acc, vat_type=vat, amount_ore=amount, description=f"{label} {day.isoformat()}")
        for i, ((acc, vat), amount) in enumerate(lines, start=1)
    ]
    conn.execute(
        vouchers.insert().values(
            tenant_id=tenant.tenant,
            local_date=day,
            version=version,
            external_number=external_number(tenant.tenant, day, version),
            mapping_version_id=journal.mapping_version_id or mapping_id,
            status=VoucherStatus.READY,
            kind=kind,
            postings=[p.as_record() for p in postings],
            journal=journal.as_record(),
            validation={"success": True, "checks": ["balance"]},
            note=note,
            updated_at=now,
        )
    )
    _resolve(conn, ids, now)
    from bookspot_tripletex.load.state import get_voucher

    row = get_voucher(conn, tenant.tenant, day, version)
    assert row is not None
    return row


def _resolve(conn: Connection, ids: list[int], now: dt.datetime) -> None:
    if ids:
        conn.execute(
            update(pending_corrections).where(pending_corrections.c.id.in_(ids)).values(resolved_at=now)
        )


def post_corrections(
    engine: Engine, tenant: TenantConfig, day: dt.date, client: Any, claimant: str
) -> list[dict[str, Any]]:
    """Post the day's unfinished corrections, a forced re-post asked for, and a new correction if records
    changed since it was posted."""
    from bookspot_tripletex.load.send import post_row

    with engine.begin() as conn:
        asked = repost_request(conn, tenant.tenant, day) is not None
    if asked:
        done = finish_repost(engine, tenant, day, client, claimant)
        return [*done["corrections"], *([done["posted"]] if done.get("posted") else [])]
    results = []
    with _one_builder(tenant.tenant, day), engine.begin() as conn:
        rows = day_versions(conn, tenant.tenant, day)
        waiting = [r for r in rows if r.version > 1 and r.status in IN_FLIGHT]
        if not waiting and pending(conn, tenant.tenant, day):
            built = build_correction(conn, tenant, day)
            waiting = [built] if built is not None else []
    for row in waiting:
        results.append(post_row(engine, tenant, row, client, claimant))
    return results


@contextmanager
def _one_builder(tenant: str, day: dt.date) -> Iterator[None]:
    """Two runs building the day's next version at once: the second one's insert fails on the version's
    unique key; it is busy, and its retry finds the version the first one built."""
    from sqlalchemy.exc import IntegrityError

    try:
        yield
    except IntegrityError as exc:
        raise VoucherBusy(f"{tenant} {day}: another run is saving the day's next version; retry") from exc


def _run(tenant: str, day: dt.date) -> str:
    return f"`{CLI} run --tenant {tenant} --from {day} --to {day}`"


def _release(tenant: str, day: dt.date) -> str:
    return f"`{CLI} release-day --tenant {tenant} --date {day} --by <your name> --reason <why>`"


def repost_refusal(conn: Connection, tenant: TenantConfig, day: dt.date) -> str | None:
    """Why a forced re-post does not apply to the day as it stands (with the command that helps); None
    when it does: the day was posted and nothing of it is on its way to Tripletex."""
    from bookspot_tripletex.journal.build import quarantined_for_day
    from bookspot_tripletex.staging.outcomes import latest_outcomes

    who, run = f"{tenant.tenant} {day}", _run(tenant.tenant, day)
    if day < tenant.start_date:
        return (
            f"{who} is before the tenant's start date {tenant.start_date}: nothing of it is ever posted, "
            "so there is nothing to re-post"
        )
    rows = day_versions(conn, tenant.tenant, day)
    if not rows:
        return f"{who} was never built or posted; a re-post applies only to a posted day: {run} posts it"
    if not any(r.status in POSTED_ONCE for r in rows):
        first = rows[0]
        never = "was never posted, so there is nothing to re-post"
        if first.status == VoucherStatus.EMPTY:
            return f"{who} has no transactions (empty): there is nothing to re-post"
        if first.status == VoucherStatus.HELD:
            held = len(quarantined_for_day(conn, tenant.tenant, day))
            why = first.error or (f"{held} quarantined record(s)" if held else "held")
            return (
                f"{who} is held ({why}) and {never}: release it with {_release(tenant.tenant, day)} "
                f"(or fix the cause), then {run}"
            )
        if first.status == VoucherStatus.FAILED:
            return f"{who} was refused by Tripletex ({first.error}) and {never}: fix the cause, then {run}"
        if first.status == VoucherStatus.POSTING:
            return f"{who} is being posted (claimed by {first.claimed_by}) and {never}: wait for that run"
        latest = latest_outcomes(conn, [tenant.tenant])
        outcome = next((o for o in latest if o.local_date == day), None)
        if outcome is not None and outcome.outcome == "refused":
            return (
                f"{who} was refused at {outcome.step} ({outcome.reason}) and {never}: "
                f"`{CLI} activation-check --tenant {tenant.tenant}`, fix the cause, then {run}"
            )
        return f"{who} is {first.status}, not posted yet, and {never}: {run} posts it"
    busy = [r for r in rows if r.status in IN_FLIGHT]
    if busy:
        r = busy[0]
        return f"{r.external_number} ({r.kind}) is {r.status}, not in Tripletex yet: {run} posts it first"
    return None


def mapping_choice(
    conn: Connection, tenant: TenantConfig, day: dt.date, use_current: bool = False
) -> dict[str, Any]:
    """The mapping version a re-post uses (the day's own unless `use_current`), with the difference to
    the one in force now when they differ."""
    from bookspot_tripletex.tenants.diff import diff_versions

    posted = posted_mapping_id(conn, tenant.tenant, day)
    current = mapping_in_force(conn, tenant.tenant, day)
    current_id = current.id if current is not None else None
    version = current_id if use_current and current_id is not None else posted
    out: dict[str, Any] = {
        "version": version,
        "used": "current" if version != posted else "posted",
        "posted_with": posted,
        "current": current_id,
        "changes": [],
    }
    if posted is not None and current_id is not None and current_id != posted:
        out["changes"] = [c.as_dict() for c in diff_versions(conn, tenant.tenant, posted, current_id)]
    return out


def _mapping_words(choice: dict[str, Any]) -> str:
    changes = ", ".join(f"{c['key']} {c['old']} -> {c['new']}" for c in choice["changes"]) or "no changes"
    if choice["used"] == "current":
        return (
            f"with the current mapping version {choice['current']} instead of version "
            f"{choice['posted_with']} the day was posted with ({changes})"
        )
    if choice["current"] not in (None, choice["posted_with"]):
        return (
            f"with mapping version {choice['posted_with']}, as posted (version {choice['current']} is in "
            f"force now: {changes}; --use-current-mapping re-posts with it)"
        )
    return f"with mapping version {choice['posted_with']}, as posted"


def _said(value: str | None, what: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ActionRefused(f"a forced re-post needs {what}")
    if len(text) > 500 or "\x00" in text:
        raise ActionRefused(f"{what}: at most 500 characters, no NUL")
    return text


def force_repost(
    engine: Engine,
    tenant: TenantConfig,
    day: dt.date,
    client: Any,
    by: str,
    reason: str,
    use_current_mapping: bool = False,
) -> dict[str, Any]:
    """Reverse a posted day's vouchers in the ledger and post its whole journal again, with the mapping
    version the day was posted with unless `use_current_mapping`; who and why are recorded. Raises
    ActionRefused (nothing changed) when the day was never posted, is held now, or is on its way."""
    from bookspot_tripletex.journal.build import build_day
    from bookspot_tripletex.load.send import check_company

    by, reason = _said(by, "who asks (--by)"), _said(reason, "why (--reason)")
    with engine.begin() as conn:
        refusal = repost_refusal(conn, tenant, day)
        if refusal is not None:
            raise ActionRefused(refusal)
        asked = repost_request(conn, tenant.tenant, day)
    check_company(tenant, client)
    with engine.connect() as conn:
        choice = mapping_choice(conn, tenant, day, use_current_mapping)
        if asked is not None:
            earlier = asked.get("mapping_version_id") != choice["posted_with"]
            choice = mapping_choice(conn, tenant, day, earlier)
        mapping = _mapping(conn, choice["version"])
    _activated(engine, tenant, mapping, client)
    with engine.begin() as conn:
        journal = build_day(conn, tenant, day, mapping=mapping)
        if journal_totals(journal) is None:
            why = (
                f"{len(journal.quarantined)} quarantined record(s)"
                if journal.quarantined
                else "no account for " + ", ".join(journal.missing_account_types)
            )
            raise ActionRefused(
                f"{tenant.tenant} {day}: its records are held now ({why}); a re-post would leave the day "
                f"without its voucher: release them ({_release(tenant.tenant, day)}) or fix the cause first"
            )
        note = f"forced re-post by {by}: {reason}; {_mapping_words(choice)}"
        if asked is None:
            record_request(conn, tenant.tenant, day, by, reason, choice["version"], note)
        else:
            log.warning("%s %s: finishing the re-post asked before: %s", tenant.tenant, day, asked["note"])
            note = asked["note"]
    done = finish_repost(engine, tenant, day, client, f"force:{by}")
    return {**done, "by": by, "reason": reason, "mapping": choice, "note": note}


def _activated(engine: Engine, tenant: TenantConfig, mapping: StoredMapping | None, client: Any) -> None:
    """The re-post's mapping version passed Tripletex's activation check (run now if it never did), so
    that nothing is reversed for a voucher Tripletex would refuse."""
    from bookspot_tripletex.load.activation import ActivationFailed, passed_activation, run_activation

    if mapping is None or passed_activation(engine, tenant.tenant, mapping.id) is not None:
        return
    try:
        run_activation(engine, tenant.tenant, mapping, client, tenant.tripletex_company_id)
    except ActivationFailed as exc:
        raise ActionRefused(
            f"mapping version {mapping.id} (valid from {mapping.valid_from}) fails Tripletex's activation "
            f"check, so nothing was reversed: {exc}"
        ) from exc


def record_request(
    conn: Connection,
    tenant: str,
    day: dt.date,
    by: str,
    reason: str,
    mapping_version_id: int | None,
    note: str,
) -> None:
    """Keep a forced re-post with the day before anything is reversed, so that it is always finished."""
    now = dt.datetime.now(dt.UTC)
    request = {"by": by, "reason": reason, "mapping_version_id": mapping_version_id, "note": note}
    conn.execute(
        pending_corrections.insert().values(
            tenant_id=tenant,
            transaction_id=REPOST_RECORD,
            local_date=day,
            change=REPOST,
            raw=json.dumps(request, ensure_ascii=False),
            detected_at=now,
        )
    )


def finish_repost(
    engine: Engine, tenant: TenantConfig, day: dt.date, client: Any, claimant: str
) -> dict[str, Any]:
    """Carry out the day's re-post request: post what is on its way, reverse the live vouchers, post the
    whole journal as the next version. Each step finds what an earlier, interrupted one did."""
    from bookspot_tripletex.journal.build import build_day
    from bookspot_tripletex.load.send import post_row

    done: dict[str, Any] = {"reversed": [], "posted": None, "corrections": []}
    with engine.begin() as conn:
        asked = repost_request(conn, tenant.tenant, day)
        if asked is None:
            return done
        journal = build_day(conn, tenant, day, mapping=_mapping(conn, asked.get("mapping_version_id")))
        rows = day_versions(conn, tenant.tenant, day)
    if journal_totals(journal) is None:
        log.warning("%s %s: the day is held; its re-post waits for the release", tenant.tenant, day)
        done["waiting"] = "held"
        return done
    for row in rows:
        if row.version > 1 and row.status in IN_FLIGHT:
            done["corrections"].append(post_row(engine, tenant, row, client, claimant))
    with engine.begin() as conn:
        if repost_request(conn, tenant.tenant, day) is None:
            return done  # another run finished it meanwhile
        rows = day_versions(conn, tenant.tenant, day)
    for row in rows:
        if row.status == VoucherStatus.POSTED and row.tripletex_voucher_id is not None:
            done["reversed"].append(_reverse(engine, client, row, asked["note"]))
    with _one_builder(tenant.tenant, day), engine.begin() as conn:
        mapping_id = asked.get("mapping_version_id")
        fresh = build_correction(conn, tenant, day, "repost", asked["note"], mapping_id)
    if fresh is not None:
        done["posted"] = post_row(engine, tenant, fresh, client, claimant)
    return done


def _reverse(engine: Engine, client: Any, row: VoucherRow, note: str) -> int:
    """Reverse one posted voucher (or find its reversal, done by an earlier attempt) and record it."""
    from bookspot_tripletex.load.protocol import VOUCHER_FIELDS, is_closed_period
    from bookspot_tripletex.load.send import first_open_after
    from bookspot_tripletex.tripletex.errors import TripletexError

    target = row.effective_date
    for _ in range(24):
        try:
            reversal = client.reverse_voucher(row.tripletex_voucher_id, target)
            break
        except TripletexError as exc:
            current = client.get_voucher(row.tripletex_voucher_id, VOUCHER_FIELDS)
            if current is not None and current.get("reverseVoucher"):
                reversal = current["reverseVoucher"]
                break
            if not is_closed_period(exc):
                raise
            target = first_open_after(target)
    else:
        raise DayRefused(f"{row.external_number}: no open period to reverse it in")
    with engine.begin() as conn:
        conn.execute(
            update(vouchers)
            .where(vouchers.c.id == row.id, vouchers.c.status == VoucherStatus.POSTED)
            .values(
                status=VoucherStatus.REVERSED,
                reversal_id=int(reversal["id"]),
                note=f"{note} (reversed on {target.isoformat()})",
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    return int(reversal["id"])
