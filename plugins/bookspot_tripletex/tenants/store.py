"""Tenants, their Tripletex binding and their effective-dated mapping versions in the staging database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select, update

from bookspot_tripletex.tenants.config import MappingVersion, TenantConfig, TenantConfigError
from bookspot_tripletex.tenants.tables import mapping_accounts, mapping_versions, tenants


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


def check_binding(conn: Connection, cfg: TenantConfig) -> None:
    """Refuse a tenant bound to a Tripletex company another tenant posts into, unless both files name
    each other in `shares_company_with`; tenants on one company must agree on its organisation number."""
    others = conn.execute(
        select(tenants.c.tenant_id, tenants.c.organization_number, tenants.c.shares_company_with).where(
            tenants.c.tripletex_company_id == cfg.tripletex_company_id,
            tenants.c.tenant_id != cfg.tenant,
        )
    ).all()
    for other in others:
        where = f"{cfg.tenant}: tripletex_company_id {cfg.tripletex_company_id}"
        if (
            cfg.tenant not in (other.shares_company_with or ())
            or other.tenant_id not in cfg.shares_company_with
        ):
            raise TenantConfigError(
                f"{where} is already the company of tenant {other.tenant_id!r}; two tenants post into one "
                f"Tripletex company only when both files name each other in shares_company_with"
            )
        if other.organization_number != cfg.organization_number:
            raise TenantConfigError(
                f"{where}: organization_number {cfg.organization_number} differs from tenant "
                f"{other.tenant_id!r}'s {other.organization_number} for the same company"
            )


def import_tenant(conn: Connection, cfg: TenantConfig, now: dt.datetime | None = None) -> ImportResult:
    """Upsert the tenant row (after checking its company binding); add a new mapping revision for every
    version whose content changed."""
    now = now or dt.datetime.now(dt.UTC)
    check_binding(conn, cfg)
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
        "tripletex_company_id": cfg.tripletex_company_id,
        "organization_number": cfg.organization_number,
        "shares_company_with": sorted(cfg.shares_company_with),
        "approval_days": cfg.approval_days,
        "approval_new_mapping": cfg.approval_new_mapping,
        "approval_alert_hours": cfg.approval_alert_hours,
        "updated_at": now,
    }
    known = conn.execute(select(tenants.c.tenant_id).where(tenants.c.tenant_id == cfg.tenant)).first()
    if known is None:
        conn.execute(tenants.insert().values(row))
    else:
        conn.execute(update(tenants).where(tenants.c.tenant_id == cfg.tenant).values(row))
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
    if row["tripletex_company_id"] is None:
        raise LookupError(
            f"tenant {tenant!r} names no Tripletex company: add tripletex_company_id and "
            "organization_number to its tenant file and import it again"
        )
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
        tripletex_company_id=row["tripletex_company_id"],
        organization_number=row["organization_number"],
        shares_company_with=tuple(row["shares_company_with"] or ()),
        approval_days=row["approval_days"],
        approval_new_mapping=row["approval_new_mapping"],
        approval_alert_hours=row["approval_alert_hours"],
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


def mapping_in_force(conn: Connection, tenant: str, day: dt.date) -> StoredMapping | None:
    """The newest revision of the mapping version valid on `day`, or None before the first one."""
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
