"""Mapping changes made reviewable: a tenant's versions, the difference between two, and what a
candidate tenant file (not yet imported) would post on chosen days next to what was posted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.staging.db import make_engine, migrate
from bookspot_tripletex.staging.schema import mapping_versions, quarantine, transaction_lines, transactions
from bookspot_tripletex.staging.schema import vouchers as vouchers_table
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.store import StoredMapping, import_tenant, stored_mapping


@dataclass(frozen=True)
class VersionInfo:
    id: int
    valid_from: dt.date
    revision: int
    imported_at: dt.datetime
    content_hash: str
    posted_days: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "valid_from": self.valid_from.isoformat(),
            "revision": self.revision,
            "imported_at": self.imported_at.isoformat(timespec="seconds"),
            "content_hash": self.content_hash[:12],
            "posted_days": self.posted_days,
        }


@dataclass(frozen=True)
class MappingChange:
    """One entry that differs: an account type's account, or a VAT rate's VAT type."""

    kind: str
    key: str
    old: int | None
    new: int | None

    @property
    def change(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "old": self.old, "new": self.new, "change": self.change}


def list_versions(conn: Connection, tenant: str) -> list[VersionInfo]:
    """Every mapping version of the tenant, oldest first, with how many days were posted with it."""
    posted = (
        select(vouchers_table.c.mapping_version_id, func.count().label("n"))
        .where(vouchers_table.c.tenant_id == tenant, vouchers_table.c.status == "posted")
        .group_by(vouchers_table.c.mapping_version_id)
        .subquery()
    )
    rows = conn.execute(
        select(mapping_versions, func.coalesce(posted.c.n, 0).label("posted_days"))
        .outerjoin(posted, posted.c.mapping_version_id == mapping_versions.c.id)
        .where(mapping_versions.c.tenant_id == tenant)
        .order_by(mapping_versions.c.valid_from, mapping_versions.c.revision)
    )
    return [
        VersionInfo(r.id, r.valid_from, r.revision, r.imported_at, r.content_hash, r.posted_days)
        for r in rows
    ]


def _changes(kind: str, old: dict[str, int], new: dict[str, int]) -> list[MappingChange]:
    return [
        MappingChange(kind, key, old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def diff_mappings(
    old_accounts: dict[str, int],
    old_vat: dict[str, int],
    new_accounts: dict[str, int],
    new_vat: dict[str, int],
) -> list[MappingChange]:
    return _changes("account", old_accounts, new_accounts) + _changes("vat_type", old_vat, new_vat)


def diff_versions(conn: Connection, tenant: str, old_id: int, new_id: int) -> list[MappingChange]:
    """What changed from one stored version to another (both must be the tenant's)."""
    old, new = stored_mapping(conn, old_id), stored_mapping(conn, new_id)
    known = {v.id for v in list_versions(conn, tenant)}
    if not {old_id, new_id} <= known:
        raise LookupError(f"mapping versions {old_id} and {new_id} are not both {tenant}'s")
    return diff_mappings(old.accounts, old.vat_types, new.accounts, new.vat_types)


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
        select(vouchers_table)
        .where(vouchers_table.c.tenant_id == tenant, vouchers_table.c.local_date == day)
        .order_by(vouchers_table.c.version.desc())
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
