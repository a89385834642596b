"""Parse BookSpot transaction records and check the feed contract's invariants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bookspot_tripletex.domain import (  # noqa: F401  (re-exported: the feed's vocabulary)
    CATEGORIES,
    KINDS,
    ONLINE_METHODS,
    PAYMENT_METHODS,
    VAT_RATES,
)
from bookspot_tripletex.domain import TRANSACTION_STATUSES as STATUSES
from bookspot_tripletex.money import vat_in_gross


@dataclass(frozen=True)
class Violation:
    """One broken rule: the field it concerns, a stable rule code and a sentence."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidRecord(ValueError):
    """A record that breaks the feed contract; carries every violation found."""

    def __init__(self, record_id: str | None, violations: list[Violation]) -> None:
        self.record_id = record_id
        self.violations = violations
        label = record_id if record_id is not None else "<record without id>"
        super().__init__(f"record {label}: " + "; ".join(str(v) for v in violations))

    @property
    def reason(self) -> str:
        return "; ".join(str(v) for v in self.violations)

    @property
    def rules(self) -> list[str]:
        return [v.rule for v in self.violations]


@dataclass(frozen=True)
class Line:
    product_id: str
    product_name: str
    category: str
    quantity: int
    gross_ore: int
    vat_rate: str
    vat_ore: int
    service_date: dt.date | None


@dataclass(frozen=True)
class Transaction:
    id: str
    account_id: str
    kind: str
    status: str
    booking_id: str | None
    occurred_at: dt.datetime
    updated_at: dt.datetime
    currency: str
    amount_ore: int
    payment_method: str
    provider_fee_ore: int
    gift_card_code: str | None
    lines: tuple[Line, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def sign(self) -> int:
        return -1 if self.kind == "refund" else 1

    def local_date(self, tz: dt.tzinfo) -> dt.date:
        return self.occurred_at.astimezone(tz).date()


class _Checker:
    """Collects violations while reading one raw record."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.violations: list[Violation] = []

    def fail(self, field_name: str, rule: str, message: str) -> None:
        self.violations.append(Violation(field_name, rule, message))

    def string(self, obj: dict[str, Any], key: str, where: str, nullable: bool = False) -> str | None:
        if key not in obj:
            self.fail(where + key, "missing_field", "is missing")
            return None
        value = obj[key]
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (not nullable and value == ""):
            self.fail(where + key, "wrong_type", f"must be a non-empty string, got {value!r}")
            return None
        return value

    def choice(self, obj: dict[str, Any], key: str, where: str, allowed: frozenset[str]) -> str | None:
        value = self.string(obj, key, where)
        if value is not None and value not in allowed:
            self.fail(where + key, "unknown_value", f"{value!r} is not one of {', '.join(sorted(allowed))}")
            return None
        return value

    def integer(self, obj: dict[str, Any], key: str, where: str, minimum: int) -> int | None:
        if key not in obj:
            self.fail(where + key, "missing_field", "is missing")
            return None
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where + key, "wrong_type", f"must be an integer, got {value!r}")
            return None
        if value < minimum:
            self.fail(where + key, "out_of_range", f"must be >= {minimum}, got {value}")
            return None
        return value

    def instant(self, obj: dict[str, Any], key: str) -> dt.datetime | None:
        value = self.string(obj, key, "")
        if value is None:
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(key, "bad_timestamp", f"{value!r} is not an ISO 8601 timestamp")
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.fail(key, "bad_timestamp", f"{value!r} has no UTC offset")
            return None
        return parsed

    def day(self, obj: dict[str, Any], key: str, where: str) -> dt.date | None:
        if key not in obj:
            self.fail(where + key, "missing_field", "is missing")
            return None
        value = obj[key]
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else _raise()
        except (ValueError, TypeError):
            self.fail(where + key, "bad_date", f"{value!r} is not an ISO date")
            return None


def _raise() -> dt.date:
    raise TypeError


def _line(check: _Checker, raw_line: Any, index: int) -> Line | None:
    where = f"lines[{index}]."
    if not isinstance(raw_line, dict):
        check.fail(f"lines[{index}]", "wrong_type", "must be an object")
        return None
    before = len(check.violations)
    product_id = check.string(raw_line, "product_id", where)
    product_name = check.string(raw_line, "product_name", where, nullable=True)
    category = check.choice(raw_line, "category", where, CATEGORIES)
    quantity = check.integer(raw_line, "quantity", where, 1)
    gross = check.integer(raw_line, "gross_minor", where, 0)
    vat_rate = check.choice(raw_line, "vat_rate", where, frozenset(VAT_RATES))
    vat = check.integer(raw_line, "vat_minor", where, 0)
    service_date = check.day(raw_line, "service_date", where)
    if len(check.violations) > before:
        return None
    assert product_id is not None and category is not None and quantity is not None
    assert gross is not None and vat_rate is not None and vat is not None
    expected = vat_in_gross(gross, VAT_RATES[vat_rate])
    if abs(vat - expected) > 1:
        check.fail(
            where + "vat_minor",
            "line_vat",
            f"VAT {vat} does not match {expected} (gross {gross} at {vat_rate} %) within 1 øre",
        )
    if category == "gift_card" and vat_rate not in ("0", "exempt"):
        check.fail(
            where + "vat_rate", "gift_card_vat", f"a gift card line must be VAT 0 or exempt, got {vat_rate!r}"
        )
    return Line(product_id, product_name or "", category, quantity, gross, vat_rate, vat, service_date)


# Per rate r: (2r, 100 + r, 200 + 2r), so round_half_up(g * r / (100 + r)) = (g * 2r + 100 + r) // (200 + 2r).
_VAT_TERMS = {rate: (2 * r, 100 + r, 200 + 2 * r) for rate, r in VAT_RATES.items()}
_NO_VAT_RATES = ("0", "exempt")

Fields = tuple[Any, ...]
# The keys `fast_fields` reads: a record with no other key is made of strings, integers, null and lines.
RECORD_KEYS = frozenset(
    {"id", "account_id", "kind", "status", "booking_id", "occurred_at", "updated_at", "currency",
     "amount_minor", "payment_method", "provider_fee_minor", "gift_card_code", "lines"}
)  # fmt: skip
LINE_KEYS = frozenset(
    {
        "product_id",
        "product_name",
        "category",
        "quantity",
        "gross_minor",
        "vat_rate",
        "vat_minor",
        "service_date",
    }
)


def fast_fields(raw: Any, currency: str = "NOK") -> Fields | None:
    """The record's fields when it plainly keeps every rule, else None ("let the full checker decide").

    The tuple is Transaction's fields in order with `lines` as tuples of Line's fields. It accepts only
    what `parse_record`'s checker accepts, so falling back to the checker never changes an outcome.
    """
    try:
        return _fast_fields(raw, currency)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return None


def _fast_fields(raw: Any, currency: str) -> Fields | None:
    if type(raw) is not dict:
        return None
    tx_id, account_id, kind, status = raw["id"], raw["account_id"], raw["kind"], raw["status"]
    booking_id, gift_card_code = raw["booking_id"], raw["gift_card_code"]
    amount, fee, method = raw["amount_minor"], raw["provider_fee_minor"], raw["payment_method"]
    occurred, updated, raw_lines = raw["occurred_at"], raw["updated_at"], raw["lines"]
    record_currency = raw["currency"]
    if not (
        type(tx_id) is str
        and tx_id
        and type(account_id) is str
        and account_id
        and kind in KINDS
        and status in STATUSES
        and (booking_id is None or type(booking_id) is str)
        and (gift_card_code is None or type(gift_card_code) is str)
        and type(amount) is int
        and amount >= 1
        and type(fee) is int
        and 0 <= fee <= amount
        and method in PAYMENT_METHODS
        and (fee == 0 or method in ONLINE_METHODS)
        and type(record_currency) is str
        and record_currency
        and record_currency == currency
        and type(occurred) is str
        and type(updated) is str
        and type(raw_lines) is list
        and raw_lines
    ):
        return None
    occurred_at = dt.datetime.fromisoformat(occurred)
    updated_at = occurred_at if updated == occurred else dt.datetime.fromisoformat(updated)
    if occurred_at.utcoffset() is None or updated_at.utcoffset() is None:
        return None
    lines = []
    total = 0
    for line in raw_lines:
        if type(line) is not dict:
            return None
        product_id, name, category = line["product_id"], line["product_name"], line["category"]
        quantity, gross, rate = line["quantity"], line["gross_minor"], line["vat_rate"]
        vat, service = line["vat_minor"], line["service_date"]
        if not (
            type(product_id) is str
            and product_id
            and (name is None or type(name) is str)
            and category in CATEGORIES
            and type(quantity) is int
            and quantity >= 1
            and type(gross) is int
            and gross >= 0
            and rate in _VAT_TERMS
            and type(vat) is int
            and vat >= 0
        ):
            return None
        double_r, half, denominator = _VAT_TERMS[rate]
        if abs(vat - (gross * double_r + half) // denominator) > 1:
            return None
        if category == "gift_card" and rate not in _NO_VAT_RATES:
            return None
        if service is not None:
            if type(service) is not str:
                return None
            service = dt.date.fromisoformat(service)
        total += gross
        lines.append((product_id, name or "", category, quantity, gross, rate, vat, service))
    if total != amount:
        return None
    return (
        tx_id, account_id, kind, status, booking_id, occurred_at, updated_at, record_currency, amount, method,
        fee, gift_card_code, tuple(lines),
    )  # fmt: skip


def parse_record(raw: Any, currency: str = "NOK") -> Transaction:
    """Read one raw feed record into a Transaction or raise InvalidRecord with every violation."""
    fields = fast_fields(raw, currency)
    if fields is not None:
        *head, lines = fields
        return Transaction(*head, lines=tuple(Line(*line) for line in lines), raw=raw)
    return check_every_rule(raw, currency)


def check_every_rule(raw: Any, currency: str = "NOK") -> Transaction:
    """`parse_record` without the fast path: checks every rule and names each violation."""
    if not isinstance(raw, dict):
        raise InvalidRecord(
            None, [Violation("record", "not_an_object", f"must be a JSON object, got {type(raw).__name__}")]
        )
    check = _Checker(raw)
    record_id = check.string(raw, "id", "")
    account_id = check.string(raw, "account_id", "")
    kind = check.choice(raw, "kind", "", KINDS)
    status = check.choice(raw, "status", "", STATUSES)
    booking_id = check.string(raw, "booking_id", "", nullable=True)
    occurred_at = check.instant(raw, "occurred_at")
    updated_at = check.instant(raw, "updated_at")
    record_currency = check.string(raw, "currency", "")
    amount = check.integer(raw, "amount_minor", "", 1)
    method = check.choice(raw, "payment_method", "", PAYMENT_METHODS)
    fee = check.integer(raw, "provider_fee_minor", "", 0)
    gift_card_code = check.string(raw, "gift_card_code", "", nullable=True)
    raw_lines = raw.get("lines")
    lines: list[Line] = []
    if "lines" not in raw:
        check.fail("lines", "missing_field", "is missing")
    elif not isinstance(raw_lines, list) or not raw_lines:
        check.fail("lines", "no_lines", "must be a non-empty array")
    else:
        for index, raw_line in enumerate(raw_lines):
            line = _line(check, raw_line, index)
            if line is not None:
                lines.append(line)
        if amount is not None and len(lines) == len(raw_lines):
            total = sum(line.gross_ore for line in lines)
            if total != amount:
                check.fail(
                    "amount_minor", "amount_mismatch", f"lines sum to {total} but amount_minor is {amount}"
                )
    if fee is not None and amount is not None and fee > amount:
        check.fail("provider_fee_minor", "provider_fee", f"fee {fee} exceeds amount_minor {amount}")
    if fee and method is not None and method not in ONLINE_METHODS:
        check.fail(
            "provider_fee_minor", "provider_fee", f"must be 0 for offline method {method!r}, got {fee}"
        )
    if record_currency is not None and record_currency != currency:
        check.fail(
            "currency", "currency", f"{record_currency!r} differs from the account currency {currency!r}"
        )
    if check.violations:
        raise InvalidRecord(record_id, check.violations)
    assert record_id and account_id and kind and status and occurred_at and updated_at and record_currency
    assert amount is not None and method is not None and fee is not None
    return Transaction(
        id=record_id,
        account_id=account_id,
        kind=kind,
        status=status,
        booking_id=booking_id,
        occurred_at=occurred_at,
        updated_at=updated_at,
        currency=record_currency,
        amount_ore=amount,
        payment_method=method,
        provider_fee_ore=fee,
        gift_card_code=gift_card_code,
        lines=tuple(lines),
        raw=raw,
    )
