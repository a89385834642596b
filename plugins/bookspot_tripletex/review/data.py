"""What the review screen reads from staging: one row per tenant-day, its report, its history.

Every read of the review screen goes through this module, so the source of a fact (the `vouchers`
table and the stored report today) can change in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.staging.schema import quarantine, tenants, vouchers
from bookspot_tripletex.validation.store import (
    latest_report,
    render_report,
    tripletex_link_for,
    with_current_state,
)
from bookspot_tripletex.validation.versions import day_net, day_versions, sales_ore

PROBLEM_STATUSES = frozenset({VoucherStatus.HELD, VoucherStatus.FAILED, VoucherStatus.AWAITING_APPROVAL})
"""A day someone has to look at: held by validation or quarantine, refused by Tripletex, or waiting for
a person's approval."""
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class Filters:
    """What the list shows: problems only, some tenants (none: all), a date range (inclusive)."""

    problems: bool = False
    tenants: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class DayRow:
    """One tenant-day as the list shows it (money as NOK strings)."""

    tenant: str
    tenant_name: str
    date: dt.date
    version: int
    status: str
    transactions: int | None
    sales: str | None
    vat_difference: str | None
    failed_checks: list[str] = field(default_factory=list)
    tripletex_number: str | None = None
    error: str | None = None
    has_report: bool = False

    @property
    def problem(self) -> bool:
        return self.status in PROBLEM_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "date": self.date.isoformat(), "problem": self.problem}


def _stored_report(conn: Connection, row: Any) -> dict[str, Any] | None:
    """The latest report stored in staging for a voucher row (its validation, as it was then); for a
    correction, the day's report (a correction has none of its own: the day's report lists it)."""
    stored = latest_report(conn, row.tenant_id, row.local_date, row.version)
    if stored is None and row.version > 1:
        stored = latest_report(conn, row.tenant_id, row.local_date)
    return None if stored is None else stored.model


def _sales_ore(postings: list[dict[str, Any]] | None) -> int | None:
    """Gross sales of the day: the postings that carry a VAT rate (credits, shown positive)."""
    if not postings:
        return None
    return -sum(p["amount_ore"] for p in postings if p.get("vat_rate") is not None)


def _vat_difference(report: dict[str, Any] | None) -> str | None:
    rows = ((report or {}).get("vat_derivation") or {}).get("rows") or []
    diffs = [r.get("abs_diff") for r in rows if r.get("abs_diff") is not None]
    if not diffs:
        return None
    return max(diffs, key=lambda d: abs(Decimal(str(d))))


def _day_row(row: Any, report: dict[str, Any] | None) -> DayRow:
    """A correction's postings are a difference: the day's sales then come from the journal it kept."""
    sales = sales_ore(row.journal) if row.version > 1 and row.journal else _sales_ore(row.postings)
    return DayRow(
        tenant=row.tenant_id,
        tenant_name=row.name,
        date=row.local_date,
        version=row.version,
        status=row.status,
        transactions=(report or {}).get("transactions"),
        sales=None if sales is None else format_nok(sales),
        vat_difference=_vat_difference(report),
        failed_checks=list((row.validation or {}).get("failed") or []),
        tripletex_number=row.tripletex_number,
        error=row.error,
        has_report=report is not None,
    )


def _voucher_query(f: Filters):  # type: ignore[no-untyped-def]
    query = (
        select(vouchers, tenants.c.name)
        .join(tenants, tenants.c.tenant_id == vouchers.c.tenant_id)
        .order_by(vouchers.c.local_date.desc(), vouchers.c.tenant_id, vouchers.c.version.desc())
    )
    if f.problems:
        query = query.where(vouchers.c.status.in_([str(s) for s in PROBLEM_STATUSES]))
    if f.tenants:
        query = query.where(vouchers.c.tenant_id.in_(f.tenants))
    if f.date_from:
        query = query.where(vouchers.c.local_date >= f.date_from)
    if f.date_to:
        query = query.where(vouchers.c.local_date <= f.date_to)
    return query.limit(f.limit)


def day_rows(conn: Connection, filters: Filters = Filters()) -> list[DayRow]:
    """Nights × tenants, newest first: the latest voucher version of each tenant-day."""
    seen: set[tuple[str, dt.date]] = set()
    out = []
    for row in conn.execute(_voucher_query(filters)):
        if (row.tenant_id, row.local_date) in seen:
            continue
        seen.add((row.tenant_id, row.local_date))
        out.append(_day_row(row, _stored_report(conn, row)))
    return out


def tenant_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(tenants.c.tenant_id).order_by(tenants.c.tenant_id)).scalars())


def _latest_voucher(conn: Connection, tenant: str, day: dt.date, version: int | None) -> Any:
    query = (
        select(vouchers, tenants.c.name)
        .join(tenants, tenants.c.tenant_id == vouchers.c.tenant_id)
        .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date == day)
    )
    if version is not None:
        query = query.where(vouchers.c.version == version)
    return conn.execute(query.order_by(vouchers.c.version.desc()).limit(1)).first()


def day_row(conn: Connection, tenant: str, day: dt.date) -> DayRow | None:
    row = _latest_voucher(conn, tenant, day, None)
    return None if row is None else _day_row(row, _stored_report(conn, row))


def report(conn: Connection, tenant: str, day: dt.date, version: int | None = None) -> dict[str, Any] | None:
    """The tenant-day's report JSON as it stands now (a posted day says posted, with its number)."""
    row = _latest_voucher(conn, tenant, day, version)
    if row is None:
        return None
    stored = _stored_report(conn, row)
    return None if stored is None else with_current_state(conn, stored)


def report_html(
    conn: Connection, tenant: str, day: dt.date, version: int | None = None, chart: bool = True
) -> str | None:
    """The report rendered from the current state (posted with its number, held and why, corrections);
    without its chart when the page around it shows one."""
    if _latest_voucher(conn, tenant, day, version) is None or latest_report(conn, tenant, day) is None:
        return None
    return render_report(conn, tenant, day, chart=chart)[1]


def versions(conn: Connection, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """Every voucher version of the day (the day, its corrections, a re-post) with its Tripletex number,
    link, date and amounts per account and VAT type (validation/versions.py)."""
    return day_versions(conn, tenant, day, tripletex_link_for(conn, tenant))


def net(conn: Connection, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """What the ledger holds for the day now, per account and VAT type."""
    return day_net(conn, tenant, day)


def held_records(conn: Connection, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """The day's quarantined records, released or not, with who released them."""
    rows = conn.execute(
        select(
            quarantine.c.record_id, quarantine.c.reason, quarantine.c.released_at, quarantine.c.released_by
        )
        .where(quarantine.c.tenant_id == tenant, quarantine.c.local_date == day)
        .order_by(quarantine.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def approval_history(conn: Connection, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """The day's approval requests, oldest first, with who decided, when and why."""
    from bookspot_tripletex.load.approval import requests_of

    return [r.as_dict() for r in requests_of(conn, tenant, day)]


def awaiting_approval(conn: Connection, tenants: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every tenant-day waiting for approval, longest waiting first."""
    from bookspot_tripletex.load.approval import awaiting

    return [
        {"tenant": r.tenant, "date": r.day.isoformat(), **r.as_dict()} for r in awaiting(conn, list(tenants))
    ]
