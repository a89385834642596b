"""The bulk path (msgspec decoding into the schema, then `columns_of`) accepts only what the strict
checker accepts, and reads the same values."""

import copy
import datetime as dt
from typing import Any

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookspot_devkit.simulator.generator import iter_transactions
from bookspot_tripletex import money
from bookspot_tripletex.feed.model import (
    NO_DAY,
    InvalidRecord,
    Transaction,
    TransactionRecord,
    columns_of,
    parse_dates,
    parse_instants,
    parse_record,
    vat_in_gross,
)

KNOBS = {
    "late_updates": 0.1,
    "voids": 0.1,
    "corrections": 0.5,
    "lines_sum_mismatch": 0.05,
    "line_vat_wrong": 0.05,
    "gift_card_vat": 0.05,
    "fee_exceeds_amount": 0.05,
    "offline_fee": 0.05,
    "wrong_currency": 0.05,
    "missing_field": 0.05,
    "wrong_type": 0.05,
}
FEED = list(iter_transactions(3, "2026-06-01", "2026-06-20", seed=3, **KNOBS))
ODD_VALUES = [
    None, "", "x", "NOK", 0, -1, 1, 2**70, True, False, 1.0, 0.5, [], {}, ["payment"], "25", "exempt",
    "2026-11-24", "2026-11-24T10:00:00", "2026-11-24T10:00:00+01:00", "20261124", "gift_card", "cash",
    "2026-02-30", "2026-11-24T24:00:00Z", "2026-11-24T10:00:00+24:00", "2026-11-24t10:00:00Z",
]  # fmt: skip
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def bulk_reading(raw: Any, currency: str = "NOK") -> Any:
    """What the bulk path makes of one record: its columns, or None where it leaves it to the checker."""
    try:
        record = msgspec.convert(raw, TransactionRecord)
    except msgspec.ValidationError:
        return None
    columns = columns_of([record], currency)
    return columns if columns.ok[0] else None


def same_outcome(raw: Any, currency: str = "NOK") -> bool:
    columns = bulk_reading(raw, currency)
    try:
        full: Transaction | None = parse_record(raw, currency)
    except InvalidRecord:
        full = None
    if columns is None:
        return False
    assert full is not None, f"bulk path accepted a record the checker rejects: {raw!r}"
    rec, line = columns.record, columns.line
    assert (rec.id[0], rec.kind[0], rec.status[0], rec.booking_id[0], rec.gift_card_code[0]) == (
        full.id, full.kind, full.status, full.booking_id, full.gift_card_code,
    )  # fmt: skip
    assert (rec.occurred_at[0], rec.updated_at[0]) == (micros(full.occurred_at), micros(full.updated_at))
    assert (rec.amount_minor[0], rec.provider_fee_minor[0]) == (full.amount_ore, full.provider_fee_ore)
    days = [NO_DAY if x.service_date is None else (x.service_date - EPOCH.date()).days for x in full.lines]
    assert line.service_date.tolist() == days
    assert line.gross_minor.tolist() == [x.gross_ore for x in full.lines]
    assert line.vat_minor.tolist() == [x.vat_ore for x in full.lines]
    assert [name or "" for name in line.product_name] == [x.product_name for x in full.lines]
    return True


def test_generated_feed_agrees() -> None:
    accepted = sum(same_outcome(raw) for raw in FEED)
    assert 0 < accepted < len(FEED)


def test_a_batch_reads_as_its_records_one_by_one() -> None:
    records = []
    for raw in FEED:
        try:
            records.append(msgspec.convert(raw, TransactionRecord))
        except msgspec.ValidationError:
            pass
    batch = columns_of(records, "NOK")
    alone = [columns_of([r], "NOK").ok[0] for r in records]
    assert batch.ok.tolist() == alone
    assert batch.record.lines_total.tolist() == [sum(x.gross_minor for x in r.lines) for r in records]


def test_other_currency_is_left_to_the_checker() -> None:
    raw = copy.deepcopy(next(r for r in FEED if same_outcome(r)))
    assert bulk_reading(raw, "SEK") is None
    raw["currency"] = "SEK"
    assert same_outcome(raw, "SEK")


def _paths(raw: dict[str, Any]) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = [(key,) for key in raw]
    for index, line in enumerate(raw.get("lines") or []):
        paths += [("lines", index, key) for key in line]
    return paths


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(FEED) - 1),
    st.data(),
    st.sampled_from(ODD_VALUES),
    st.sampled_from(["set", "delete", "shift"]),
)
def test_mutated_records_agree(index: int, data: st.DataObject, value: Any, how: str) -> None:
    raw = copy.deepcopy(FEED[index])
    if not isinstance(raw.get("lines"), list) or not all(isinstance(x, dict) for x in raw["lines"]):
        return
    *parents, key = data.draw(st.sampled_from(_paths(raw)))
    target = raw
    for step in parents:
        target = target[step]
    if how == "delete":
        del target[key]
    elif how == "shift" and type(target[key]) is int:
        target[key] += data.draw(st.sampled_from([-2, -1, 1, 2]))
    else:
        target[key] = copy.deepcopy(value)
    same_outcome(raw)


def test_offsets_and_dates_are_read_alike() -> None:
    raw = copy.deepcopy(FEED[0])
    raw["occurred_at"] = "2026-03-29T01:30:00.123456-02:30"
    raw["updated_at"] = "2026-03-29T01:30:00Z"
    assert same_outcome(raw)
    raw["lines"][0]["service_date"] = "2026-W14-1"
    assert bulk_reading(raw) is None and parse_record(raw).lines[0].service_date == dt.date(2026, 3, 30)


zones = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@given(
    moment=st.datetimes(dt.datetime(2, 1, 2), dt.datetime(9998, 12, 30), timezones=zones), zulu=st.booleans()
)
def test_instants_read_as_fromisoformat_reads_them(moment: dt.datetime, zulu: bool) -> None:
    text = moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if zulu else moment.isoformat()
    (value,), (ok,) = parse_instants([text])
    assert ok and value == micros(dt.datetime.fromisoformat(text))


@given(text=st.text("0123456789-+:TZ. ", min_size=19, max_size=32) | st.text(max_size=32))
def test_an_instant_the_bulk_path_reads_is_one_fromisoformat_reads(text: str) -> None:
    (value,), (ok,) = parse_instants([text])
    if ok:
        parsed = dt.datetime.fromisoformat(text)
        assert parsed.utcoffset() is not None and value == micros(parsed)


@given(text=st.text("0123456789-W", min_size=8, max_size=10) | st.dates().map(str))
def test_a_date_the_bulk_path_reads_is_one_fromisoformat_reads(text: str) -> None:
    (value,), (ok,) = parse_dates([text])
    if ok:
        assert dt.date.fromisoformat(text) == dt.date(1970, 1, 1) + dt.timedelta(days=int(value))


@given(gross=st.integers(0, 10**15), rate=st.sampled_from([0, 12, 15, 25]))
def test_vat_in_gross_is_moneys(gross: int, rate: int) -> None:
    assert vat_in_gross(gross, rate) == money.vat_in_gross(gross, rate)
    assert vat_in_gross(np.array([gross]), rate)[0] == money.vat_in_gross(gross, rate)
