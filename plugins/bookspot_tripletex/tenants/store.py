"""Tenants and their effective-dated mapping versions in the staging database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from bookspot_tripletex.staging.schema import mapping_accounts, mapping_versions, tenants, vouchers
from bookspot_tripletex.staging.upsert import upsert
from bookspot_tripletex.tenants.config import MappingVersion, TenantConfig


@dataclass(frozen=True)
class ImportResult:
    tenant: str
    new_versions: list[tuple[dt.date, int]]
    unchanged: int


@dataclass(frozen=True)
class StoredMapping:
    id: int
    valid_from: dt.date
    revision: int
    accounts: dict[str, int]
    vat_types: dict[str, int]


def import_tenant(conn: Connection, cfg: TenantConfig, now: dt.datetime | None = None) -> ImportResult:
    """Upsert the tenant row; add a new mapping revision for every version whose content changed."""
    now = now or dt.datetime.now(dt.UTC)
    row = {
        "tenant_id": cfg.tenant,
        "name": cfg.name,
        "timezone": cfg.timezone,
        "currency": cfg.currency,
        "start_date": cfg.start_date,
        "active": cfg.active,
        "tripletex_conn_id": cfg.tripletex_conn_id,
        "bookspot_conn_id": cfg.bookspot_conn_id,
        "voucher_type": cfg.voucher_type,
        "vat_tolerance_ore": cfg.vat_tolerance_ore,
        "attach_report": cfg.attach_report,
        "updated_at": now,
    }
    upsert(conn, tenants, [row], ["tenant_id"], [k for k in row if k != "tenant_id"])
    added: list[tuple[dt.date, int]] = []
    unchanged = 0
    for version in cfg.mappings:
        latest = conn.execute(
            select(mapping_versions.c.revision, mapping_versions.c.content_hash)
            .where(
                mapping_versions.c.tenant_id == cfg.tenant,
                mapping_versions.c.valid_from == version.valid_from,
            )
            .order_by(mapping_versions.c.revision.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.content_hash == version.content_hash:
            unchanged += 1
            continue
        revision = 1 if latest is None else latest.revision + 1
        _insert_version(conn, cfg.tenant, version, revision, now)
        added.append((version.valid_from, revision))
    return ImportResult(cfg.tenant, added, unchanged)


def _insert_version(
    conn: Connection, tenant: str, version: MappingVersion, revision: int, now: dt.datetime
) -> None:
    version_id = conn.execute(
        mapping_versions.insert().returning(mapping_versions.c.id),
        {
            "tenant_id": tenant,
            "valid_from": version.valid_from,
            "revision": revision,
            "content_hash": version.content_hash,
            "vat_types": version.vat_types,
            "imported_at": now,
        },
    ).scalar_one()
    conn.execute(
        mapping_accounts.insert(),
        [
            {"mapping_version_id": version_id, "account_type": account_type, "account_number": number}
            for account_type, number in sorted(version.accounts.items())
        ],
    )


def load_tenant(conn: Connection, tenant: str) -> TenantConfig:
    row = conn.execute(select(tenants).where(tenants.c.tenant_id == tenant)).mappings().first()
    if row is None:
        raise LookupError(f"tenant {tenant!r} is not imported (run the tenant import first)")
    return TenantConfig(
        tenant=row["tenant_id"],
        name=row["name"],
        timezone=row["timezone"],
        currency=row["currency"],
        start_date=row["start_date"],
        active=row["active"],
        tripletex_conn_id=row["tripletex_conn_id"],
        bookspot_conn_id=row["bookspot_conn_id"],
        voucher_type=row["voucher_type"],
        vat_tolerance_ore=row["vat_tolerance_ore"],
        attach_report=row["attach_report"],
    )


def active_tenants(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            select(tenants.c.tenant_id).where(tenants.c.active.is_(True)).order_by(tenants.c.tenant_id)
        )
        .scalars()
        .all()
    )


def stored_mapping(conn: Connection, mapping_version_id: int) -> StoredMapping:
    row = (
        conn.execute(select(mapping_versions).where(mapping_versions.c.id == mapping_version_id))
        .mappings()
        .one()
    )
    accounts = dict(
        conn.execute(
            select(mapping_accounts.c.account_type, mapping_accounts.c.account_number).where(
                mapping_accounts.c.mapping_version_id == mapping_version_id
            )
        ).all()
    )
    return StoredMapping(row["id"], row["valid_from"], row["revision"], accounts, dict(row["vat_types"]))


def mapping_for_day(conn: Connection, tenant: str, day: dt.date) -> StoredMapping | None:
    """The mapping a day is posted with: the one its first voucher recorded, else the one in force."""
    recorded = conn.execute(
        select(vouchers.c.mapping_version_id)
        .where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.local_date == day,
            vouchers.c.status.in_(("posting", "posted")),
            vouchers.c.mapping_version_id.is_not(None),
        )
        .order_by(vouchers.c.version)
        .limit(1)
    ).scalar()
    if recorded is not None:
        return stored_mapping(conn, recorded)
    latest_from = (
        select(func.max(mapping_versions.c.valid_from))
        .where(mapping_versions.c.tenant_id == tenant, mapping_versions.c.valid_from <= day)
        .scalar_subquery()
    )
    version_id = conn.execute(
        select(mapping_versions.c.id)
        .where(and_(mapping_versions.c.tenant_id == tenant, mapping_versions.c.valid_from == latest_from))
        .order_by(mapping_versions.c.revision.desc())
        .limit(1)
    ).scalar()
    return None if version_id is None else stored_mapping(conn, version_id)
