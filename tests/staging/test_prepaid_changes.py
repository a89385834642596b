"""Revenue on delivery in staging: a changed record touches the days its service dates release on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from bookspot_tripletex.pipeline import journal_day
from bookspot_tripletex.staging.schema import pending_corrections, vouchers
from bookspot_tripletex.tenants.config import parse_tenant
from bookspot_tripletex.tenants.store import import_tenant
from helpers import stage
from prepaid_support import PAYDAY_A, REBOOKED, SERVICE_LUNCH, SERVICE_TRIP, season, tenant_data


@pytest.mark.parametrize("on", [True, False])
def test_a_rebooking_touches_the_old_and_new_service_dates(
    staging_engine, example_tenant_file: Path, on
) -> None:  # type: ignore[no-untyped-def]
    example = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    cfg = parse_tenant(tenant_data(example, "fjord-kayak", 1001, example["organization_number"], on))
    with staging_engine.begin() as conn:
        import_tenant(conn, cfg)
    nights = season(cfg.tenant)
    first = stage(staging_engine, cfg, nights[PAYDAY_A])
    assert first.days == ({PAYDAY_A, SERVICE_LUNCH} if on else {PAYDAY_A})
    for day in (PAYDAY_A, SERVICE_LUNCH):
        journal_day(staging_engine, cfg.tenant, day)
    with staging_engine.begin() as conn:
        conn.execute(update(vouchers).values(status="posted"))
    rebooked = stage(staging_engine, cfg, nights[REBOOKED])
    with staging_engine.connect() as conn:
        pending = conn.execute(select(pending_corrections.c.local_date, pending_corrections.c.change)).all()
    if on:
        assert rebooked.days == {PAYDAY_A, SERVICE_LUNCH, SERVICE_TRIP}
        assert sorted(pending) == [(PAYDAY_A, "update"), (SERVICE_LUNCH, "update")]
    else:
        assert rebooked.days == {PAYDAY_A} and pending == [(PAYDAY_A, "update")]
