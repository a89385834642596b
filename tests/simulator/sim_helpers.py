"""An independent reading of the feed contract's invariants, to check the simulator against."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
RATES = {"25": 25, "15": 15, "12": 12, "0": 0, "exempt": 0}
ONLINE = {"stripe", "dintero", "vipps"}
METHODS = ONLINE | {"card_terminal", "cash", "invoice", "bank_transfer", "gift_card"}
CATEGORIES = {"activity", "extra", "rental", "rebooking_guarantee", "gift_card", "fee"}
TOP_FIELDS = {
    "id": str,
    "account_id": str,
    "kind": str,
    "status": str,
    "booking_id": (str, type(None)),
    "occurred_at": str,
    "updated_at": str,
    "currency": str,
    "amount_minor": int,
    "payment_method": str,
    "provider_fee_minor": int,
    "gift_card_code": (str, type(None)),
    "lines": list,
}
LINE_FIELDS = {
    "product_id": str,
    "product_name": str,
    "category": str,
    "quantity": int,
    "gross_minor": int,
    "vat_rate": str,
    "vat_minor": int,
    "service_date": (str, type(None)),
}

# the rule each malformed knob must break, in this checker's words and in feed.model's rule codes
KNOB_RULES = {
    "lines_sum_mismatch": ("amount_mismatch", {"amount_mismatch"}),
    "line_vat_wrong": ("line_vat", {"line_vat"}),
    "gift_card_vat": ("gift_card_vat", {"gift_card_vat"}),
    "fee_exceeds_amount": ("provider_fee", {"provider_fee"}),
    "offline_fee": ("provider_fee", {"provider_fee"}),
    "wrong_currency": ("currency", {"currency"}),
    "missing_field": ("structure", {"missing_field"}),
    "wrong_type": ("structure", {"wrong_type"}),
}


def round_half_up(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def _typed(obj: dict[str, Any], spec: dict[str, Any]) -> bool:
    return all(
        key in obj and isinstance(obj[key], kind) and not isinstance(obj[key], bool)
        for key, kind in spec.items()
    )


def violations(record: Any, currency: str = "NOK") -> set[str]:
    """The broken rules of one record: 'structure' or the invariants the contract lists."""
    if not isinstance(record, dict) or not _typed(record, TOP_FIELDS):
        return {"structure"}
    lines = record["lines"]
    if not lines or not all(isinstance(line, dict) and _typed(line, LINE_FIELDS) for line in lines):
        return {"structure"}
    found: set[str] = set()
    if sum(line["gross_minor"] for line in lines) != record["amount_minor"]:
        found.add("amount_mismatch")
    for line in lines:
        rate = RATES[line["vat_rate"]]
        expected = round_half_up(line["gross_minor"] * rate, 100 + rate)
        if abs(line["vat_minor"] - expected) > 1:
            found.add("line_vat")
        if line["category"] == "gift_card" and line["vat_rate"] not in ("0", "exempt"):
            found.add("gift_card_vat")
    fee = record["provider_fee_minor"]
    if fee > record["amount_minor"] or (fee and record["payment_method"] not in ONLINE):
        found.add("provider_fee")
    if record["currency"] != currency:
        found.add("currency")
    return found


def instant(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None, text
    return parsed


def check_well_formed(record: dict[str, Any]) -> None:
    """The parts of a clean record the invariants do not cover: enums, signs, offsets, dates."""
    assert record["kind"] in ("payment", "refund")
    assert record["status"] in ("completed", "voided")
    assert record["payment_method"] in METHODS
    assert record["amount_minor"] > 0 and record["provider_fee_minor"] >= 0
    occurred = instant(record["occurred_at"])
    assert occurred.utcoffset() == occurred.astimezone(OSLO).utcoffset() or record["occurred_at"].endswith(
        "Z"
    )
    assert instant(record["updated_at"]) >= occurred
    for line in record["lines"]:
        assert line["category"] in CATEGORIES and line["quantity"] >= 1 and line["gross_minor"] >= 0
        assert line["vat_rate"] in RATES
        if line["service_date"] is not None:
            dt.date.fromisoformat(line["service_date"])
