"""The facts of the domain, each defined once: VAT rates, payment methods, categories, voucher states."""

from __future__ import annotations

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


LOCKED_STATUSES = frozenset({VoucherStatus.POSTING, VoucherStatus.POSTED, VoucherStatus.REVERSED})
"""A voucher in these states is never rebuilt: its journal is what was (or is being) posted."""
