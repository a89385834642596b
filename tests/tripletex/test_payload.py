"""voucher_payload and the Decimal JSON encoding: exact two-decimal numbers from integer øre, no floats."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookspot_tripletex.tripletex.errors import PayloadError
from bookspot_tripletex.tripletex.payload import dumps, ore_to_nok, voucher_payload


@dataclass
class Posting:
    row: int
    account: int
    vat_type: int
    amount_ore: int
    description: str = "BookSpot"


@dataclass
class Voucher:
    postings: list[Posting]
    date: datetime.date = datetime.date(2026, 11, 24)
    description: str = "BookSpot sales 2026-11-24"
    external_number: str = "bookspot:fjord-kayak:2026-11-24:v1"
    extra: dict = field(default_factory=dict)


WORKED_EXAMPLE = [
    (1580, 0, 164627),
    (1581, 0, 103810),
    (1920, 0, 34900),
    (2900, 0, -40500),
    (3000, 3, -132900),
    (3001, 31, -30000),
    (3002, 33, -105000),
    (7770, 0, 5063),
]
ACCOUNT_IDS = {n: 400 + i for i, n in enumerate(sorted({a for a, _, _ in WORKED_EXAMPLE}))}
VAT_IDS = {0: 1, 3: 3, 31: 31, 33: 32}


def worked_voucher() -> Voucher:
    return Voucher([Posting(i, a, v, ore) for i, (a, v, ore) in enumerate(WORKED_EXAMPLE, start=1)])


def floats_in(value) -> list:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


def test_worked_example_payload():
    body = voucher_payload(worked_voucher(), ACCOUNT_IDS, VAT_IDS)
    assert body["date"] == "2026-11-24"
    assert body["externalVoucherNumber"] == "bookspot:fjord-kayak:2026-11-24:v1"
    assert "voucherType" not in body
    first = body["postings"][0]
    assert first == {
        "row": 1,
        "date": "2026-11-24",
        "description": "BookSpot",
        "account": {"id": ACCOUNT_IDS[1580]},
        "vatType": {"id": 1},
        "amountGross": Decimal("1646.27"),
        "amountGrossCurrency": Decimal("1646.27"),
    }
    assert body["postings"][6]["vatType"] == {"id": 32}
    assert floats_in(body) == []
    assert sum(p["amountGross"] for p in body["postings"]) == 0


def test_json_shows_exact_two_decimal_numbers():
    text = dumps(voucher_payload(worked_voucher(), ACCOUNT_IDS, VAT_IDS, voucher_type_id=9))
    assert '"amountGross":1646.27,' in text
    assert '"amountGross":-405.00,' in text
    assert '"amountGrossCurrency":349.00' in text
    assert '"voucherType":{"id":9}' in text
    parsed = json.loads(text, parse_float=Decimal)
    assert parsed["postings"][0]["amountGross"] == Decimal("1646.27")
    assert json.loads(text)["postings"][3]["amountGross"] == -405.0


def test_non_ascii_text_is_sent_as_utf8():
    text = dumps({"description": "Salg øl og blåbær"})
    assert text == '{"description":"Salg øl og blåbær"}'


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_ore_to_nok_is_exact(ore):
    sign = "-" if ore < 0 else ""
    assert dumps(ore_to_nok(ore)) == f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


@pytest.mark.parametrize("bad", [1.5, True, "100", Decimal("1.00")])
def test_ore_must_be_an_int(bad):
    with pytest.raises(PayloadError):
        ore_to_nok(bad)


def test_dumps_refuses_floats_and_non_finite_decimals():
    with pytest.raises(PayloadError):
        dumps({"amountGross": 1646.27})
    with pytest.raises(PayloadError):
        dumps(Decimal("NaN"))


def test_missing_account_names_the_account_number():
    ids = {n: i for n, i in ACCOUNT_IDS.items() if n != 1581}
    with pytest.raises(PayloadError, match="account 1581 was not found"):
        voucher_payload(worked_voucher(), ids, VAT_IDS)


def test_missing_vat_type_names_the_code_and_account():
    with pytest.raises(PayloadError, match="VAT code 33 .*account 3002"):
        voucher_payload(worked_voucher(), ACCOUNT_IDS, {0: 1, 3: 3, 31: 31})


@pytest.mark.parametrize(
    ("postings", "message"),
    [
        ([Posting(1, 1580, 0, 100), Posting(2, 3000, 3, -99)], "does not balance: .* 0.01 NOK"),
        ([Posting(0, 1580, 0, 100), Posting(1, 3000, 3, -100)], "rows start at 1"),
        ([Posting(1, 1580, 0, 100), Posting(1, 3000, 3, -100)], "row 1 appears twice"),
        ([], "no postings"),
    ],
)
def test_bad_vouchers_are_refused(postings, message):
    with pytest.raises(PayloadError, match=message):
        voucher_payload(Voucher(postings), ACCOUNT_IDS, VAT_IDS)


@pytest.mark.parametrize("ext", ["", "x" * 71])
def test_external_number_length(ext):
    voucher = worked_voucher()
    voucher.external_number = ext
    with pytest.raises(PayloadError, match="externalVoucherNumber"):
        voucher_payload(voucher, ACCOUNT_IDS, VAT_IDS)


def test_description_is_required():
    voucher = worked_voucher()
    voucher.description = ""
    with pytest.raises(PayloadError, match="needs a description"):
        voucher_payload(voucher, ACCOUNT_IDS, VAT_IDS)


def test_external_number_of_70_is_fine():
    voucher = worked_voucher()
    voucher.external_number = "x" * 70
    assert voucher_payload(voucher, ACCOUNT_IDS, VAT_IDS)["externalVoucherNumber"] == "x" * 70
