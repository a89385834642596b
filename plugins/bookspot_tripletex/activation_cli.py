"""`activation-check`: the activation report of tenants' current mappings, in the customer's words.

A passing check is kept with the connection's fingerprint (`load/binding.py`): the tenant's next night
posts without checking the company, the accounts and the VAT types again. Onboarding runs it once per
new tenant (`--tenant`, repeated) or for every active tenant (`--all`), e.g. after a key was rotated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine

from bookspot_tripletex import settings
from bookspot_tripletex.connections import tripletex_client
from bookspot_tripletex.load.activation import ActivationFailed, run_activation
from bookspot_tripletex.masking import compile_on_use
from bookspot_tripletex.staging.day_mapping import mapping_for_day
from bookspot_tripletex.staging.db import make_engine, require_head
from bookspot_tripletex.tenants.store import active_tenants, load_tenant


def run_activation_check(tenant_id: str, staging_url: str | None = None, day: dt.date | None = None) -> int:
    return run_activation_checks([tenant_id], staging_url, day)


def run_activation_checks(
    tenant_ids: Sequence[str] | None, staging_url: str | None = None, day: dt.date | None = None
) -> int:
    """Check each tenant (every active one when `tenant_ids` is None); 0 when every check passed."""
    compile_on_use()
    engine = make_engine(staging_url)
    require_head(engine)
    day = day or dt.date.today()
    if tenant_ids is None:
        with engine.connect() as conn:
            tenant_ids = active_tenants(conn)
    failed = [t for t in tenant_ids if not _check(engine, t, day)]
    if len(tenant_ids) > 1:
        print(f"{len(tenant_ids) - len(failed)} of {len(tenant_ids)} tenant(s) passed"
              + (f"; failed: {', '.join(failed)}" if failed else ""))  # fmt: skip
    if len(failed) < len(tenant_ids):
        print(
            "Kept in staging for the nights: checked again when the connection or the mapping changes, "
            f"after a refusal naming an account, a VAT code or the company, and every "
            f"{settings.tripletex_recheck_days():g} day(s)."
        )
    engine.dispose()
    return 1 if failed else 0


def _check(engine: Engine, tenant_id: str, day: dt.date) -> bool:
    with engine.connect() as conn:
        mapping = mapping_for_day(conn, tenant_id, day)
        tenant = load_tenant(conn, tenant_id)
    if mapping is None:
        print(f"{tenant_id}: no mapping version is in force on {day}")
        return False
    try:
        client = tripletex_client(engine, tenant_id)
        result = run_activation(
            engine, tenant_id, mapping, client, tenant.tripletex_company_id, tenant.voucher_type
        )
    except ActivationFailed as exc:
        print(exc)
        return False
    print(
        f"{tenant_id}: the API key works ({result['company']})"
        + (f", voucher type {tenant.voucher_type!r} exists" if tenant.voucher_type else "")
        + "; every mapped account can take its postings."
    )
    for warning in result["warnings"]:
        print(f"WARNING: {tenant_id}: {warning}")
    return True
