"""What the staging columns hold: a record that does not fit is quarantined with its reason."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bookspot_tripletex.domain import MAX_ORE
from bookspot_tripletex.feed.model import Transaction, Violation
from bookspot_tripletex.staging.schema import quarantine, transaction_lines, transactions

MAX_QUANTITY = 2**31 - 1


def _length(column: Any) -> int:
    return int(column.type.length)


ID_LENGTH = _length(transactions.c.transaction_id)
RECORD_ID_LENGTH = _length(quarantine.c.record_id)
TEXT_FIELDS = {
    "booking_id": _length(transactions.c.booking_id),
    "gift_card_code": _length(transactions.c.gift_card_code),
}
LINE_TEXT_FIELDS = {
    "product_id": _length(transaction_lines.c.product_id),
    "product_name": _length(transaction_lines.c.product_name),
}


def text_problem(value: str, limit: int) -> str | None:
    """Why a string cannot go into a column of `limit` characters on SQLite and PostgreSQL, or None."""
    if len(value) > limit:
        return f"is longer than {limit} characters ({len(value)})"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def storable_id(value: str | None, limit: int = RECORD_ID_LENGTH) -> str | None:
    """The id itself when a column can hold it, else None (the raw record still carries it)."""
    return value if value is not None and text_problem(value, limit) is None else None


def safe_text(text: str) -> str:
    """Text any staging column holds: NUL and lone surrogates are written as backslash escapes."""
    text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def raw_json(value: Any) -> str:
    """The record as JSON text, readable as UTF-8 (escaped to ASCII when it holds lone surrogates)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text


def _instant_problem(value: dt.datetime, tz: dt.tzinfo) -> str | None:
    try:
        value.astimezone(dt.UTC)
        value.astimezone(tz)
    except (OverflowError, ValueError):
        return f"{value.isoformat()} is out of range"
    return None


def storage_violations(tx: Transaction, tz: dt.tzinfo) -> list[Violation]:
    """The ways a contract-valid record would not fit the staging tables."""
    found: list[Violation] = []

    def text(name: str, value: str | None, limit: int) -> None:
        problem = None if value is None else text_problem(value, limit)
        if problem is not None:
            rule = "too_long" if problem.startswith("is longer") else "bad_text"
            found.append(Violation(name, rule, problem))

    def amount(name: str, value: int, limit: int = MAX_ORE) -> None:
        if value > limit:
            found.append(Violation(name, "out_of_range", f"must be <= {limit}, got {value}"))

    text("id", tx.id, ID_LENGTH)
    for name, limit in TEXT_FIELDS.items():
        text(name, getattr(tx, name), limit)
    amount("amount_minor", tx.amount_ore)
    amount("provider_fee_minor", tx.provider_fee_ore)
    for index, line in enumerate(tx.lines):
        where = f"lines[{index}]."
        for name, limit in LINE_TEXT_FIELDS.items():
            text(where + name, getattr(line, name), limit)
        amount(where + "quantity", line.quantity, MAX_QUANTITY)
        amount(where + "gross_minor", line.gross_ore)
        amount(where + "vat_minor", line.vat_ore)
    for name in ("occurred_at", "updated_at"):
        problem = _instant_problem(getattr(tx, name), tz)
        if problem is not None:
            found.append(Violation(name, "bad_timestamp", problem))
    return found
