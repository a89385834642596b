"""Properties of staging on SQLite and PostgreSQL: every valid record stages (or waits, before the start
date); a record breaking one invariant is quarantined whole with that invariant's rule code; arbitrary
JSON never crashes staging and never reaches a day's journal."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select

from bookspot_tripletex.feed.model import CATEGORIES, ONLINE_METHODS, PAYMENT_METHODS, VAT_RATES
from bookspot_tripletex.feed.source import JsonlFileSource
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.money import vat_in_gross
from bookspot_tripletex.staging.raw import raw_records
from bookspot_tripletex.staging.schema import quarantine, transaction_lines, transactions
from bookspot_tripletex.staging.stage import stage_records
from bookspot_tripletex.tenants.config import TenantConfig
from helpers import record, setup_tenant

OSLO = ZoneInfo("Europe/Oslo")
DAY = dt.date(2026, 11, 24)
OFFLINE_METHODS = sorted(PAYMENT_METHODS - ONLINE_METHODS)
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
ids = text.filter(bool)
zones = st.sampled_from(
    [dt.UTC, OSLO, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=5, minutes=45))]
)


def instant_text(moment: dt.datetime, zulu: bool) -> str:
    if zulu:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.isoformat()


@st.composite
def lines(draw: st.DrawFn) -> dict[str, Any]:
    category = draw(st.sampled_from(sorted(CATEGORIES)))
    rate = draw(st.sampled_from(["0", "exempt"] if category == "gift_card" else sorted(VAT_RATES)))
    gross = draw(st.integers(0, 5_000_000))
    vat = max(0, vat_in_gross(gross, VAT_RATES[rate]) + draw(st.sampled_from([-1, 0, 0, 1])))
    return {
        "product_id": draw(ids),
        "product_name": draw(st.none() | text),
        "category": category,
        "quantity": draw(st.integers(1, 500)),
        "gross_minor": gross,
        "vat_rate": rate,
        "vat_minor": vat,
        "service_date": draw(st.none() | st.dates(dt.date(2025, 1, 1), dt.date(2028, 1, 1)).map(str)),
    }


@st.composite
def valid_records(draw: st.DrawFn, day: dt.date | None = None) -> dict[str, Any]:
    """A record the feed contract accepts, on `day` (Oslo) or anywhere from Dec 2025 to 2027."""
    items = draw(st.lists(lines(), min_size=1, max_size=4))
    if not any(line["gross_minor"] for line in items):
        items[0]["gross_minor"] = draw(st.integers(1, 100_000))
        items[0]["vat_minor"] = vat_in_gross(items[0]["gross_minor"], VAT_RATES[items[0]["vat_rate"]])
    amount = sum(line["gross_minor"] for line in items)
    method = draw(st.sampled_from(sorted(PAYMENT_METHODS)))
    if day is None:
        occurred = draw(st.datetimes(dt.datetime(2025, 12, 1), dt.datetime(2027, 12, 31), timezones=zones))
    else:
        start = dt.datetime.combine(day, dt.time(), tzinfo=OSLO)
        occurred = start + dt.timedelta(seconds=draw(st.integers(0, 86_399)))
    updated = occurred + draw(st.timedeltas(dt.timedelta(0), dt.timedelta(days=30)))
    return {
        "id": draw(ids),
        "account_id": "fjord-kayak",
        "kind": draw(st.sampled_from(["payment", "refund"])),
        "status": draw(st.sampled_from(["completed", "voided"])),
        "booking_id": draw(st.none() | ids),
        "occurred_at": instant_text(occurred, draw(st.booleans())),
        "updated_at": instant_text(updated, draw(st.booleans())),
        "currency": "NOK",
        "amount_minor": amount,
        "payment_method": method,
        "provider_fee_minor": draw(st.integers(0, amount)) if method in ONLINE_METHODS else 0,
        "gift_card_code": draw(st.none() | ids),
        "lines": items,
    }


def local_day(value: str) -> dt.date:
    return dt.datetime.fromisoformat(value).astimezone(OSLO).date()


@pytest.fixture
def tenant(staging_engine: Engine, example_tenant_file: Path) -> TenantConfig:
    return setup_tenant(staging_engine, example_tenant_file)


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Connection]:
    """One example's staging, undone afterwards so examples do not see each other."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


@PROPERTY
@given(records=st.lists(valid_records(), min_size=1, max_size=8, unique_by=lambda r: r["id"]))
def test_every_valid_record_stages(staging_engine: Engine, tenant: TenantConfig, records: list[dict]) -> None:
    expected = {r["id"]: r for r in records if local_day(r["occurred_at"]) >= tenant.start_date}
    with rolled_back(staging_engine) as conn:
        result = stage_records(conn, tenant, records)
        rows = {row.transaction_id: row for row in conn.execute(select(transactions))}
        raws = raw_records(conn, tenant.tenant)
        line_rows = conn.execute(select(transaction_lines.c.transaction_id)).scalars().all()
        held = conn.execute(select(quarantine.c.id)).all()
    assert (result.staged, result.quarantined, held) == (len(expected), 0, [])
    assert result.before_start == len(records) - len(expected)
    assert set(rows) == set(expected)
    for tx_id, sent in expected.items():
        row = rows[tx_id]
        assert json.loads(raws[tx_id]) == sent
        assert (row.amount_ore, row.provider_fee_ore, row.status) == (
            sent["amount_minor"], sent["provider_fee_minor"], sent["status"],
        )  # fmt: skip
        assert row.local_date == local_day(sent["occurred_at"])
        assert line_rows.count(tx_id) == len(sent["lines"])


def _pick_line(draw: st.DrawFn, rec: dict[str, Any]) -> dict[str, Any]:
    return rec["lines"][draw(st.integers(0, len(rec["lines"]) - 1))]


def _amount_mismatch(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["amount_minor"] += draw(st.integers(1, 10_000))


def _line_vat(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    line = _pick_line(draw, rec)
    line["vat_minor"] = vat_in_gross(line["gross_minor"], VAT_RATES[line["vat_rate"]]) + draw(
        st.integers(2, 10_000)
    )


def _gift_card_vat(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    line = _pick_line(draw, rec)
    rate = draw(st.sampled_from(["25", "15", "12"]))
    line.update(category="gift_card", vat_rate=rate, vat_minor=vat_in_gross(line["gross_minor"], int(rate)))


def _fee_exceeds(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["payment_method"] = draw(st.sampled_from(sorted(ONLINE_METHODS)))
    rec["provider_fee_minor"] = rec["amount_minor"] + draw(st.integers(1, 10_000))


def _offline_fee(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["payment_method"] = draw(st.sampled_from(OFFLINE_METHODS))
    rec["provider_fee_minor"] = draw(st.integers(1, rec["amount_minor"]))


def _currency(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["currency"] = draw(st.sampled_from(["EUR", "SEK", "DKK", "USD", "nok"]))


TOP = ["id", "account_id", "kind", "status", "booking_id", "occurred_at", "updated_at", "currency",
       "amount_minor", "payment_method", "provider_fee_minor", "gift_card_code", "lines"]  # fmt: skip
LINE = ["product_id", "product_name", "category", "quantity", "gross_minor", "vat_rate", "vat_minor",
        "service_date"]  # fmt: skip
STRINGS = {"id", "account_id", "kind", "status", "occurred_at", "updated_at", "currency", "payment_method"}
INTEGERS = {"amount_minor", "provider_fee_minor", "quantity", "gross_minor", "vat_minor"}


def _missing_field(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    if draw(st.booleans()):
        del rec[draw(st.sampled_from(TOP))]
    else:
        del _pick_line(draw, rec)[draw(st.sampled_from(LINE))]


def _wrong_type(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    where = rec if draw(st.booleans()) else _pick_line(draw, rec)
    name = draw(st.sampled_from(sorted(set(where) & (STRINGS | INTEGERS | {"product_id", "category"}))))
    if name in INTEGERS:
        bad = draw(st.sampled_from([str(where[name]), where[name] + 0.5, True, None, [where[name]]]))
    else:
        bad = draw(st.sampled_from([7, 1.5, False, None, [where[name]], {"value": where[name]}, ""]))
    where[name] = bad


def _unknown_value(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    where, name = draw(
        st.sampled_from(
            [
                ("top", "kind"),
                ("top", "status"),
                ("top", "payment_method"),
                ("line", "category"),
                ("line", "vat_rate"),
            ]
        )  # fmt: skip
    )
    target = rec if where == "top" else _pick_line(draw, rec)
    target[name] = draw(st.sampled_from(["", "gift", "VOIDED", "20", "card"]).filter(bool))


def _bad_timestamp(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    name = draw(st.sampled_from(["occurred_at", "updated_at"]))
    rec[name] = draw(
        st.sampled_from(["yesterday", "2026-11-24T10:00:00", "2026-13-01T00:00:00Z", "24.11.2026"])
    )


def _out_of_range(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    choice = draw(st.sampled_from(["amount", "fee", "quantity", "gross", "vat"]))
    if choice == "amount":
        rec["amount_minor"] = draw(st.integers(-1000, 0))
    elif choice == "fee":
        rec["provider_fee_minor"] = draw(st.integers(-1000, -1))
    else:
        name = {"quantity": "quantity", "gross": "gross_minor", "vat": "vat_minor"}[choice]
        _pick_line(draw, rec)[name] = draw(st.integers(-1000, 0 if name == "quantity" else -1))


def _no_lines(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["lines"] = draw(st.sampled_from([[], {}, "lines", 3]))


def _wrong_account(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["account_id"] = draw(ids.filter(lambda a: a != "fjord-kayak"))


def _unstorable(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    rec["id"] = draw(st.sampled_from(["x" * 201, "a\x00b"]))


def _too_large(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    line = _pick_line(draw, rec)
    line["quantity"] = draw(st.integers(2**31, 2**40))


# (the rule codes the record may be quarantined with, how to break a valid record that way)
BREAKERS = [
    (("amount_mismatch",), _amount_mismatch),
    (("line_vat",), _line_vat),
    (("gift_card_vat",), _gift_card_vat),
    (("provider_fee",), _fee_exceeds),
    (("provider_fee",), _offline_fee),
    (("currency",), _currency),
    (("missing_field",), _missing_field),
    (("wrong_type",), _wrong_type),
    (("unknown_value",), _unknown_value),
    (("bad_timestamp",), _bad_timestamp),
    (("out_of_range",), _out_of_range),
    (("no_lines",), _no_lines),
    (("wrong_account",), _wrong_account),
    (("too_long", "bad_text"), _unstorable),
    (("out_of_range",), _too_large),
]


@st.composite
def broken(draw: st.DrawFn) -> tuple[tuple[str, ...], dict[str, Any]]:
    rules, breaker = draw(st.sampled_from(BREAKERS))
    rec = draw(valid_records(day=DAY))
    breaker(draw, rec)
    return rules, rec


@PROPERTY
@given(case=broken())
def test_a_record_breaking_one_invariant_is_quarantined_with_its_rule(
    staging_engine: Engine, tenant: TenantConfig, case: tuple[tuple[str, ...], dict[str, Any]]
) -> None:
    rules, rec = case
    sent = copy.deepcopy(rec)
    with rolled_back(staging_engine) as conn:
        result = stage_records(conn, tenant, [rec])
        row = conn.execute(select(quarantine)).mappings().one()
        staged = conn.execute(select(transactions.c.transaction_id)).all()
    assert (result.staged, result.quarantined, staged) == (0, 1, [])
    assert len(row["rules"]) == 1 and row["rules"][0] in rules, row["reason"]
    assert json.loads(row["raw"]) == sent
    assert row["reason"] and row["released_at"] is None
    if isinstance(sent.get("id"), str) and row["rules"] not in (["too_long"], ["bad_text"]):
        assert row["record_id"] == sent["id"]
    if set(rules) & {"amount_mismatch", "line_vat", "gift_card_vat", "provider_fee", "currency"}:
        assert row["local_date"] == DAY


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mangled(draw: st.DrawFn) -> dict[str, Any]:
    """A record of DAY with one part replaced, removed or added as arbitrary JSON."""
    rec = draw(valid_records(day=DAY))
    how = draw(st.sampled_from(["replace", "delete", "add", "line", "lines"]))
    if how == "replace":
        rec[draw(st.sampled_from(TOP))] = draw(json_values)
    elif how == "delete":
        del rec[draw(st.sampled_from(TOP))]
    elif how == "add":
        rec[draw(st.text(max_size=12))] = draw(json_values)
    elif how == "line":
        _pick_line(draw, rec)[draw(st.sampled_from(LINE))] = draw(json_values)
    else:
        rec["lines"].append(draw(json_values))
    return rec


@PROPERTY
@given(
    good=valid_records(day=DAY).map(lambda r: {**r, "status": "completed"}),
    noise=st.lists(mangled() | json_values, max_size=8),
)
def test_arbitrary_json_never_crashes_staging_nor_reaches_the_journal(
    staging_engine: Engine, tenant: TenantConfig, good: dict[str, Any], noise: list[Any]
) -> None:
    from bookspot_tripletex.staging.stage import check_record

    def accepts(value: Any) -> bool:
        try:
            check_record(copy.deepcopy(value), tenant)
        except ValueError:
            return False
        return True

    rejected = [value for value in noise if not accepts(value)]
    accepted = {value["id"] for value in noise if accepts(value)}
    good = {**good, "id": "the-good-one"}
    with rolled_back(staging_engine) as conn:
        result = stage_records(conn, tenant, [good, *noise])
        journal = build_day(conn, tenant, DAY)
        held = conn.execute(select(quarantine.c.raw)).scalars().all()
    in_journal = {line.transaction_id for line in journal.lines}
    assert "the-good-one" in in_journal and in_journal <= accepted | {"the-good-one"}
    assert result.quarantined == len(rejected)
    distinct = {json.dumps(value, sort_keys=True) for value in rejected}
    assert len(held) == len(distinct)
    assert {json.dumps(json.loads(raw), sort_keys=True) for raw in held} == distinct


@PROPERTY
@given(
    texts=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",))) | json_values.map(json.dumps), max_size=6
    )
)
def test_any_json_lines_file_stages_without_crashing(
    staging_engine: Engine, tenant: TenantConfig, texts: list[str]
) -> None:
    good = record("tx_file_good", "2026-11-24T10:00:00+01:00")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.jsonl"
        path.write_text("\n".join([json.dumps(good), *texts]) + "\n", encoding="utf-8")
        records = list(JsonlFileSource(path).iter_records())
        with rolled_back(staging_engine) as conn:
            result = stage_records(conn, tenant, records)
            staged = conn.execute(select(transactions.c.transaction_id)).scalars().all()
    assert "tx_file_good" in staged
    assert result.staged + result.quarantined + result.before_start + result.stale == len(records)
