"""The emulator's answers as Tripletex writes them: rate-limit headers on every answer, and a voucher
write answered with the voucher and all its postings in full."""

from __future__ import annotations

from decimal import Decimal

import requests
from emulator_helpers import DAY, Api

from bookspot_devkit.emulator.fields import MODEL_FIELDS
from bookspot_devkit.emulator.server import EmulatorServer

RATE_HEADERS = {"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"}
SALE = [(1580, "1646.27", "0"), (3000, "-1329.00", "3"), (3002, "-317.27", "33")]


def listed(model: str) -> set[str]:
    return set(MODEL_FIELDS[model]) - {"changes"}


def test_every_answer_carries_the_rate_limit_headers(
    api_a: Api, anon_a: Api, emulator: EmulatorServer, raw: requests.Session
) -> None:
    token_pair = {"consumerToken": api_a.company.consumer_token, "expirationDate": "2026-11-27"}
    answers = [
        api_a.get("/ledger/vatType", number="3"),
        api_a.post_voucher(api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])),
        api_a.post_voucher(api_a.voucher_body([(1920, "100.00", "0"), (2990, "-99.00", "0")])),
        api_a.get("/ledger/voucher/999"),
        api_a.get("/ledger/account", fields="nope"),
        raw.get(f"{emulator.url}/ledger/vatType", timeout=10),
        raw.get(f"{emulator.url}/ledger/vatType", auth=("0", "not-a-session"), timeout=10),
        anon_a.request("PUT", "/token/session/:create", params={**token_pair, "employeeToken": "wrong"}),
        anon_a.request(
            "PUT",
            "/token/session/:create",
            params={**token_pair, "employeeToken": api_a.company.employee_token},
        ),
    ]
    emulator.admin(
        "POST", "faults", {"rules": [{"action": "error", "path": "/ledger/vatType", "status": 500}]}
    )
    answers.append(api_a.get("/ledger/vatType"))
    emulator.admin(
        "POST", "faults", {"rules": [{"action": "error_after", "path": "/ledger/voucher", "status": 500}]}
    )
    answers.append(api_a.post_voucher(api_a.voucher_body([(1920, "5.00", "0"), (2990, "-5.00", "0")])))
    assert [a.status_code for a in answers] == [200, 201, 422, 404, 400, 401, 401, 422, 200, 500, 500]
    for answer in answers:
        assert RATE_HEADERS <= answer.headers.keys(), (answer.status_code, answer.url)
        assert "Retry-After" not in answer.headers
    remaining = [int(a.headers["X-Rate-Limit-Remaining"]) for a in answers[:5]]
    assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 5
    assert int(answers[-1].headers["X-Rate-Limit-Remaining"]) < remaining[-1]


def test_injected_gateway_pages_carry_no_api_headers(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin("POST", "faults", {"rules": [{"action": "error", "status": 503}]})
    page = api_a.get("/ledger/vatType")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert not RATE_HEADERS & page.headers.keys()


def test_voucher_post_answers_the_voucher_with_every_posting_in_full(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body(SALE, externalVoucherNumber="bs-wire"))
    assert response.status_code == 201, response.text
    voucher = response.json()["value"]
    assert voucher.keys() == listed("Voucher")
    assert voucher["voucherType"] is None and voucher["document"] is None and voucher["attachment"] is None
    assert voucher["number"] == 1 and voucher["externalVoucherNumber"] == "bs-wire"
    postings = voucher["postings"]
    assert all(p.keys() == listed("Posting") for p in postings)
    assert all(p["account"].keys() == {"id", "url"} and p["voucher"]["id"] == voucher["id"] for p in postings)
    assert all(p["customer"] is None and p["closeGroup"] is None for p in postings)
    system = sorted((p for p in postings if p["row"] == 0), key=lambda p: p["amount"])
    assert [p["systemGenerated"] for p in system] == [True, True]
    assert [Decimal(str(p["amount"])) for p in system] == [Decimal("-265.80"), Decimal("-33.99")]
    sales = {p["row"]: p for p in postings if p["row"] > 0}
    assert Decimal(str(sales[2]["amount"])) == Decimal("-1063.20")
    assert Decimal(str(sales[2]["amountGross"])) == Decimal("-1329.00")
    assert sum(Decimal(str(p["amount"])) for p in postings) == 0
    assert not any(sales[row]["systemGenerated"] for row in sales)


def test_reversal_answers_in_the_same_shape_and_fields_still_trim(api_a: Api) -> None:
    body = api_a.voucher_body(SALE)
    trimmed = api_a.post_voucher(body, fields="id,number").json()["value"]
    assert trimmed.keys() == {"id", "number"}
    reversal = api_a.request("PUT", f"/ledger/voucher/{trimmed['id']}/:reverse", params={"date": DAY})
    assert reversal.status_code == 200, reversal.text
    value = reversal.json()["value"]
    assert value["reverseVoucher"]["id"] == trimmed["id"]
    assert len(value["postings"]) == 5 and all(p.keys() == listed("Posting") for p in value["postings"])
