import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bookspot_tripletex.feed.model import InvalidRecord, parse_record


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def good(example_feed: Path) -> dict[str, Any]:
    return copy.deepcopy(records(example_feed)[0])


def test_every_example_record_parses(example_feed: Path) -> None:
    parsed = [parse_record(r) for r in records(example_feed)]
    assert [t.id for t in parsed] == [f"tx_00000{i}" for i in range(1, 8)]
    assert parsed[0].amount_ore == 128000 and parsed[0].lines[0].gross_ore == 119000
    assert parsed[4].sign == -1


def reject(raw: Any, currency: str = "NOK") -> InvalidRecord:
    with pytest.raises(InvalidRecord) as info:
        parse_record(raw, currency)
    return info.value


def test_lines_must_sum_to_amount(good: dict[str, Any]) -> None:
    good["amount_minor"] += 1
    error = reject(good)
    assert error.rules == ["amount_mismatch"]
    assert error.record_id == "tx_000001"
    assert "amount_minor" in str(error) and "128000" in str(error)


def test_line_vat_must_match_within_one_ore(good: dict[str, Any]) -> None:
    good["lines"][0]["vat_minor"] += 1
    parse_record(good)
    good["lines"][0]["vat_minor"] += 1
    error = reject(good)
    assert error.rules == ["line_vat"]
    assert "lines[0].vat_minor" in str(error)


def test_gift_card_line_bears_no_vat(example_feed: Path) -> None:
    gift = copy.deepcopy(records(example_feed)[2])
    gift["lines"][0].update(vat_rate="25", vat_minor=20000)
    assert reject(gift).rules == ["gift_card_vat"]


def test_fee_cannot_exceed_amount(good: dict[str, Any]) -> None:
    good["provider_fee_minor"] = good["amount_minor"] + 1
    assert "provider_fee" in reject(good).rules


def test_offline_method_has_no_fee(example_feed: Path) -> None:
    cash = copy.deepcopy(records(example_feed)[6])
    cash["provider_fee_minor"] = 100
    error = reject(cash)
    assert error.rules == ["provider_fee"] and "offline" in str(error)


def test_currency_must_be_the_accounts(good: dict[str, Any]) -> None:
    good["currency"] = "SEK"
    assert reject(good).rules == ["currency"]
    assert parse_record(good, currency="SEK").currency == "SEK"


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda r: r.pop("id"), "missing_field"),
        (lambda r: r.update(amount_minor="128000"), "wrong_type"),
        (lambda r: r.update(amount_minor=True), "wrong_type"),
        (lambda r: r.update(amount_minor=0), "out_of_range"),
        (lambda r: r.update(kind="chargeback"), "unknown_value"),
        (lambda r: r.update(occurred_at="2026-11-24T09:12:03"), "bad_timestamp"),
        (lambda r: r.update(occurred_at="yesterday"), "bad_timestamp"),
        (lambda r: r.update(lines=[]), "no_lines"),
        (lambda r: r["lines"][0].update(quantity=0), "out_of_range"),
        (lambda r: r["lines"][0].update(service_date="soon"), "bad_date"),
        (lambda r: r["lines"].append("x"), "wrong_type"),
    ],
)
def test_structural_problems_are_named(good: dict[str, Any], mutate, rule: str) -> None:  # type: ignore[no-untyped-def]
    mutate(good)
    assert rule in reject(good).rules


@pytest.mark.parametrize("raw", [None, 3, "x", [], [{"id": 1}]])
def test_non_objects_are_rejected_not_crashing(raw: Any) -> None:
    assert reject(raw).rules == ["not_an_object"]


def test_offsets_are_kept(good: dict[str, Any]) -> None:
    good["occurred_at"] = "2026-11-24T23:30:00Z"
    tx = parse_record(good)
    from zoneinfo import ZoneInfo

    assert tx.local_date(ZoneInfo("Europe/Oslo")) == dt.date(2026, 11, 25)
