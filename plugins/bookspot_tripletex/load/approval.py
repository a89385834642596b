"""The approval gate: a new tenant's first posting days, and the first day posted under a new mapping
version, wait for a person before they are posted (docs/approval.md).

A day reaches the gate staged, journaled and validated (`ready`). `gate` decides whether it waits: it
keeps one request per tenant-day and voucher content (`digest`) in the `approvals` table, puts the
voucher in `awaiting_approval` while nobody has decided, and says when to alert (a new request, or one
waiting longer than the tenant's `approval_alert_hours` since its last alert). `decide` records a
person's approval or rejection (who, when, why); an approved day is posted by the next run through the
ordinary posting protocol, a rejected one is held with the reason. A day whose content changes while it
waits (or after a decision, before posting) is put up again: the decision was about what was shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, func, insert, select, update

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.load.state import VoucherRow, get_voucher
from bookspot_tripletex.staging.schema import approvals, vouchers
from bookspot_tripletex.tenants.config import TenantConfig

AWAITING, APPROVED, REJECTED, SUPERSEDED = "awaiting", "approved", "rejected", "superseded"
DECIDED_BY_MAX = 200
REASON_MAX = 500
NOT_COUNTED = (VoucherStatus.EMPTY.value,)
"""Days that never count as posting days: nothing is posted for them."""
POSTED_OR_ON_ITS_WAY = (VoucherStatus.POSTING.value, VoucherStatus.POSTED.value, VoucherStatus.REVERSED.value)

State = Literal["free", "approved", "awaiting", "rejected"]


class DecisionRefused(ValueError):
    """The decision does not apply to this tenant-day now (the message says why)."""


@dataclass(frozen=True)
class Request:
    """One approval request as stored: what the day waits for and, once decided, who decided and why."""

    id: int
    tenant: str
    day: dt.date
    mapping_version_id: int | None
    digest: str
    why: str
    status: str
    requested_at: dt.datetime
    alerted_at: dt.datetime | None
    alerts: int
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> Request:
        return cls(
            id=row.id,
            tenant=row.tenant_id,
            day=row.local_date,
            mapping_version_id=row.mapping_version_id,
            digest=row.digest,
            why=row.why,
            status=row.status,
            requested_at=_aware(row.requested_at),
            alerted_at=_aware(row.alerted_at) if row.alerted_at else None,
            alerts=row.alerts,
            decided_by=row.decided_by,
            decided_at=_aware(row.decided_at) if row.decided_at else None,
            decision_reason=row.decision_reason,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "why": self.why,
            "requested_at": self.requested_at.isoformat(timespec="seconds"),
            "alerts": self.alerts,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat(timespec="seconds") if self.decided_at else None,
            "reason": self.decision_reason,
        }


@dataclass(frozen=True)
class Gate:
    """What the gate says about a ready day: post it (free, approved), or not yet (awaiting, rejected)."""

    state: State
    why: str | None = None
    request: Request | None = None
    alert: Literal["new", "overdue"] | None = None

    @property
    def may_post(self) -> bool:
        return self.state in ("free", "approved")

    @property
    def held_reason(self) -> str | None:
        if self.state != "rejected" or self.request is None:
            return None
        return f"rejected by {self.request.decided_by}: {self.request.decision_reason}"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def digest(row: VoucherRow) -> str:
    """What the person approves: the voucher's postings and its mapping version."""
    body = {"mapping": row.mapping_version_id, "postings": [p.as_record() for p in row.postings]}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _earlier_days(conn: Connection, tenant: str, day: dt.date, *conditions: Any) -> int:
    query = (
        select(func.count())
        .select_from(vouchers)
        .where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.version == 1,
            vouchers.c.local_date < day,
            vouchers.c.status.not_in(NOT_COUNTED),
            *conditions,
        )
    )
    return int(conn.execute(query).scalar_one())


def reasons(conn: Connection, tenant: TenantConfig, row: VoucherRow) -> list[str]:
    """Why the day waits for a person: one of the tenant's first `approval_days` posting days (counted
    in date order over the days with something to post), or the first day under a mapping version the
    tenant has not posted with before."""
    out = []
    if tenant.approval_days > 0:
        before = _earlier_days(conn, tenant.tenant, row.date)
        if before < tenant.approval_days:
            out.append(
                f"one of the tenant's first {tenant.approval_days} posting days "
                f"(day {before + 1} of {tenant.approval_days})"
            )
    version = row.mapping_version_id
    if tenant.approval_new_mapping and version is not None:
        same = _earlier_days(conn, tenant.tenant, row.date, vouchers.c.mapping_version_id == version)
        posted_with_others = conn.execute(
            select(func.count())
            .select_from(vouchers)
            .where(
                vouchers.c.tenant_id == tenant.tenant,
                vouchers.c.version == 1,
                vouchers.c.status.in_(POSTED_OR_ON_ITS_WAY),
                vouchers.c.mapping_version_id != version,
            )
        ).scalar_one()
        if same == 0 and posted_with_others:
            out.append(f"the first day posted under mapping version {version}")
    return out


def latest_request(conn: Connection, tenant: str, day: dt.date) -> Request | None:
    row = conn.execute(
        select(approvals)
        .where(approvals.c.tenant_id == tenant, approvals.c.local_date == day)
        .order_by(approvals.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else Request.from_row(row)


def requests_of(conn: Connection, tenant: str, day: dt.date) -> list[Request]:
    """Every request of a tenant-day, oldest first: the audit trail of its decisions."""
    rows = conn.execute(
        select(approvals)
        .where(approvals.c.tenant_id == tenant, approvals.c.local_date == day)
        .order_by(approvals.c.id)
    )
    return [Request.from_row(r) for r in rows]


def _get(conn: Connection, request_id: int) -> Request:
    return Request.from_row(conn.execute(select(approvals).where(approvals.c.id == request_id)).one())


def gate(conn: Connection, tenant: TenantConfig, row: VoucherRow, run_id: str, now: dt.datetime) -> Gate:
    """The gate for a validated (`ready`) day; a waiting day's voucher becomes `awaiting_approval`, a
    rejected one `held` with the reason."""
    whys = reasons(conn, tenant, row)
    latest = latest_request(conn, tenant.tenant, row.date)
    if not whys:
        if latest is not None and latest.status == AWAITING:  # the tenant file no longer asks for it
            conn.execute(update(approvals).where(approvals.c.id == latest.id).values(status=SUPERSEDED))
        return Gate("free")
    why = "; ".join(whys)
    content = digest(row)
    if latest is not None and latest.digest == content and latest.status != SUPERSEDED:
        if latest.status == APPROVED:
            return Gate("approved", why, latest)
        if latest.status == REJECTED:
            found = Gate("rejected", why, latest)
            _set_status(conn, row, VoucherStatus.HELD, found.held_reason)
            return found
        alert = _overdue(latest, tenant, now)
        if alert:
            conn.execute(
                update(approvals)
                .where(approvals.c.id == latest.id)
                .values(alerted_at=now, alerts=approvals.c.alerts + 1)
            )
            latest = _get(conn, latest.id)
        _set_status(conn, row, VoucherStatus.AWAITING_APPROVAL, f"awaiting approval: {why}")
        return Gate("awaiting", why, latest, "overdue" if alert else None)
    if latest is not None and latest.status in (AWAITING, APPROVED, REJECTED):
        conn.execute(update(approvals).where(approvals.c.id == latest.id).values(status=SUPERSEDED))
    new_id = conn.execute(
        insert(approvals)
        .values(
            tenant_id=tenant.tenant,
            local_date=row.date,
            mapping_version_id=row.mapping_version_id,
            digest=content,
            why=why,
            status=AWAITING,
            requested_at=now,
            requested_by_run=run_id[:250],
            alerted_at=now,
            alerts=1,
        )
        .returning(approvals.c.id)
    ).scalar_one()
    _set_status(conn, row, VoucherStatus.AWAITING_APPROVAL, f"awaiting approval: {why}")
    return Gate("awaiting", why, _get(conn, new_id), "new")


def _overdue(request: Request, tenant: TenantConfig, now: dt.datetime) -> bool:
    limit = dt.timedelta(hours=tenant.approval_alert_hours)
    last = request.alerted_at or request.requested_at
    return now - last >= limit


def _set_status(conn: Connection, row: VoucherRow, status: VoucherStatus, error: str | None) -> None:
    conn.execute(
        update(vouchers)
        .where(
            vouchers.c.id == row.id,
            vouchers.c.status.in_(
                [VoucherStatus.READY.value, VoucherStatus.AWAITING_APPROVAL.value, VoucherStatus.HELD.value]
            ),
        )
        .values(status=status.value, error=error[:2000] if error else None)
    )


def decide(
    conn: Connection,
    tenant: str,
    day: dt.date,
    user: str,
    approve: bool,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Request:
    """A person's decision on the day's open request, recorded with who, when and why. Approving leaves
    the posting to the next run (the ordinary protocol, exactly once); rejecting holds the day."""
    now = now or dt.datetime.now(dt.UTC)
    reason = " ".join(reason.split())[:REASON_MAX]
    who = " ".join(user.split())[:DECIDED_BY_MAX]
    if not who:
        raise DecisionRefused("say who decides")
    if not approve and not reason:
        raise DecisionRefused("say why the day is rejected")
    request = latest_request(conn, tenant, day)
    row = get_voucher(conn, tenant, day)
    if request is None or request.status == SUPERSEDED:
        raise DecisionRefused(f"{tenant} {day} is not waiting for approval")
    if row is None or row.status in POSTED_OR_ON_ITS_WAY:
        raise DecisionRefused(f"{tenant} {day} is {row.status if row else 'not built'}; nothing to decide")
    if request.status == APPROVED:
        raise DecisionRefused(f"{tenant} {day} was approved by {request.decided_by}; the next run posts it")
    if request.status == REJECTED and not approve:
        raise DecisionRefused(f"{tenant} {day} was already rejected by {request.decided_by}")
    if digest(row) != request.digest:
        raise DecisionRefused(
            f"{tenant} {day} changed since it was put up for approval; the next run puts it up again"
        )
    conn.execute(
        update(approvals)
        .where(approvals.c.id == request.id)
        .values(
            status=APPROVED if approve else REJECTED,
            decided_by=who,
            decided_at=now,
            decision_reason=reason or None,
        )
    )
    decided = _get(conn, request.id)
    if approve:
        rejected = request.status == REJECTED and (row.error or "").startswith("rejected by ")
        conn.execute(
            update(vouchers)
            .where(
                vouchers.c.id == row.id,
                vouchers.c.status.in_(
                    [VoucherStatus.AWAITING_APPROVAL.value] + ([VoucherStatus.HELD.value] if rejected else [])
                ),
            )
            .values(status=VoucherStatus.READY.value, error=None)
        )
    else:
        _set_status(conn, row, VoucherStatus.HELD, Gate("rejected", None, decided).held_reason)
    return decided


def awaiting(conn: Connection, tenants: list[str] | None = None) -> list[Request]:
    """Every open request (optionally of some tenants), oldest first."""
    query = select(approvals).where(approvals.c.status == AWAITING).order_by(approvals.c.requested_at)
    if tenants:
        query = query.where(approvals.c.tenant_id.in_(tenants))
    return [Request.from_row(r) for r in conn.execute(query)]
