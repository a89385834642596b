"""Mapping changes made reviewable: a tenant's versions and the difference between two
(`journal.mapping_preview` sets a candidate file's vouchers next to what was posted)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from bookspot_tripletex.tenants.store import stored_mapping
from bookspot_tripletex.tenants.tables import mapping_versions


@dataclass(frozen=True)
class VersionInfo:
    id: int
    valid_from: dt.date
    revision: int
    imported_at: dt.datetime
    content_hash: str
    posted_days: int
    """Days posted with this version (a day and its corrections count once)."""
    posted_vouchers: int = 0
    """Vouchers posted with it: the days' own and their corrections."""

    @property
    def usage(self) -> str:
        if not self.posted_days:
            return "never used: no day was posted with this version"
        days = f"{self.posted_days} day{'s' if self.posted_days != 1 else ''}"
        return f"{days} posted ({self.posted_vouchers} voucher{'s' if self.posted_vouchers != 1 else ''})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "valid_from": self.valid_from.isoformat(),
            "revision": self.revision,
            "imported_at": self.imported_at.isoformat(timespec="seconds"),
            "content_hash": self.content_hash[:12],
            "posted_days": self.posted_days,
            "posted_vouchers": self.posted_vouchers,
            "usage": self.usage,
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


def list_versions(
    conn: Connection,
    tenant: str,
    posted: dict[int, int] | None = None,
    vouchers: dict[int, int] | None = None,
) -> list[VersionInfo]:
    """Every mapping version of the tenant, oldest first; `posted` counts the days posted with each,
    `vouchers` the vouchers."""
    rows = conn.execute(
        select(mapping_versions)
        .where(mapping_versions.c.tenant_id == tenant)
        .order_by(mapping_versions.c.valid_from, mapping_versions.c.revision)
    )
    days, count = posted or {}, vouchers or {}
    return [
        VersionInfo(
            r.id,
            r.valid_from,
            r.revision,
            r.imported_at,
            r.content_hash,
            days.get(r.id, 0),
            count.get(r.id, 0),
        )
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
    changes = diff_mappings(old.accounts, old.vat_types, new.accounts, new.vat_types)
    if old.revenue_on_delivery != new.revenue_on_delivery:
        flag = "revenue_on_delivery"
        changes.append(
            MappingChange("option", flag, int(old.revenue_on_delivery), int(new.revenue_on_delivery))
        )
    return changes
