"""What the staging columns hold: a record that does not fit is quarantined with its reason.

The limits are one table; `storage_violations` reads it for one record (naming every problem) and
`storable` for a whole batch of columns (which records fit)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from bookspot_tripletex.domain import MAX_ORE
from bookspot_tripletex.feed.model import Columns, Transaction, Violation
from bookspot_tripletex.staging.schema import quarantine, transaction_lines, transactions

MAX_QUANTITY = 2**31 - 1


def _length(column: Any) -> int:
    return int(column.type.length)


ID_LENGTH = _length(transactions.c.transaction_id)
RECORD_ID_LENGTH = _length(quarantine.c.record_id)
TEXT_FIELDS = {
    "id": ID_LENGTH,
    "booking_id": _length(transactions.c.booking_id),
    "gift_card_code": _length(transactions.c.gift_card_code),
}
LINE_TEXT_FIELDS = {
    "product_id": _length(transaction_lines.c.product_id),
    "product_name": _length(transaction_lines.c.product_name),
}
NUMBER_FIELDS = {"amount_minor": MAX_ORE, "provider_fee_minor": MAX_ORE}
LINE_NUMBER_FIELDS = {"quantity": MAX_QUANTITY, "gross_minor": MAX_ORE, "vat_minor": MAX_ORE}
_ATTRIBUTES = {
    "amount_minor": "amount_ore",
    "provider_fee_minor": "provider_fee_ore",
    "gross_minor": "gross_ore",
    "vat_minor": "vat_ore",
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

    def amount(name: str, value: int, limit: int) -> None:
        if value > limit:
            found.append(Violation(name, "out_of_range", f"must be <= {limit}, got {value}"))

    for name, limit in TEXT_FIELDS.items():
        text(name, getattr(tx, name), limit)
    for name, limit in NUMBER_FIELDS.items():
        amount(name, getattr(tx, _ATTRIBUTES[name]), limit)
    for index, line in enumerate(tx.lines):
        where = f"lines[{index}]."
        for name, limit in LINE_TEXT_FIELDS.items():
            text(where + name, getattr(line, name), limit)
        for name, limit in LINE_NUMBER_FIELDS.items():
            amount(where + name, getattr(line, _ATTRIBUTES.get(name, name)), limit)
    for name in ("occurred_at", "updated_at"):
        problem = _instant_problem(getattr(tx, name), tz)
        if problem is not None:
            found.append(Violation(name, "bad_timestamp", problem))
    return found


def _texts_fit(values: Sequence[str | None], limit: int) -> np.ndarray:
    present = [value or "" for value in values]
    ok = np.fromiter(map(len, present), dtype=np.int64, count=len(present)) <= limit
    if "\x00" in "".join(present):
        ok &= np.array(["\x00" not in value for value in present], dtype=bool)
    return ok


def storable(columns: Columns) -> np.ndarray:
    """Per record of a bulk batch: its values fit the staging columns (instants the bulk path reads
    always do; lone surrogates never reach it)."""
    rec, line = columns.record, columns.line
    ok = np.ones(len(columns.ok), dtype=bool)
    for name, limit in TEXT_FIELDS.items():
        ok &= _texts_fit(rec[name], limit)
    for name, limit in NUMBER_FIELDS.items():
        ok &= rec[name] <= limit
    if len(line.gross_minor):
        line_ok = np.ones(len(line.gross_minor), dtype=bool)
        for name, limit in LINE_TEXT_FIELDS.items():
            line_ok &= _texts_fit(line[name], limit)
        for name, limit in LINE_NUMBER_FIELDS.items():
            line_ok &= line[name] <= limit
        ok &= np.logical_and.reduceat(line_ok, columns.starts)
    return ok
