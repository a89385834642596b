"""The season of docs/revenue-on-delivery.md's worked example: tenant files, records, their arrival nights."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from helpers import record

D = dt.date
PAYDAY_A, PAYDAY_B, PAYDAY_C, PAYDAY_D = D(2026, 2, 10), D(2026, 3, 15), D(2026, 4, 2), D(2026, 6, 5)
REBOOKED, VOIDED = D(2026, 5, 20), D(2026, 6, 20)
SERVICE_LUNCH, SERVICE_TRIP, SERVICE_EVENING = D(2026, 7, 4), D(2026, 7, 18), D(2026, 6, 12)
MAPPING_CHANGE = D(2026, 6, 1)

BASE_ACCOUNTS = {
    "sales.25": 3000,
    "sales.15": 3001,
    "sales.12": 3002,
    "sales.0": 3100,
    "sales.exempt": 3200,
    "settlement.stripe": 1580,
    "settlement.card_terminal": 1920,
    "gift_card_liability": 2900,
    "provider_fees": 7770,
}
VAT_TYPES = {"25": 3, "15": 31, "12": 33, "0": 5, "exempt": 6}


def tenant_data(
    example: dict[str, Any], tenant: str, company_id: int, org: str, on: bool, deferral: bool = True
) -> dict[str, Any]:
    """Two mapping versions (2026-01-01: 2965/3090, 2026-06-01: 2960/3095), the option `on` in both."""
    data = copy.deepcopy(example)
    data.update(tenant=tenant, tripletex_company_id=company_id, organization_number=org)
    data["tripletex_conn_id"] = f"tripletex_{tenant}"
    data["bookspot_conn_id"] = f"bookspot_{tenant}"
    versions = []
    for valid_from, prepayments, revenue in ((D(2026, 1, 1), 2965, 3090), (MAPPING_CHANGE, 2960, 3095)):
        accounts = {**BASE_ACCOUNTS, "customer_prepayments": prepayments}
        if deferral:
            accounts["revenue_deferral"] = revenue
        versions.append(
            {
                "valid_from": valid_from,
                "accounts": accounts,
                "vat_types": dict(VAT_TYPES),
                "revenue_on_delivery": on,
            }
        )
    data["mappings"] = versions
    return data


def booking(
    tx_id: str,
    occurred_at: str,
    lines: list[tuple[str, str, int, str, dt.date | None]],
    tenant: str,
    method: str = "card_terminal",
    fee: int = 0,
    kind: str = "payment",
    updated_at: str | None = None,
) -> dict[str, Any]:
    """A record whose lines are (product id, category, gross øre, VAT rate, service date)."""
    raw = record(
        tx_id,
        occurred_at,
        [(category, gross, rate) for _, category, gross, rate, _ in lines],
        method=method,
        fee=fee,
        kind=kind,
        updated_at=updated_at,
        account_id=tenant,
    )
    for line, (product, _, _, _, service) in zip(raw["lines"], lines, strict=True):
        line["product_id"] = product
        line["service_date"] = None if service is None else service.isoformat()
    return raw


def season(tenant: str) -> dict[dt.date, list[dict[str, Any]]]:
    """What BookSpot sends, by the night it arrives (the worked example's A, B, C, D and two changes)."""
    trip = ("p_trip", "activity", 100_000, "25", SERVICE_LUNCH)
    lunch = ("p_lunch", "extra", 25_000, "15", SERVICE_LUNCH)
    fee = ("p_fee", "fee", 2_900, "25", None)
    a = booking("tx_A", "2026-02-10T12:00:00+01:00", [trip, lunch, fee], tenant, "stripe", fee=1_845)
    rebooked = copy.deepcopy(a)
    rebooked["lines"][0]["service_date"] = SERVICE_TRIP.isoformat()
    rebooked["updated_at"] = "2026-05-20T09:00:00+02:00"
    b = booking("tx_B", "2026-03-15T10:00:00+01:00", [lunch], tenant, "stripe", kind="refund")
    evening = ("p_evening", "activity", 59_500, "25", SERVICE_EVENING)
    c = booking("tx_C", "2026-04-02T18:00:00+02:00", [evening], tenant)
    voided = copy.deepcopy(c)
    voided.update(status="voided", updated_at="2026-06-20T08:00:00+02:00")
    d = booking("tx_D", "2026-06-05T18:00:00+02:00", [evening], tenant)
    return {
        PAYDAY_A: [a],
        PAYDAY_B: [b],
        PAYDAY_C: [c],
        REBOOKED: [rebooked],
        PAYDAY_D: [d],
        SERVICE_EVENING: [],
        VOIDED: [voided],
        SERVICE_LUNCH: [],
        SERVICE_TRIP: [],
    }
