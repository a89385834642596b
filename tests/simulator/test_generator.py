"""The generator: valid and realistic by default, deterministic, DST-correct, and each knob does one thing."""

from __future__ import annotations

import collections
import datetime as dt
import statistics
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import KNOB_RULES, OSLO, check_well_formed, instant, violations

from bookspot_devkit.simulator.generator import (
    Knobs,
    TenantGenerator,
    iter_transactions,
    tenant_ids,
    tenant_profile,
    vat_of,
)
from bookspot_tripletex.feed.model import InvalidRecord, parse_record


def _rules(record: dict[str, Any]) -> set[str]:
    try:
        parse_record(record)
    except InvalidRecord as exc:
        return set(exc.rules)
    return set()


@pytest.fixture(scope="module")
def year() -> list[dict[str, Any]]:
    return list(iter_transactions(["fjord-kayak", "tenant-003"], "2026-01-01", "2026-12-31", seed=11))


def test_a_clean_feed_meets_every_invariant(year: list[dict[str, Any]]) -> None:
    assert len(year) > 5000
    for record in year:
        assert violations(record) == set(), record
        assert _rules(record) == set(), record
        check_well_formed(record)
    assert len({(r["account_id"], r["id"]) for r in year}) == len(year)


def test_the_feed_looks_like_norwegian_activity_businesses(year: list[dict[str, Any]]) -> None:
    lines = [line for r in year for line in r["lines"]]
    assert {line["vat_rate"] for line in lines} == {"25", "15", "12", "0", "exempt"}
    assert {line["category"] for line in lines} == {
        "activity", "extra", "rental", "rebooking_guarantee", "gift_card", "fee",
    }  # fmt: skip
    methods = collections.Counter(r["payment_method"] for r in year)
    assert set(methods) >= {"stripe", "vipps", "card_terminal", "invoice", "bank_transfer", "gift_card"}
    assert {line["vat_rate"] for line in lines if line["category"] == "activity"} >= {"25", "12"}
    assert {line["vat_rate"] for line in lines if line["product_name"] == "Lunch pack"} == {"15"}

    sales = [r for r in year if any(line["category"] == "gift_card" for line in r["lines"])]
    assert sales and all(r["booking_id"] is None and r["gift_card_code"] for r in sales)
    assert all(line["vat_rate"] == "0" and line["vat_minor"] == 0 for r in sales for line in r["lines"])
    redemptions = [r for r in year if r["payment_method"] == "gift_card"]
    assert redemptions and all(r["gift_card_code"] and r["provider_fee_minor"] == 0 for r in redemptions)
    refunds = [r for r in year if r["kind"] == "refund"]
    assert refunds and all(r["booking_id"] and r["provider_fee_minor"] == 0 for r in refunds)
    assert any(r["occurred_at"].endswith("Z") for r in year)

    for r in year:
        if r["payment_method"] in ("stripe", "dintero", "vipps") and r["kind"] == "payment":
            fee, amount = r["provider_fee_minor"], r["amount_minor"]
            assert 0.015 * amount <= fee <= min(amount, 0.029 * amount + 181), r
        else:
            assert r["provider_fee_minor"] == 0


def test_volume_follows_season_and_weekday(year: list[dict[str, Any]]) -> None:
    kayak = [r for r in year if r["account_id"] == "fjord-kayak"]
    per_day = collections.Counter(instant(r["occurred_at"]).astimezone(OSLO).date() for r in kayak)
    month = collections.Counter()
    for day, n in per_day.items():
        month[day.month] += n
    assert tenant_profile("fjord-kayak", 11).season == "summer"
    assert month[7] > 3 * month[1]
    weekend = [n for day, n in per_day.items() if day.weekday() >= 5]
    weekdays = [n for day, n in per_day.items() if day.weekday() < 5]
    assert statistics.mean(weekend) > 1.2 * statistics.mean(weekdays)


@pytest.mark.parametrize("day", [dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 7, 1)])
def test_timestamps_carry_the_oslo_offset_of_their_instant(day: dt.date) -> None:
    records = list(TenantGenerator("fjord-kayak", 5, transactions_per_day=600).iter_records(day, day))
    assert len(records) > 100
    offsets = collections.Counter()
    for record in records:
        text = record["occurred_at"]
        occurred = instant(text)
        assert occurred.astimezone(OSLO).date() == day, text
        if text.endswith("Z"):
            assert occurred.utcoffset() == dt.timedelta(0)
            continue
        assert occurred.utcoffset() == occurred.astimezone(OSLO).utcoffset(), text
        offsets[text[-6:]] += 1
    if day.month == 3:
        assert set(offsets) == {"+01:00", "+02:00"}
        assert not any("T02:" in r["occurred_at"] and not r["occurred_at"].endswith("Z") for r in records)
    elif day.month == 10:
        assert set(offsets) == {"+01:00", "+02:00"}
        assert {r["occurred_at"][11:13] for r in records if r["occurred_at"][11:13] == "02"}
    else:
        assert set(offsets) == {"+02:00"}
    assert set(instant(r["occurred_at"]).astimezone(OSLO).date() for r in records) == {day}


def test_winter_timestamps_are_plus_one() -> None:
    records = list(TenantGenerator("fjord-kayak", 5).iter_records("2026-11-24", "2026-11-24"))
    assert records and {r["occurred_at"][-6:] for r in records if not r["occurred_at"].endswith("Z")} == {
        "+01:00"
    }


def test_same_seed_same_records_other_seed_other_records() -> None:
    knobs = {"late_updates": 0.1, "voids": 0.05, "line_vat_wrong": 0.05}
    first = list(iter_transactions(3, "2026-05-01", "2026-05-20", seed=42, **knobs))
    again = list(iter_transactions(3, "2026-05-01", "2026-05-20", seed=42, **knobs))
    other = list(iter_transactions(3, "2026-05-01", "2026-05-20", seed=43, **knobs))
    assert first == again
    assert first != other


def test_a_day_does_not_depend_on_the_range_asked_for() -> None:
    generator = TenantGenerator("tenant-002", 9)
    month = [
        r for r in generator.iter_records("2026-06-01", "2026-06-30") if r["id"].startswith("tx_20260615")
    ]
    alone = list(generator.iter_records("2026-06-15", "2026-06-15"))
    assert month == alone and alone


def test_knobs_leave_the_base_records_alone() -> None:
    clean = list(TenantGenerator("tenant-001", 4).iter_records("2026-08-01", "2026-08-07"))
    knobs = Knobs(late_updates=0.2, voids=0.1)
    noisy = list(TenantGenerator("tenant-001", 4, knobs=knobs).iter_records("2026-08-01", "2026-08-07"))
    first = {}
    for record in noisy:
        first.setdefault(record["id"], record)
    assert list(first.values()) == clean


def test_stream_is_in_updated_at_then_id_order() -> None:
    knobs = Knobs(late_updates=0.2, voids=0.1, corrections=0.5, wrong_currency=0.1)
    records = list(TenantGenerator("fjord-kayak", 3, knobs=knobs).iter_records("2026-06-01", "2026-06-20"))
    keys = [(instant(r["updated_at"]), r["id"]) for r in records]
    assert keys == sorted(keys)


def test_late_updates_reappear_later_changed_and_consistent() -> None:
    knobs = Knobs(late_updates=0.3)
    records = list(TenantGenerator("fjord-kayak", 3, knobs=knobs).iter_records("2026-06-01", "2026-06-10"))
    versions = collections.defaultdict(list)
    for record in records:
        versions[record["id"]].append(record)
    changed = [v for v in versions.values() if len(v) == 2]
    assert len(changed) > 50 and all(len(v) <= 2 for v in versions.values())
    for original, update in changed:
        assert violations(update) == set() and _rules(update) == set()
        assert instant(update["updated_at"]) > instant(original["updated_at"])
        assert update["occurred_at"] == original["occurred_at"] and update["status"] == "completed"
        assert update["amount_minor"] != original["amount_minor"]


def test_voids_reappear_later_voided_and_otherwise_identical() -> None:
    knobs = Knobs(voids=0.3)
    records = list(
        TenantGenerator("tenant-004", 3, transactions_per_day=40, knobs=knobs).iter_records(
            "2026-06-01", "2026-06-10"
        )
    )
    versions = collections.defaultdict(list)
    for record in records:
        versions[record["id"]].append(record)
    voided = [v for v in versions.values() if len(v) == 2]
    assert len(voided) > 20
    for original, void in voided:
        assert void["status"] == "voided" and original["status"] == "completed"
        assert instant(void["updated_at"]) > instant(original["updated_at"])
        assert {k: v for k, v in void.items() if k not in ("status", "updated_at")} == {
            k: v for k, v in original.items() if k not in ("status", "updated_at")
        }


@pytest.mark.parametrize("knob", Knobs.MALFORMED)
def test_each_malformed_knob_breaks_exactly_its_rule(knob: str) -> None:
    own_rule, model_rules = KNOB_RULES[knob]
    records = list(
        iter_transactions(2, "2026-03-27", "2026-04-02", seed=8, transactions_per_day=60, **{knob: 0.25})
    )
    broken = [r for r in records if violations(r)]
    assert 0.15 * len(records) < len(broken) < 0.35 * len(records)
    for record in broken:
        assert violations(record) == {own_rule}, record
        assert _rules(record) == model_rules, record
    for record in records:
        if not violations(record):
            assert _rules(record) == set()


def test_corrections_follow_malformed_records_with_a_valid_version() -> None:
    knobs = Knobs(lines_sum_mismatch=0.2, missing_field=0.1, corrections=1.0)
    records = list(
        TenantGenerator("tenant-005", 2, transactions_per_day=30, knobs=knobs).iter_records(
            "2026-07-01", "2026-07-05"
        )
    )
    versions = collections.defaultdict(list)
    for record in records:
        versions[record["id"]].append(record)
    pairs = [v for v in versions.values() if len(v) == 2]
    assert pairs
    for bad, fixed in pairs:
        assert violations(bad) and violations(fixed) == set()
        assert instant(fixed["updated_at"]) > instant(bad["updated_at"])


def test_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Knobs(voids=1.5)
    with pytest.raises(ValueError, match="add up"):
        Knobs(wrong_type=0.6, missing_field=0.6)
    with pytest.raises(ValueError, match="unknown knob"):
        Knobs.from_mapping({"voidz": 0.1})
    with pytest.raises(ValueError, match="unknown knob"):
        list(iter_transactions(1, "2026-01-01", "2026-01-01", typo=0.1))


def test_tenants_and_profiles_are_stable() -> None:
    assert tenant_ids(3) == ["fjord-kayak", "tenant-001", "tenant-002"]
    assert tenant_profile("fjord-kayak", 1).name == "Fjord Kayak AS"
    assert tenant_profile("tenant-007", 1) == tenant_profile("tenant-007", 1)
    businesses = {tenant_profile(t, 1).business for t in tenant_ids(40)}
    assert len(businesses) >= 6
    assert {tenant_profile(t, 1).season for t in tenant_ids(40)} == {"summer", "winter"}


@given(gross=st.integers(0, 10**10), rate=st.sampled_from(["25", "15", "12", "0", "exempt"]))
def test_vat_is_round_half_up_of_the_vat_fraction(gross: int, rate: str) -> None:
    r = 0 if rate == "exempt" else int(rate)
    exact = Decimal(gross * r) / Decimal(100 + r)
    assert vat_of(gross, rate) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
