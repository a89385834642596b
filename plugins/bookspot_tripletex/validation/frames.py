"""The pandas frames the suites validate, built from a day journal and (for the feed totals) staging."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from bookspot_tripletex.domain import GIFT_CARD, NO_VAT_TYPE, PAYMENT_METHOD_LABELS, VAT_RATES
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.money import net_of_gross, vat_in_gross
from bookspot_tripletex.sqlfiles import sql

RATE_ORDER = (*VAT_RATES, GIFT_CARD)
METHOD_ORDER = tuple(PAYMENT_METHOD_LABELS)
VAT_MEASURES = ("gross", "vat")
METHOD_MEASURES = ("amount", "provider_fee")

# Columns that name a row of each frame in a failed check.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "journal_lines": ("transaction_id", "line_no", "entry", "account_type"),
    "voucher": ("row", "account", "vat_type"),
    "day_totals": ("dimension", "key", "measure", "feed_ore", "journal_ore"),
    "vat_derivation": ("vat_rate", "bookspot_vat_ore", "tripletex_vat_ore"),
    "postings_vs_lines": ("account", "voucher_ore", "lines_ore"),
}


def _is_ore(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _money(values: list[Any]) -> pd.Series:
    """Integer øre as int64; anything else keeps its own dtype so the int64 type check catches it."""
    if all(_is_ore(v) for v in values):
        return pd.Series(values, dtype="int64")
    return pd.Series(values, dtype="object")


def _nullable_int(values: list[Any]) -> pd.Series:
    return pd.Series([v if _is_ore(v) else None for v in values], dtype="Int64")


def _text(values: list[Any]) -> pd.Series:
    return pd.Series([None if v is None else str(v) for v in values], dtype="str")


def _ordered(keys: Iterable[str | None], order: tuple[str, ...]) -> list[str | None]:
    rank = {k: i for i, k in enumerate(order)}
    return sorted(set(keys), key=lambda k: (k is None, rank.get(k or "", len(rank)), k or ""))


def _vat_rate_key(vat_rate: str | None) -> str:
    return GIFT_CARD if vat_rate is None else vat_rate


def expected_line_vat(vat_rate: str | None, amount_ore: Any) -> int | None:
    """The VAT a line's gross implies at its rate; lines without a rate carry none."""
    if vat_rate is None:
        return 0
    if vat_rate not in VAT_RATES or not _is_ore(amount_ore):
        return None
    return vat_in_gross(amount_ore, VAT_RATES[vat_rate])


def journal_lines_frame(journal: DayJournal) -> pd.DataFrame:
    lines = journal.lines
    expected = [expected_line_vat(line.vat_rate, line.amount_ore) for line in lines]
    diffs = [
        line.vat_ore - exp if exp is not None and _is_ore(line.vat_ore) else None
        for line, exp in zip(lines, expected, strict=True)
    ]
    return pd.DataFrame(
        {
            "transaction_id": _text([line.transaction_id for line in lines]),
            "line_no": pd.Series([line.line_no for line in lines], dtype="int64"),
            "entry": _text([line.entry for line in lines]),
            "account_type": _text([line.account_type for line in lines]),
            "vat_rate": _text([line.vat_rate for line in lines]),
            "payment_method": _text([line.payment_method for line in lines]),
            "account_number": _nullable_int([line.account_number for line in lines]),
            "amount_ore": _money([line.amount_ore for line in lines]),
            "vat_ore": _money([line.vat_ore for line in lines]),
            "expected_vat_ore": _nullable_int(expected),
            "vat_diff_ore": _nullable_int(diffs),
        }
    )


def voucher_frame(journal: DayJournal) -> pd.DataFrame:
    postings = journal.voucher.postings if journal.voucher is not None else ()
    return pd.DataFrame(
        {
            "row": _nullable_int([p.row for p in postings]),
            "account": _nullable_int([p.account for p in postings]),
            "vat_type": _nullable_int([p.vat_type for p in postings]),
            "vat_rate": _text([p.vat_rate for p in postings]),
            "amount_ore": _money([p.amount_ore for p in postings]),
            "description": _text([p.description for p in postings]),
        }
    )


def feed_totals(conn: Connection, tenant_id: str, day: dt.date) -> dict[tuple[str, str, str], int]:
    """(dimension, key, measure) -> øre, from sql/validate_feed_totals.sql."""
    rows = conn.execute(sql("validate_feed_totals"), {"tenant_id": tenant_id, "local_date": day}).mappings()
    return {(r["dimension"], r["key"], r["measure"]): int(r["amount_ore"] or 0) for r in rows}


def journal_totals(journal: DayJournal) -> dict[tuple[str, str, str], int]:
    """The same totals as validate_feed_totals.sql, from the journal lines."""
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for line in journal.lines:
        if line.entry == "sale":
            key = _vat_rate_key(line.vat_rate)
            totals[("vat_rate", key, "gross")] += line.amount_ore
            totals[("vat_rate", key, "vat")] += line.vat_ore
        elif line.entry == "settlement":
            totals[("payment_method", line.payment_method, "amount")] += line.amount_ore
        elif line.entry == "fee":
            totals[("payment_method", line.payment_method, "provider_fee")] += line.amount_ore
    return dict(totals)


def day_totals_frame(
    feed: dict[tuple[str, str, str], int], journal: dict[tuple[str, str, str], int]
) -> pd.DataFrame:
    """Feed against journal per (dimension, key, measure); diff_ore = journal - feed."""
    keys = set(feed) | set(journal)
    rows: list[tuple[str, str, str]] = []
    for dimension, order, measures in (
        ("vat_rate", RATE_ORDER, VAT_MEASURES),
        ("payment_method", METHOD_ORDER, METHOD_MEASURES),
    ):
        for key in _ordered((k for d, k, _ in keys if d == dimension), order):
            rows.extend((dimension, str(key), m) for m in measures)
    feed_ore = [feed.get(r, 0) for r in rows]
    journal_ore = [journal.get(r, 0) for r in rows]
    diffs = [j - f for f, j in zip(feed_ore, journal_ore, strict=True)]
    return pd.DataFrame(
        {
            "dimension": _text([r[0] for r in rows]),
            "key": _text([r[1] for r in rows]),
            "measure": _text([r[2] for r in rows]),
            "feed_ore": _money(feed_ore),
            "journal_ore": _money(journal_ore),
            "diff_ore": _money(diffs),
            "by_vat_rate_diff_ore": _nullable_int(
                [d if r[0] == "vat_rate" else None for r, d in zip(rows, diffs, strict=True)]
            ),
            "by_payment_method_diff_ore": _nullable_int(
                [d if r[0] == "payment_method" else None for r, d in zip(rows, diffs, strict=True)]
            ),
        }
    )


def vat_derivation_frame(journal: DayJournal) -> pd.DataFrame:
    """Per VAT rate: the VAT Tripletex derives from each posting's gross vs BookSpot's per-line VAT."""
    postings = journal.voucher.postings if journal.voucher is not None else ()
    count: dict[str | None, int] = defaultdict(int)
    gross: dict[str | None, int] = defaultdict(int)
    tripletex: dict[str | None, int] = defaultdict(int)
    bookspot: dict[str | None, int] = defaultdict(int)
    for p in postings:
        if p.vat_rate is None and p.vat_type == NO_VAT_TYPE:
            continue
        rate = p.vat_rate if p.vat_rate in VAT_RATES else None
        count[rate] += 1
        gross[rate] += p.amount_ore
        if rate is not None:
            tripletex[rate] += p.amount_ore - net_of_gross(p.amount_ore, VAT_RATES[rate])
    for line in journal.lines:
        if line.vat_rate is not None:
            bookspot[line.vat_rate if line.vat_rate in VAT_RATES else None] += line.vat_ore
    rates = _ordered(set(count) | set(bookspot), RATE_ORDER)
    diffs = [bookspot.get(r, 0) - tripletex.get(r, 0) for r in rates]
    return pd.DataFrame(
        {
            "vat_rate": _text(rates),
            "postings": pd.Series([count.get(r, 0) for r in rates], dtype="int64"),
            "gross_ore": _money([gross.get(r, 0) for r in rates]),
            "bookspot_vat_ore": _money([bookspot.get(r, 0) for r in rates]),
            "tripletex_vat_ore": _money([tripletex.get(r, 0) for r in rates]),
            "diff_ore": _money(diffs),
            "abs_diff_ore": _money([abs(d) for d in diffs]),
        }
    )


def postings_vs_lines_frame(journal: DayJournal) -> pd.DataFrame:
    """Per account: the voucher's postings against the journal lines they were summed from."""
    voucher: dict[int | None, int] = defaultdict(int)
    lines: dict[int | None, int] = defaultdict(int)
    for p in journal.voucher.postings if journal.voucher is not None else ():
        voucher[p.account] += p.amount_ore
    for line in journal.lines:
        lines[line.account_number] += line.amount_ore
    accounts = sorted(set(voucher) | set(lines), key=lambda a: (a is None, a or 0))
    return pd.DataFrame(
        {
            "account": _nullable_int(accounts),
            "voucher_ore": _money([voucher.get(a, 0) for a in accounts]),
            "lines_ore": _money([lines.get(a, 0) for a in accounts]),
            "diff_ore": _money([voucher.get(a, 0) - lines.get(a, 0) for a in accounts]),
        }
    )


def build_frames(conn: Connection, journal: DayJournal) -> dict[str, pd.DataFrame]:
    """Every frame a suite validates, by suite name."""
    return {
        "journal_lines": journal_lines_frame(journal),
        "voucher": voucher_frame(journal),
        "day_totals": day_totals_frame(
            feed_totals(conn, journal.tenant, journal.date), journal_totals(journal)
        ),
        "vat_derivation": vat_derivation_frame(journal),
        "postings_vs_lines": postings_vs_lines_frame(journal),
    }


def _side_by_side(day_totals: pd.DataFrame, dimension: str, whole: str, part: str) -> list[dict[str, Any]]:
    """Per key of one dimension: journal and feed figures of two measures and their net (whole - part)."""
    by_key: dict[str, dict[str, dict[str, Any]]] = {}
    for row in records(day_totals):
        if row["dimension"] == dimension:
            by_key.setdefault(row["key"], {})[row["measure"]] = row
    out = []
    for key, sel in by_key.items():
        first, second = sel[whole], sel[part]
        out.append(
            {
                dimension: key,
                f"{whole}_ore": first["journal_ore"],
                f"{part}_ore": second["journal_ore"],
                "net_ore": first["journal_ore"] - second["journal_ore"],
                f"feed_{whole}_ore": first["feed_ore"],
                f"feed_{part}_ore": second["feed_ore"],
                f"diff_{whole}_ore": first["diff_ore"],
                f"diff_{part}_ore": second["diff_ore"],
            }
        )
    return out


def totals_by_vat_rate(day_totals: pd.DataFrame) -> list[dict[str, Any]]:
    """Sales per VAT rate, journal and feed side by side (øre, debit positive: sales are negative)."""
    return _side_by_side(day_totals, "vat_rate", "gross", "vat")


def totals_by_payment_method(day_totals: pd.DataFrame) -> list[dict[str, Any]]:
    """Money received per payment method and the provider fees kept, journal and feed side by side."""
    return _side_by_side(day_totals, "payment_method", "amount", "provider_fee")


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready dicts (numpy scalars and NA turned into plain Python values)."""
    return [{str(k): plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def plain(value: Any) -> Any:
    """numpy/pandas values (and containers of them) as plain JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
