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


def _with_voucher_type(example_tenant_file: Path, target: Path, name: str) -> Path:
    text = example_tenant_file.read_text(encoding="utf-8")
    assert "voucher_type: null" in text
    target.write_text(text.replace("voucher_type: null", f'voucher_type: "{name}"'), encoding="utf-8")
    return target


def test_a_voucher_type_missing_in_tripletex_blocks_activation(
    staging_engine, tripletex: EmulatorServer, example_tenant_file: Path, tmp_path: Path
) -> None:
    tripletex.reset()
    setup_tenant(staging_engine, _with_voucher_type(example_tenant_file, tmp_path / "t.yaml", "Dagsoppgjør"))
    with pytest.raises(ActivationFailed) as info:
        ensure_activated(staging_engine, "fjord-kayak", DAY, make_client(tripletex))
    assert "Voucher type 'Dagsoppgjør'" in str(info.value) and "does not exist" in str(info.value)


def test_an_existing_voucher_type_is_resolved_at_activation(
    staging_engine, tripletex: EmulatorServer, example_tenant_file: Path, tmp_path: Path
) -> None:
    tripletex.reset()
    setup_tenant(staging_engine, _with_voucher_type(example_tenant_file, tmp_path / "t.yaml", "betaling"))
    assert (
        ensure_activated(staging_engine, "fjord-kayak", DAY, make_client(tripletex))["status"] == "activated"
    )
    with staging_engine.connect() as conn:
        resolved = conn.execute(select(activations.c.resolved)).scalar_one()
    assert list(resolved["voucher_types"]) == ["betaling"] and resolved["voucher_types"]["betaling"] > 0


def test_activation_check_names_a_missing_voucher_type(
    staging_engine,
    staging_url: str,
    tripletex: EmulatorServer,
    example_tenant_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from bookspot_tripletex.activation_cli import run_activation_check

    tripletex.reset()
    company = tripletex.config.companies[0]
    cfg = setup_tenant(staging_engine, _with_voucher_type(example_tenant_file, tmp_path / "t.yaml", "Nope"))
    connection = {
        "conn_type": "tripletex",
        "host": tripletex.url,
        "password": company.employee_token,
        "extra": {"consumer_token": company.consumer_token},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{cfg.tripletex_conn_id.upper()}", json.dumps(connection))
    assert run_activation_check("fjord-kayak", staging_url, DAY) == 1
    assert "Voucher type 'Nope'" in capsys.readouterr().out
    setup_tenant(staging_engine, _with_voucher_type(example_tenant_file, tmp_path / "t.yaml", "Betaling"))
    assert run_activation_check("fjord-kayak", staging_url, DAY) == 0
    out = capsys.readouterr().out
    assert "voucher type 'Betaling' exists" in out and company.consumer_token not in out
