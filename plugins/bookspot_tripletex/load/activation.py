"""Activation of a tenant's mapping against its Tripletex company: checked for each mapping version, and
again when the connection changes, Tripletex refused a posting naming the mapping or the company, or
the check is older than the re-check schedule (`load/binding.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select

from bookspot_tripletex.staging.day_mapping import mapping_for_day
from bookspot_tripletex.staging.schema import activations
from bookspot_tripletex.tenants.store import StoredMapping


class ActivationFailed(RuntimeError):
    """The tenant's Tripletex key or chart cannot take the postings; the message is for the customer."""


def passed_activation(engine: Engine, tenant_id: str, mapping_version_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(activations.c.checked_at, activations.c.company)
            .where(
                activations.c.tenant_id == tenant_id,
                activations.c.mapping_version_id == mapping_version_id,
                activations.c.ok.is_(True),
            )
            .order_by(activations.c.checked_at.desc())
            .limit(1)
        ).first()
    return None if row is None else {"checked_at": str(row.checked_at), "company": row.company}


def run_activation(
    engine: Engine,
    tenant_id: str,
    mapping: StoredMapping,
    client: Any,
    company_id: int | None = None,
    voucher_type: str | None = None,
) -> dict[str, Any]:
    """Check the key, the voucher type and every mapped account; record the outcome and the ids it
    resolved (load posts with them); raise ActivationFailed on errors. `company_id`: the tenant's
    Tripletex company, if known; `voucher_type`: the tenant file's voucher type, if any."""
    from bookspot_tripletex.load.ids import ResolvedIds
    from bookspot_tripletex.tripletex.activation import check_activation

    report = check_activation(
        client, mapping.accounts, mapping.vat_types, company_id, voucher_type, mapping.revenue_on_delivery
    )
    resolved = ResolvedIds(
        report.company_id, dict(report.account_ids), dict(report.vat_type_ids), dict(report.voucher_type_ids)
    )
    if report.ok:
        from bookspot_tripletex.load.binding import company_moved, load_binding
        from bookspot_tripletex.tripletex.activation import Problem

        moved = company_moved(load_binding(engine, tenant_id), report.company_id, company_id)
        if moved is not None:
            report.problems.append(
                Problem(
                    f"{moved[0].upper()}{moved[1:]}; connect the tenant's own company again, or name the new "
                    "company (tripletex_company_id) in the tenant file and import it."
                )
            )
    problems = [
        {
            "severity": p.severity,
            "message": p.message,
            "account": p.account_number,
            "types": list(p.account_types),
        }
        for p in report.problems
    ]
    with engine.begin() as conn:
        conn.execute(
            activations.insert().values(
                tenant_id=tenant_id,
                mapping_version_id=mapping.id,
                ok=report.ok,
                company=report.company,
                problems=problems,
                checked_at=dt.datetime.now(dt.UTC),
                resolved=resolved.as_json() if report.ok else None,
            )
        )
    if report.ok:
        from bookspot_tripletex.load.binding import record

        record(engine, tenant_id, client, report.company_id, report.company, mapping.id)
    if not report.ok:
        from bookspot_tripletex.load.binding import request_recheck

        request_recheck(engine, tenant_id, "the activation check failed: " + "; ".join(report.messages))
        version = f"the mapping valid from {mapping.valid_from}"
        raise ActivationFailed(f"{tenant_id}: Tripletex activation check failed for {version}:\n{report}")
    return {"status": "activated", "company": report.company, "warnings": [p["message"] for p in problems]}


def _still_current(engine: Engine, tenant_id: str, mapping_version_id: int, client: Any) -> bool:
    """A passed check still holds: for a client that tells its connection's fingerprint, only while
    staging's binding says this connection passed it for this version recently and nothing asked for a
    re-check (`load/binding.py`); a client that cannot tell keeps the check of its mapping version."""
    from bookspot_tripletex.load.binding import fingerprint, mapping_current

    if fingerprint(client) is None:
        return True
    return mapping_current(engine, tenant_id, mapping_version_id, client)


def ensure_activated(engine: Engine, tenant_id: str, day: dt.date, client: Any) -> dict[str, Any]:
    """Before a post: run the activation check unless it passed for this mapping version and still holds
    (same connection, recent enough, no re-check asked)."""
    from bookspot_tripletex.tenants.store import load_tenant

    with engine.connect() as conn:
        mapping = mapping_for_day(conn, tenant_id, day)
        tenant = load_tenant(conn, tenant_id)
    if mapping is None:
        return {"status": "no_mapping"}
    done = passed_activation(engine, tenant_id, mapping.id)
    if done is not None and _still_current(engine, tenant_id, mapping.id, client):
        return {"status": "already_activated", **done}
    return run_activation(
        engine, tenant_id, mapping, client, tenant.tripletex_company_id, tenant.voucher_type
    )
