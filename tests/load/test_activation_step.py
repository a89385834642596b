"""Activation before a mapping version's first night, against the emulator over real HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.load.activation import ActivationFailed, ensure_activated
from bookspot_tripletex.staging.schema import activations
from helpers import setup_tenant
from tripletex_support import make_client

DAY = dt.date(2026, 11, 24)


def test_checked_once_per_mapping_version(
    staging_engine, tripletex: EmulatorServer, example_tenant_file: Path
) -> None:
    tripletex.reset()
    setup_tenant(staging_engine, example_tenant_file)
    first = ensure_activated(staging_engine, "fjord-kayak", DAY, make_client(tripletex))
    assert first["status"] == "activated" and "Fjord Kayak" in first["company"]
    second = ensure_activated(staging_engine, "fjord-kayak", DAY, make_client(tripletex))
    assert second["status"] == "already_activated"
    with staging_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(activations)).scalar_one() == 1


def test_problems_block_and_are_named(
    staging_engine, tripletex: EmulatorServer, example_tenant_file: Path, tmp_path: Path
) -> None:
    tripletex.reset()
    company = tripletex.config.companies[0].id
    tripletex.admin(
        "POST", f"companies/{company}/accounts", {"number": 1581, "name": "Vipps", "is_inactive": True}
    )
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text()
        .replace("sales.15: 3001", "sales.15: 3000")
        .replace("settlement.invoice: 1579", "settlement.invoice: 1500")
        .replace("settlement.cash: 1900", "settlement.cash: 1234")
    )
    setup_tenant(staging_engine, tenant_file)
    with pytest.raises(ActivationFailed) as info:
        ensure_activated(staging_engine, "fjord-kayak", DAY, make_client(tripletex))
    text = str(info.value)
    assert "3000" in text and "VAT" in text
    assert "1500" in text and "customer" in text
    assert "1234" in text
    assert "1581" in text and "inactive" in text
    with staging_engine.connect() as conn:
        row = conn.execute(select(activations)).mappings().one()
    assert row["ok"] is False and len(row["problems"]) >= 4
