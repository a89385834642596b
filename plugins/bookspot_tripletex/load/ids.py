"""Tripletex ids (accounts, VAT types, voucher type) per mapping version, resolved once and kept in staging.

Activation stores what it resolved with its passing check; load reuses it and resolves again only for a
new mapping version, numbers the store lacks, another company, or after Tripletex refused an id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update

from bookspot_tripletex.load.errors import DayRefused
from bookspot_tripletex.staging.schema import activations


@dataclass
class ResolvedIds:
    company_id: int | None = None
    accounts: dict[int, int] = field(default_factory=dict)
    vat_types: dict[int, int] = field(default_factory=dict)
    voucher_types: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "company_id": self.company_id,
            "accounts": {str(k): v for k, v in self.accounts.items()},
            "vat_types": {str(k): v for k, v in self.vat_types.items()},
            "voucher_types": dict(self.voucher_types),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ResolvedIds:
        data = data or {}
        return cls(
            company_id=data.get("company_id"),
            accounts={int(k): int(v) for k, v in (data.get("accounts") or {}).items()},
            vat_types={int(k): int(v) for k, v in (data.get("vat_types") or {}).items()},
            voucher_types={str(k): int(v) for k, v in (data.get("voucher_types") or {}).items()},
        )


def _latest(engine: Engine, tenant: str, mapping_version_id: int) -> tuple[int | None, ResolvedIds]:
    with engine.connect() as conn:
        row = conn.execute(
            select(activations.c.id, activations.c.resolved)
            .where(
                activations.c.tenant_id == tenant,
                activations.c.mapping_version_id == mapping_version_id,
                activations.c.ok.is_(True),
            )
            .order_by(activations.c.checked_at.desc(), activations.c.id.desc())
            .limit(1)
        ).first()
    return (None, ResolvedIds()) if row is None else (row.id, ResolvedIds.from_json(row.resolved))


def resolved_ids(
    engine: Engine,
    client: Any,
    tenant: str,
    mapping_version_id: int,
    company_id: int | None,
    accounts: Iterable[int],
    vat_types: Iterable[int],
    voucher_type: str | None,
    refresh: bool = False,
) -> ResolvedIds:
    """The ids for these numbers, from staging when it has them all for this company, else from Tripletex."""
    want_accounts, want_vat = set(accounts), set(vat_types)
    activation_id, ids = _latest(engine, tenant, mapping_version_id)
    stale = refresh or (company_id is not None and ids.company_id not in (None, company_id))
    if stale:
        ids = ResolvedIds(company_id=company_id)
    missing_accounts = sorted(want_accounts - ids.accounts.keys())
    missing_vat = sorted(want_vat - ids.vat_types.keys())
    missing_type = bool(voucher_type) and voucher_type not in ids.voucher_types
    if not (missing_accounts or missing_vat or missing_type or stale):
        return ids
    if missing_accounts:
        ids.accounts.update({n: int(a["id"]) for n, a in client.accounts_by_number(missing_accounts).items()})
    if missing_vat:
        ids.vat_types.update({n: int(v["id"]) for n, v in client.vat_types_by_number(missing_vat).items()})
    if missing_type and voucher_type:
        found = client.voucher_type_by_name(voucher_type)
        if found is None:
            raise DayRefused(f"{tenant}: voucher type {voucher_type!r} does not exist in Tripletex")
        ids.voucher_types[voucher_type] = int(found["id"])
    ids.company_id = company_id if company_id is not None else ids.company_id
    absent = sorted(want_accounts - ids.accounts.keys())
    absent_vat = sorted(want_vat - ids.vat_types.keys())
    if absent or absent_vat:
        bits = [f"account {n}" for n in absent] + [f"VAT code {n}" for n in absent_vat]
        raise DayRefused(
            f"{tenant}: {', '.join(bits)} not found in the Tripletex company; fix the mapping or the chart, "
            "then rebuild the day"
        )
    if activation_id is not None:
        with engine.begin() as conn:
            conn.execute(
                update(activations).where(activations.c.id == activation_id).values(resolved=ids.as_json())
            )
    return ids
