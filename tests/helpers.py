"""Builders for test data: feed records, tenant configs, staged days."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.staging.stage import StageResult, stage_records
from bookspot_tripletex.tenants.config import TenantConfig, load_tenant_file
from bookspot_tripletex.tenants.store import import_tenant

DATA = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    """A file of the contracts' examples kept with the tests (example feed, tenant file, worked example)."""
    return DATA / name


def worked_example_table() -> dict[tuple[int, int], Decimal]:
    """The expected voucher of the worked example: (account, VAT type) -> NOK."""
    example = json.loads(data_path("worked_example.json").read_text(encoding="utf-8"))
    return {(p["account"], p["vat_type"]): Decimal(p["amount"]) for p in example["postings"]}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def record(
    tx_id: str,
    occurred_at: str,
    lines: list[tuple[str, int, str]] | None = None,
    method: str = "card_terminal",
    fee: int = 0,
    kind: str = "payment",
    status: str = "completed",
    updated_at: str | None = None,
    account_id: str = "fjord-kayak",
) -> dict[str, Any]:
    """A valid record; lines as (category, gross, vat_rate)."""
    from bookspot_tripletex.feed.model import VAT_RATES
    from bookspot_tripletex.money import vat_in_gross

    lines = lines or [("activity", 59500, "25")]
    raw_lines = [
        {
            "product_id": f"p_{category}_{i}",
            "product_name": f"{category} {i}",
            "category": category,
            "quantity": 1,
            "gross_minor": gross,
            "vat_rate": rate,
            "vat_minor": vat_in_gross(gross, VAT_RATES[rate]),
            "service_date": None,
        }
        for i, (category, gross, rate) in enumerate(lines)
    ]
    return {
        "id": tx_id,
        "account_id": account_id,
        "kind": kind,
        "status": status,
        "booking_id": None,
        "occurred_at": occurred_at,
        "updated_at": updated_at or occurred_at,
        "currency": "NOK",
        "amount_minor": sum(g for _, g, _ in lines),
        "payment_method": method,
        "provider_fee_minor": fee,
        "gift_card_code": None,
        "lines": copy.deepcopy(raw_lines),
    }


def setup_tenant(engine: Engine, tenant_file: Path) -> TenantConfig:
    cfg = load_tenant_file(tenant_file)
    with engine.begin() as conn:
        import_tenant(conn, cfg)
    return cfg


def stage(engine: Engine, cfg: TenantConfig, records: list[Any]) -> StageResult:
    with engine.begin() as conn:
        return stage_records(conn, cfg, records)
