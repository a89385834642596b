"""Reading: chart of accounts, VAT types, voucher types, paging, the 10,000 cap and `fields`."""

from __future__ import annotations

import pytest
import requests
from emulator_helpers import DAY, Api

from bookspot_devkit.emulator.server import EmulatorServer


def test_default_chart_accounts(api_a: Api) -> None:
    numbers = [
        1500,
        1579,
        1900,
        1920,
        2400,
        2700,
        2701,
        2702,
        2900,
        2965,
        2990,
        3000,
        3001,
        3002,
        3100,
        3200,
        7740,
        7770,
    ]
    response = api_a.get("/ledger/account", number=",".join(map(str, numbers)), fields="*,vatType(number)")
    values = {a["number"]: a for a in response.json()["values"]}
    assert sorted(values) == numbers
    sales = values[3000]
    assert sales["name"] == "Salgsinntekt, avgiftspliktig" and sales["vatLocked"] is True
    assert sales["vatType"] == {"number": "3"}
    assert values[3001]["vatType"] == {"number": "31"} and values[3002]["vatType"] == {"number": "33"}
    assert values[1500]["ledgerType"] == "CUSTOMER" and values[2400]["ledgerType"] == "VENDOR"
    assert all(isinstance(a["legalVatTypes"], list) for a in values.values())
    assert {"isInactive", "requiresDepartment", "requiresProject", "type", "url"} <= set(sales)
    assert sales["legalVatTypes"][0].keys() == {"id", "url"}


def test_account_filters_and_single_account(api_a: Api) -> None:
    inactive = api_a.get("/ledger/account", isInactive="true", fields="number").json()["values"]
    assert inactive == [{"number": 1599}]
    active = api_a.get("/ledger/account", isInactive="false", fields="number").json()["values"]
    assert {"number": 1599} not in active and {"number": 1580} in active
    account_id = api_a.accounts(1580)[1580]
    one = api_a.get(f"/ledger/account/{account_id}").json()["value"]
    assert one["name"] == "Stripe clearing" and one["vatType"]["id"]
    assert api_a.get("/ledger/account/12345").json()["code"] == 6000


def test_vat_types_have_ids_that_differ_from_numbers(api_a: Api) -> None:
    low = api_a.get("/ledger/vatType", number="33").json()["values"]
    assert [(v["id"], v["number"], v["percentage"]) for v in low] == [(32, "33", 12)]
    numbers = {v["number"]: v for v in api_a.get("/ledger/vatType").json()["values"]}
    assert {"0", "1", "3", "5", "6", "11", "12", "13", "31", "33"} <= set(numbers)
    assert numbers["3"]["percentage"] == 25 and numbers["31"]["percentage"] == 15
    assert numbers["0"]["id"] != 0
    assert api_a.get("/ledger/vatType/32").json()["value"]["number"] == "33"


def test_voucher_types_differ_per_company(api_a: Api, api_b: Api) -> None:
    a = api_a.get("/ledger/voucherType", name="Utgående faktura").json()["values"]
    b = api_b.get("/ledger/voucherType", name="Utgående faktura").json()["values"]
    assert len(a) == len(b) == 1 and a[0]["id"] != b[0]["id"]
    assert api_a.get(f"/ledger/voucherType/{a[0]['id']}").json()["value"]["name"] == "Utgående faktura"


def test_paging_until_a_short_page(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin("POST", "companies/1001/seed_vouchers", {"count": 25, "date": DAY})
    seen: list[int] = []
    sizes = []
    start = 0
    while True:
        page = api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25", **{"from": start, "count": 10})
        body = page.json()
        assert body["from"] == start and body["fullResultSize"] == 25
        sizes.append(body["count"])
        seen += [v["id"] for v in body["values"]]
        if body["count"] < 10:
            break
        start += 10
    assert sizes == [10, 10, 5] and len(set(seen)) == 25
    default = api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25").json()
    assert default["count"] == 25 and default["versionDigest"]


def test_queries_are_capped_at_10000_objects(api_a: Api) -> None:
    ok = api_a.get("/ledger/account", **{"from": 9000, "count": 1000})
    assert ok.status_code == 200 and ok.json()["values"] == []
    for params in ({"from": 9500}, {"count": 10001}, {"from": 10000, "count": 1}):
        refused = api_a.get("/ledger/account", **params)
        assert refused.status_code == 422 and refused.json()["code"] == 23000, params


def test_many_vouchers_page_to_the_cap(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin("POST", "companies/1001/seed_vouchers", {"count": 10_050, "date": DAY})
    last = api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25", fields="id", **{"from": 9000})
    assert last.json()["count"] == 1000 and last.json()["fullResultSize"] == 10_050
    beyond = api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25", **{"from": 10_000, "count": 50})
    assert beyond.json()["code"] == 23000


def test_fields_filter(api_a: Api) -> None:
    created = api_a.post_voucher(api_a.voucher_body([(1920, "125.00", "0"), (3000, "-125.00", "3")]))
    vid = created.json()["value"]["id"]
    plain = api_a.get(f"/ledger/voucher/{vid}").json()["value"]
    assert plain["postings"][0].keys() == {"id", "url"}
    assert plain["voucherType"] is None and plain["document"] is None and "changes" not in plain
    narrow = api_a.get(f"/ledger/voucher/{vid}", fields="id,number").json()["value"]
    assert narrow.keys() == {"id", "number"}
    deep = api_a.get(f"/ledger/voucher/{vid}", fields="id,postings(row,account(number),vatType(number))")
    postings = deep.json()["value"]["postings"]
    assert {(p["row"], p["account"]["number"], p["vatType"]["number"]) for p in postings} == {
        (0, 2700, "3"),
        (1, 1920, "0"),
        (2, 3000, "3"),
    }
    star = api_a.get(f"/ledger/voucher/{vid}", fields="*,postings(*)").json()["value"]
    assert star["postings"][0]["account"].keys() == {"id", "url"} and "amountGross" in star["postings"][0]
    spaced = api_a.get("/ledger/account", number="1920", fields="number, name").json()["values"]
    assert spaced == [{"number": 1920, "name": "Bankinnskudd"}]


@pytest.mark.parametrize("fields", ["nope", "id,postings(nope)", "postings(account(nope))", "id,(", "id)"])
def test_unknown_fields_are_refused(api_a: Api, fields: str) -> None:
    response = api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25", fields=fields)
    assert response.status_code == 400 and response.json()["code"] == 11000


def test_voucher_and_posting_date_ranges(api_a: Api, raw: requests.Session) -> None:
    body = api_a.voucher_body([(1920, "125.00", "0"), (3000, "-125.00", "3")])
    vid = api_a.post_voucher(body).json()["value"]["id"]
    assert [
        v["id"] for v in api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25").json()["values"]
    ] == [vid]
    assert api_a.get("/ledger/voucher", dateFrom="2026-11-23", dateTo=DAY).json()["values"] == []
    bad = api_a.get("/ledger/voucher", dateFrom=DAY, dateTo=DAY)
    assert bad.status_code == 422
    missing = raw.get(api_a.server.url + "/ledger/voucher", auth=api_a.session.auth, timeout=10)
    assert missing.status_code == 422 and missing.json()["code"] == 21000
    postings = api_a.get(
        "/ledger/posting", dateFrom=DAY, dateTo="2026-11-25", fields="row,amount,systemGenerated"
    )
    assert len(postings.json()["values"]) == 3
    account_id = api_a.accounts(2700)[2700]
    vat_rows = api_a.get(
        "/ledger/posting",
        dateFrom=DAY,
        dateTo="2026-11-25",
        accountId=account_id,
        fields="amount,systemGenerated",
    ).json()["values"]
    assert vat_rows == [{"amount": -25.0, "systemGenerated": True}]


def test_accounting_periods(api_a: Api) -> None:
    periods = api_a.get("/ledger/accountingPeriod", startFrom="2026-01-01", startTo="2027-01-01").json()[
        "values"
    ]
    assert len(periods) == 12
    assert [p["isClosed"] for p in periods[:2]] == [True, False]
    assert periods[10]["start"] == "2026-11-01" and periods[10]["end"] == "2026-12-01"


def test_unknown_paths_and_bad_ids(api_a: Api, raw: requests.Session) -> None:
    response = raw.get(api_a.server.url + "/ledger/nothing", auth=api_a.session.auth, timeout=10)
    assert response.status_code == 404 and response.json()["code"] == 6000
    assert response.headers["x-tlx-request-id"]
    bad_id = raw.get(api_a.server.url + "/ledger/voucher/abc", auth=api_a.session.auth, timeout=10)
    assert bad_id.status_code == 400 and bad_id.json()["code"] == 12000
