"""The facts of the domain, each defined once: VAT rates, payment methods, categories, voucher states,
limits, account types, organisation numbers and the voucher's description and external number."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from enum import StrEnum

VAT_RATES: dict[str, int] = {"25": 25, "15": 15, "12": 12, "0": 0, "exempt": 0}
"""BookSpot's VAT rate codes and their percentage."""

NO_VAT_TYPE = 0
"""Tripletex VAT type number 0: no VAT treatment (settlement, gift card liability, fees)."""

KINDS = frozenset({"payment", "refund"})
TRANSACTION_STATUSES = frozenset({"completed", "voided"})
CATEGORIES = frozenset({"activity", "extra", "rental", "rebooking_guarantee", "gift_card", "fee"})
GIFT_CARD = "gift_card"

PAYMENT_METHOD_LABELS: dict[str, str] = {
    "stripe": "Stripe",
    "dintero": "Dintero",
    "vipps": "Vipps",
    "card_terminal": "card terminal",
    "cash": "cash",
    "invoice": "invoice",
    "bank_transfer": "bank transfer",
    "gift_card": "gift card",
}
"""Every payment method BookSpot sends, in report order, with the words a person reads."""

PAYMENT_METHODS = frozenset(PAYMENT_METHOD_LABELS)
ONLINE_METHODS = frozenset({"stripe", "dintero", "vipps"})
"""Methods whose provider takes a fee; offline methods carry none."""


class VoucherStatus(StrEnum):
    """Where a tenant-day's voucher stands in staging (see docs/architecture.md)."""

    DRAFT = "draft"
    BUILT = "built"
    READY = "ready"
    HELD = "held"
    EMPTY = "empty"
    FAILED = "failed"
    POSTING = "posting"
    POSTED = "posted"
    REVERSED = "reversed"
    """Posted, then reversed by a forced re-post; the day's next version carries it."""
    AWAITING_APPROVAL = "awaiting_approval"
    """Validated and ready, but a person approves it first (a new tenant's first days, a new mapping)."""


LOCKED_STATUSES = frozenset({VoucherStatus.POSTING, VoucherStatus.POSTED, VoucherStatus.REVERSED})
"""A voucher in these states is never rebuilt: its journal is what was (or is being) posted."""

STATUS_LENGTH = 32
"""Room for a voucher, report or outcome status in staging (`awaiting_approval` is the longest)."""

APPROVAL_DAYS = 3
"""A new tenant's first posting days that wait for a person's approval, unless its file says otherwise."""
APPROVAL_ALERT_HOURS = 24
"""A day waiting for approval longer than this (the tenant file's `approval_alert_hours`) alerts again."""

CURRENCY = "NOK"
"""The only currency posted: amounts are integer øre everywhere inside the pipeline."""

ACCOUNT_TYPE = re.compile(
    r"^(sales\.(25|15|12|0|exempt)|settlement\.(stripe|dintero|vipps|card_terminal|cash|invoice|bank_transfer)"
    r"|gift_card_liability|provider_fees|customer_prepayments|product\.[^\s]+|category\.[a-z_]+)$"
)
"""The account types a mapping version may name (a product id or category after the dot for overrides)."""

ACCOUNT_NUMBERS = (1000, 9999)
"""The Norwegian standard chart's four-digit account numbers (NS 4102), inclusive."""

SALES_VAT_TYPES = frozenset({0, 3, 5, 6, 7, 31, 32, 33, 51, 52})
"""Tripletex VAT type numbers a sale can carry: outgoing VAT, zero-rated, outside the VAT act, none."""

MAX_ORE = 10**15
"""The largest amount in øre a staging column takes (BIGINT with room to sum a day)."""

TENANT_ID_LENGTH = 100
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
NAME_LENGTH = 200
TIMEZONE_LENGTH = 64
CONN_ID_LENGTH = 250
VOUCHER_TYPE_LENGTH = 100
ACCOUNT_TYPE_LENGTH = 200
"""Text limits of the staging columns; a tenant file whose values exceed them is refused at load."""

ORGANIZATION_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
"""Brønnøysund's mod-11 weights for the first eight digits of a nine-digit organisation number."""


def organization_check_digit(first_eight: str) -> int | None:
    """The check digit that completes eight digits into an organisation number; None when none does."""
    remainder = sum(int(d) * w for d, w in zip(first_eight, ORGANIZATION_NUMBER_WEIGHTS, strict=True)) % 11
    digit = (11 - remainder) % 11
    return None if digit == 10 else digit


def is_organization_number(value: str) -> bool:
    """Nine digits whose last is the mod-11 check digit of the first eight."""
    return (
        len(value) == 9
        and value.isascii()
        and value.isdigit()
        and organization_check_digit(value[:8]) == int(value[8])
    )


def voucher_description(day: dt.date, correction: int | None = None) -> str:
    """The description of a day's voucher in Tripletex (or of its correction number `correction`)."""
    if correction is not None:
        return f"BookSpot correction {correction} of sales {day.isoformat()}"
    return f"BookSpot sales {day.isoformat()}"


MAX_EXTERNAL_NUMBER = 70
"""Tripletex's limit on externalVoucherNumber (and the vouchers.external_number column)."""


def external_number(tenant: str, day: dt.date, version: int) -> str:
    """Deterministic Tripletex externalVoucherNumber for (tenant, day, version), ≤ 70 chars."""
    readable = f"bookspot:{tenant}:{day.isoformat()}:v{version}"
    if len(readable) <= MAX_EXTERNAL_NUMBER:
        return readable
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:12]
    head = f"bookspot:{tenant[:30]}~{digest}"
    return f"{head}:{day.isoformat()}:v{version}"
