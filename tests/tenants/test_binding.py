"""Each tenant names its Tripletex company; two tenants share one only when both files say so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from bookspot_devkit.demo import DEMO_COMPANY_ID, demo_emulator_config, organization_number
from bookspot_tripletex.staging.schema import tenants
from bookspot_tripletex.tenants.config import TenantConfig, TenantConfigError, load_tenant_file
from bookspot_tripletex.tenants.store import import_tenant, load_tenant

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fjord(example_tenant_file: Path) -> TenantConfig:
    return load_tenant_file(example_tenant_file)


def other(cfg: TenantConfig, **changes: object) -> TenantConfig:
    return dataclasses.replace(cfg, tenant="tenant-001", name="Other AS", **changes)  # type: ignore[arg-type]


def imported(engine: Engine, *configs: TenantConfig) -> None:
    for cfg in configs:
        with engine.begin() as conn:
            import_tenant(conn, cfg)


def test_the_binding_is_stored_and_read_back(staging_engine: Engine, fjord: TenantConfig) -> None:
    imported(staging_engine, fjord)
    with staging_engine.connect() as conn:
        back = load_tenant(conn, "fjord-kayak")
    assert (back.tripletex_company_id, back.organization_number, back.shares_company_with) == (
        1001,
        "999010016",
        (),
    )


def test_a_second_tenant_on_the_same_company_is_refused(staging_engine: Engine, fjord: TenantConfig) -> None:
    imported(staging_engine, fjord)
    with pytest.raises(TenantConfigError) as info:
        imported(staging_engine, other(fjord))
    message = str(info.value)
    assert "tenant-001: tripletex_company_id 1001 is already the company of tenant 'fjord-kayak'" in message
    assert "shares_company_with" in message
    with staging_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tenants)).scalar_one() == 1


def test_sharing_must_be_declared_by_both(staging_engine: Engine, fjord: TenantConfig) -> None:
    imported(staging_engine, fjord)
    with pytest.raises(TenantConfigError, match="already the company of tenant 'fjord-kayak'"):
        imported(staging_engine, other(fjord, shares_company_with=("fjord-kayak",)))
    imported(
        staging_engine,
        dataclasses.replace(fjord, shares_company_with=("tenant-001",)),
        other(fjord, shares_company_with=("fjord-kayak",)),
    )
    with pytest.raises(TenantConfigError, match="already the company of tenant 'tenant-001'"):
        imported(staging_engine, fjord)


def test_tenants_sharing_a_company_agree_on_its_organisation_number(
    staging_engine: Engine, fjord: TenantConfig
) -> None:
    imported(staging_engine, dataclasses.replace(fjord, shares_company_with=("tenant-001",)))
    with pytest.raises(TenantConfigError, match="organization_number 923609016 differs"):
        imported(
            staging_engine,
            other(fjord, shares_company_with=("fjord-kayak",), organization_number="923609016"),
        )


def test_another_company_is_no_conflict(staging_engine: Engine, fjord: TenantConfig) -> None:
    imported(staging_engine, fjord, other(fjord, tripletex_company_id=1002, organization_number="999010024"))
    with staging_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tenants)).scalar_one() == 2


def test_a_tenant_imported_before_the_binding_must_be_imported_again(
    staging_engine: Engine, fjord: TenantConfig
) -> None:
    imported(staging_engine, fjord)
    with staging_engine.begin() as conn:
        conn.execute(update(tenants).values(tripletex_company_id=None, organization_number=None))
    with staging_engine.connect() as conn, pytest.raises(LookupError, match="names no Tripletex company"):
        load_tenant(conn, "fjord-kayak")


def test_demo_files_name_the_emulator_demo_company(fjord: TenantConfig) -> None:
    demo = load_tenant_file(ROOT / "demo" / "fjord-kayak.yaml")
    company = demo_emulator_config().companies[0]
    for cfg in (demo, fjord):
        assert cfg.tripletex_company_id == DEMO_COMPANY_ID == company.id
        assert cfg.organization_number == organization_number(DEMO_COMPANY_ID) == company.organization_number
