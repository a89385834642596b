"""A candidate tenant file (not yet imported) on chosen days: the voucher it would give, built from the
staged records in a throw-away database, next to the voucher recorded in staging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.staging.db import make_engine, migrate
from bookspot_tripletex.staging.schema import quarantine, transaction_lines, transactions, vouchers
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.diff import MappingChange, VersionInfo, diff_mappings, list_versions
from bookspot_tripletex.tenants.store import StoredMapping, import_tenant, stored_mapping


def versions_in_use(conn: Connection, tenant: str) -> list[VersionInfo]:
    """The tenant's mapping versions with how many days (a day and its corrections once) and how many
    vouchers were posted with each; a voucher reversed later was posted too."""
    rows = conn.execute(
        select(
            vouchers.c.mapping_version_id,
            func.count(vouchers.c.local_date.distinct()),
            func.count(),
        )
        .where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.status.in_([VoucherStatus.POSTED, VoucherStatus.REVERSED]),
        )
        .group_by(vouchers.c.mapping_version_id)
    ).all()
    days = {version: int(n) for version, n, _ in rows}
    count = {version: int(n) for version, _, n in rows}
    return list_versions(conn, tenant, days, count)


def posted_days_covered(conn: Connection, tenant: str, valid_from: dt.date) -> list[dt.date]:
    """Posted days inside the span of the mapping version valid from `valid_from` (up to the next version):
    they keep the version they were posted with, unless someone re-posts one with the new one."""
    from bookspot_tripletex.tenants.tables import mapping_versions

    next_from = conn.execute(
        select(func.min(mapping_versions.c.valid_from)).where(
            mapping_versions.c.tenant_id == tenant, mapping_versions.c.valid_from > valid_from
        )
    ).scalar()
    query = (
        select(vouchers.c.local_date)
        .where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.status == VoucherStatus.POSTED,
            vouchers.c.local_date >= valid_from,
        )
        .distinct()
        .order_by(vouchers.c.local_date)
    )
    if next_from is not None:
        query = query.where(vouchers.c.local_date < next_from)
    return list(conn.execute(query).scalars())


@dataclass
class DayComparison:
    """A day as posted (or staged) next to the voucher the candidate mapping would give."""

    date: dt.date
    posted_status: str | None
    posted_mapping_version_id: int | None
    candidate_status: str
    candidate_valid_from: dt.date | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    mapping_changes: list[MappingChange] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return any(r["difference"] != "0.00" for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "posted_status": self.posted_status,
            "posted_mapping_version_id": self.posted_mapping_version_id,
            "candidate_status": self.candidate_status,
            "candidate_valid_from": self.candidate_valid_from.isoformat()
            if self.candidate_valid_from
            else None,
            "differs": self.differs,
            "rows": self.rows,
            "mapping_changes": [c.as_dict() for c in self.mapping_changes],
        }


def _by_account(postings: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for account, vat_type, ore in postings:
        out[(account, vat_type)] = out.get((account, vat_type), 0) + ore
    return out


def compare_postings(
    posted: Iterable[tuple[int, int, int]], candidate: Iterable[tuple[int, int, int]]
) -> list[dict[str, Any]]:
    """Per (account, VAT type): posted, candidate and candidate minus posted, as NOK strings."""
    old, new = _by_account(posted), _by_account(candidate)
    return [
        {
            "account": account,
            "vat_type": vat_type,
            "posted": format_nok(old[(account, vat_type)]) if (account, vat_type) in old else None,
            "candidate": format_nok(new[(account, vat_type)]) if (account, vat_type) in new else None,
            "difference": format_nok(new.get((account, vat_type), 0) - old.get((account, vat_type), 0)),
        }
        for account, vat_type in sorted(set(old) | set(new))
    ]


def _copy_day(source: Connection, target: Connection, tenant: str, day: dt.date) -> None:
    """The staged records of one tenant-day (and its unreleased quarantine) into another database."""
    day_tx = (transactions.c.tenant_id == tenant) & (transactions.c.local_date == day)
    rows = [dict(r) for r in source.execute(select(transactions).where(day_tx)).mappings()]
    if rows:
        target.execute(transactions.insert(), rows)
        ids = select(transactions.c.transaction_id).where(day_tx)
        lines = source.execute(
            select(transaction_lines).where(
                transaction_lines.c.tenant_id == tenant, transaction_lines.c.transaction_id.in_(ids)
            )
        ).mappings()
        line_rows = [dict(r) for r in lines]
        if line_rows:
            target.execute(transaction_lines.insert(), line_rows)
    held = source.execute(
        select(quarantine).where(
            quarantine.c.tenant_id == tenant,
            quarantine.c.local_date == day,
            quarantine.c.released_at.is_(None),
        )
    ).mappings()
    held_rows = [{k: v for k, v in dict(r).items() if k != "id"} for r in held]
    if held_rows:
        target.execute(quarantine.insert(), held_rows)


def _recorded(conn: Connection, tenant: str, day: dt.date) -> Any:
    return conn.execute(
        select(vouchers)
        .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date == day)
        .order_by(vouchers.c.version.desc())
        .limit(1)
    ).first()


def preview_candidate(
    conn: Connection, candidate: TenantConfig, days: Iterable[dt.date]
) -> list[DayComparison]:
    """Build each day with the candidate's mappings in a throw-away database from the staged records,
    and set it next to the voucher recorded in staging (posted, or the latest built)."""
    out = []
    for day in sorted(set(days)):
        engine = make_engine("sqlite:///:memory:")
        migrate(engine)
        with engine.begin() as scratch:
            import_tenant(scratch, candidate)
            _copy_day(conn, scratch, candidate.tenant, day)
            journal = build_day(scratch, candidate, day)
            candidate_map: StoredMapping | None = (
                stored_mapping(scratch, journal.mapping_version_id) if journal.mapping_version_id else None
            )
        engine.dispose()
        recorded = _recorded(conn, candidate.tenant, day)
        posted = (
            [(p["account"], p["vat_type"], p["amount_ore"]) for p in (recorded.postings or [])]
            if recorded
            else []
        )
        new = [
            (p.account, p.vat_type, p.amount_ore)
            for p in (journal.voucher.postings if journal.voucher else ())
        ]
        comparison = DayComparison(
            date=day,
            posted_status=recorded.status if recorded else None,
            posted_mapping_version_id=recorded.mapping_version_id if recorded else None,
            candidate_status=journal.status,
            candidate_valid_from=journal.mapping_valid_from,
            rows=compare_postings(posted, new),
        )
        if recorded is not None and recorded.mapping_version_id and candidate_map is not None:
            old = stored_mapping(conn, recorded.mapping_version_id)
            comparison.mapping_changes = diff_mappings(
                old.accounts, old.vat_types, candidate_map.accounts, candidate_map.vat_types
            )
        out.append(comparison)
    return out
