"""Tenant files: what is refused at load, with the file and the field named, and that what is accepted
fits the staging tables on SQLite and PostgreSQL exactly as written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bookspot_tripletex.domain import (
    CONN_ID_LENGTH,
    NAME_LENGTH,
    TENANT_ID_LENGTH,
    VOUCHER_TYPE_LENGTH,
    is_organization_number,
)
from bookspot_tripletex.staging.schema import mapping_accounts, tenants
from bookspot_tripletex.tenants.config import TenantConfigError, load_tenant_file, parse_tenant
from bookspot_tripletex.tenants.store import import_tenant, load_tenant


@pytest.fixture
def example(example_tenant_file: Path) -> dict[str, Any]:
    return yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(TenantConfigError) as info:
        parse_tenant(data, "fjord-kayak.yaml")
    return str(info.value)


def changed(example: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(example)
    data.update(changes)
    return data


def test_the_example_file_loads_with_its_binding(example_tenant_file: Path) -> None:
    cfg = load_tenant_file(example_tenant_file)
    assert cfg.tripletex_company_id == 1001 and cfg.organization_number == "999010016"
    assert cfg.currency == "NOK" and cfg.vat_tolerance_ore == 100 and cfg.shares_company_with == ()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"currency": "EUR"}, "fjord-kayak.yaml: currency: 'EUR': only NOK"),
        ({"colour": "blue"}, "fjord-kayak.yaml: colour: unknown key"),
        ({"vat_tolerance_nok": "-0.01"}, "fjord-kayak.yaml: vat_tolerance_nok: must be between 0"),
        ({"vat_tolerance_nok": 1.5}, "fjord-kayak.yaml: vat_tolerance_nok: must be a NOK amount"),
        ({"vat_tolerance_nok": "0.001"}, "vat_tolerance_nok: '0.001' is not a NOK amount"),
        ({"name": "N" * (NAME_LENGTH + 1)}, f"name: is longer than {NAME_LENGTH} characters"),
        ({"tenant": "t" * (TENANT_ID_LENGTH + 1)}, f"tenant: is longer than {TENANT_ID_LENGTH}"),
        ({"tenant": "two words"}, "fjord-kayak.yaml: tenant: String should match pattern"),
        ({"tenant": 1}, "fjord-kayak.yaml: tenant: must be text"),
        ({"tripletex_conn_id": "c" * (CONN_ID_LENGTH + 1)}, "tripletex_conn_id: is longer than"),
        ({"voucher_type": "v" * (VOUCHER_TYPE_LENGTH + 1)}, "voucher_type: is longer than"),
        ({"name": "Fjord\x00Kayak"}, "fjord-kayak.yaml: name: must not contain control characters"),
        ({"name": "Fjord \ud800"}, "name: is not valid Unicode"),
        ({"timezone": "Europe/Atlantis"}, "fjord-kayak.yaml: timezone: unknown time zone"),
        ({"start_date": "2026-02-30"}, "fjord-kayak.yaml: start_date: '2026-02-30' is not a date"),
        ({"active": "yes"}, "fjord-kayak.yaml: active: must be true or false"),
        ({"tripletex_company_id": "1001"}, "fjord-kayak.yaml: tripletex_company_id: must be a whole number"),
        ({"tripletex_company_id": 0}, "fjord-kayak.yaml: tripletex_company_id:"),
        ({"tripletex_company_id": 2**63}, "fjord-kayak.yaml: tripletex_company_id:"),
        ({"organization_number": "999010017"}, "organization_number: '999010017' is not a Norwegian"),
        ({"organization_number": "99901001"}, "organization_number: '99901001' is not a Norwegian"),
        ({"shares_company_with": ["fjord-kayak"]}, "does not share a company with itself"),
        ({"mappings": []}, "fjord-kayak.yaml: mappings: must not be empty"),
    ],
)
def test_refused_with_file_and_field(example: dict[str, Any], changes: dict[str, Any], expected: str) -> None:
    assert expected in refused(changed(example, **changes))


def test_a_missing_binding_is_named(example: dict[str, Any]) -> None:
    data = changed(example)
    del data["tripletex_company_id"], data["organization_number"]
    message = refused(data)
    assert "fjord-kayak.yaml: tripletex_company_id: is required" in message
    assert "fjord-kayak.yaml: organization_number: is required" in message


@pytest.mark.parametrize(
    ("account_type", "number", "expected"),
    [
        ("sales.25", 999, "mappings[0].accounts.sales.25: Input should be greater than or equal to 1000"),
        ("sales.25", 10000, "mappings[0].accounts.sales.25: Input should be less than or equal to 9999"),
        ("sales.25", "3000", "mappings[0].accounts.sales.25: must be a whole number"),
        ("sales.25", True, "mappings[0].accounts.sales.25: must be a whole number"),
        ("sales.30", 3000, "mappings[0].accounts.sales.30 (key): unknown account type 'sales.30'"),
        ("product." + "p" * 200, 3000, "mappings[0].accounts.product.ppp"),
    ],
)
def test_mapping_accounts_are_checked(
    example: dict[str, Any], account_type: str, number: Any, expected: str
) -> None:
    data = changed(example)
    data["mappings"][0]["accounts"][account_type] = number
    message = refused(data)
    assert message.startswith(f"fjord-kayak.yaml: {expected}") and len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("rate", "number", "expected"),
    [
        ("25", 1, "mappings[0].vat_types.25: 1 is not a Tripletex sales VAT type"),
        ("25", 999, "mappings[0].vat_types.25: 999 is not a Tripletex sales VAT type"),
        ("20", 3, "mappings[0].vat_types.20 (key): unknown VAT rate '20'"),
    ],
)
def test_vat_types_are_checked(example: dict[str, Any], rate: str, number: int, expected: str) -> None:
    data = changed(example)
    data["mappings"][0]["vat_types"][rate] = number
    assert f"fjord-kayak.yaml: {expected}" in refused(data)


def test_every_problem_is_listed(example: dict[str, Any]) -> None:
    message = refused(changed(example, currency="EUR", colour="blue", vat_tolerance_nok="-1"))
    assert len(message.splitlines()) == 3


def test_duplicate_keys_are_refused(example_tenant_file: Path, tmp_path: Path) -> None:
    text = example_tenant_file.read_text(encoding="utf-8")
    path = tmp_path / "fjord-kayak.yaml"
    path.write_text(text.replace("      sales.15: 3001\n", "      sales.15: 3001\n      sales.25: 3005\n"))
    with pytest.raises(TenantConfigError) as info:
        load_tenant_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid YAML") and "duplicate key 'sales.25'" in message
    assert f"line {text.splitlines().index('      sales.15: 3001') + 2}" in message
    path.write_text(text + "currency: NOK\n")
    with pytest.raises(TenantConfigError, match="duplicate key 'currency'"):
        load_tenant_file(path)


def test_merge_keys_may_override(example_tenant_file: Path, tmp_path: Path) -> None:
    text = example_tenant_file.read_text(encoding="utf-8")
    text = text.replace("    accounts:\n", "    accounts: &first\n")
    text += (
        "  - valid_from: 2026-06-01\n"
        "    accounts:\n      <<: *first\n      sales.25: 3005\n"
        '    vat_types: {"25": 3, "15": 31, "12": 33, "0": 5, "exempt": 6}\n'
    )
    path = tmp_path / "t.yaml"
    path.write_text(text)
    cfg = load_tenant_file(path)
    assert [m.accounts["sales.25"] for m in cfg.mappings] == [3000, 3005]
    assert cfg.mappings[1].accounts["provider_fees"] == 7770


def test_an_over_long_account_type_is_named_shortly(example: dict[str, Any]) -> None:
    data = changed(example)
    data["mappings"][0]["accounts"]["product." + "p" * 200] = 3000
    assert refused(data).endswith("... (key): is longer than 200 characters (the staging column's limit)")


def test_org_number_check_digit() -> None:
    assert is_organization_number("923609016")
    assert not is_organization_number("923609017")
    assert not is_organization_number("92360901６")
    assert not is_organization_number("9236090160")


def test_values_at_the_column_limits_import_exactly(staging_engine, example: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    tenant = "t" * TENANT_ID_LENGTH
    name = "Æ" * NAME_LENGTH
    conn_id = "c" * CONN_ID_LENGTH
    product = "product." + "p" * (200 - len("product."))
    data = changed(
        example,
        tenant=tenant,
        name=name,
        tripletex_conn_id=conn_id,
        voucher_type="V" * VOUCHER_TYPE_LENGTH,
        tripletex_company_id=2**63 - 1,
    )
    data["mappings"][0]["accounts"][product] = 9999
    cfg = parse_tenant(data, "limits.yaml")
    with staging_engine.begin() as conn:
        import_tenant(conn, cfg)
    with staging_engine.connect() as conn:
        stored = load_tenant(conn, tenant)
        rows = conn.execute(select(mapping_accounts.c.account_type, mapping_accounts.c.account_number))
        accounts = dict(rows.all())
        organization = conn.execute(select(tenants.c.organization_number)).scalar_one()
    assert (stored.name, stored.tripletex_conn_id, stored.tripletex_company_id) == (name, conn_id, 2**63 - 1)
    assert accounts[product] == 9999 and organization == "999010016"


@pytest.mark.parametrize("control", ["\u202e", "\u2066", "\u200f", "\u061c"])
def test_bidi_controls_are_refused_naming_the_field(example: dict[str, Any], control: str) -> None:
    code = f"U+{ord(control):04X}"
    name = refused(changed(example, name=f"Fjord {control}Kayak AS"))
    assert name.startswith("fjord-kayak.yaml: name:") and "bidirectional" in name and code in name
    voucher_type = refused(changed(example, voucher_type=f"Dagsoppgjør{control}"))
    assert "voucher_type" in voucher_type and code in voucher_type
    mapping = copy.deepcopy(example)
    mapping["mappings"][0]["accounts"][f"product.kayak{control}"] = 3000
    assert code in refused(mapping) and "product.kayak" in refused(mapping)


def test_approval_defaults_and_limits(example: dict[str, Any]) -> None:
    gated = {k: v for k, v in example.items() if not k.startswith("approval_")}
    cfg = parse_tenant(gated, "fjord-kayak.yaml")
    assert (cfg.approval_days, cfg.approval_new_mapping, cfg.approval_alert_hours) == (3, True, 24)
    assert refused(changed(example, approval_days=-1)).endswith(
        "approval_days: Input should be greater than or equal to 0"
    )
    assert refused(changed(example, approval_days="3")).endswith("approval_days: must be a whole number")
    assert refused(changed(example, approval_alert_hours=0)).startswith(
        "fjord-kayak.yaml: approval_alert_hours"
    )
    assert refused(changed(example, approval_new_mapping="no")).endswith("must be true or false")


def test_approval_settings_are_stored(staging_engine, example: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    cfg = parse_tenant(changed(example, approval_days=5, approval_alert_hours=6), "t.yaml")
    with staging_engine.begin() as conn:
        import_tenant(conn, cfg)
        stored = load_tenant(conn, cfg.tenant)
    assert (stored.approval_days, stored.approval_new_mapping, stored.approval_alert_hours) == (5, False, 6)
