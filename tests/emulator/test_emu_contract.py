"""The contract checker itself: a tour of every emulated operation stays clean, and it can fail."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from emulator_helpers import DAY, JSON, Api

from bookspot_devkit.contract import ContractChecker, ContractCheckingAdapter, load_openapi
from bookspot_devkit.emulator.server import EmulatorServer

SPEC_URL = "https://tripletex.no/v2"


def test_tour_of_every_operation_is_clean(anon_a: Api, emulator: EmulatorServer) -> None:
    checker = ContractChecker()
    api = Api(anon_a.server, anon_a.company, checker)
    body = {
        "consumerToken": api.company.consumer_token,
        "employeeToken": api.company.employee_token,
        "expirationDate": "2026-12-01",
    }
    assert api.request("POST", "/token/session/:create", json=body).status_code == 201
    api.login()
    ids = api.accounts(1580, 3000)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/token/session/>whoAmI", {}),
        (
            "GET",
            "/ledger/account",
            {"params": {"number": "3000", "isInactive": "false", "fields": "*,vatType(*)"}},
        ),
        ("GET", f"/ledger/account/{ids[3000]}", {"params": {"fields": "*,legalVatTypes(*)"}}),
        ("GET", "/ledger/vatType", {"params": {"number": "3"}}),
        ("GET", "/ledger/vatType/3", {}),
        ("GET", "/ledger/voucherType", {"params": {"name": "Bank"}}),
        ("GET", "/ledger/accountingPeriod", {"params": {"count": 5}}),
        ("GET", "/ledger/account", {"params": {"fields": "nope"}}),
        ("GET", "/ledger/account", {"params": {"from": 10000}}),
    ]
    for method, path, kw in calls:
        api.request(method, path, **kw)
    voucher = api.voucher_body([(1580, "125.00", "0"), (3000, "-125.00", "3")], externalVoucherNumber="tour")
    vid = api.post_voucher(voucher, sendToLedger="true").json()["value"]["id"]
    api.post_voucher({"date": DAY, "postings": []})
    more: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/ledger/voucher/{vid}", {"params": {"fields": "*,postings(*,account(*),vatType(*))"}}),
        (
            "GET",
            "/ledger/voucher",
            {"params": {"dateFrom": DAY, "dateTo": "2026-11-25", "fields": "*,postings(*)"}},
        ),
        ("GET", "/ledger/voucher/>externalVoucherNumber", {"params": {"externalVoucherNumber": "tour"}}),
        (
            "GET",
            "/ledger/posting",
            {"params": {"dateFrom": DAY, "dateTo": "2026-11-25", "fields": "*,account(*)"}},
        ),
        (
            "POST",
            f"/ledger/voucher/{vid}/attachment",
            {"files": {"file": ("r.pdf", b"%PDF-1.4", "application/pdf")}},
        ),
        ("PUT", f"/ledger/voucher/{vid}/:reverse", {"params": {"date": "2026-11-25"}}),
        ("GET", f"/ledger/voucher/{vid}", {"params": {"fields": "*,reverseVoucher(*),attachment(*)"}}),
        ("GET", "/ledger/voucher/999", {}),
        ("DELETE", f"/token/session/{api.token}", {}),
        ("GET", "/ledger/vatType", {}),
    ]
    for method, path, kw in more:
        api.request(method, path, **kw)
    emulator.admin("POST", "rate_limit", {"limit": 0})
    api.request("PUT", "/token/session/:create", params=dict(body))
    assert checker.checked >= 2 * (len(calls) + len(more) + 8)
    checker.assert_clean()


def prepared(method: str, path: str, body: Any = None, content_type: str = JSON["Content-Type"]) -> Any:
    headers = {"Authorization": "Basic MDp0b2tlbg=="}
    if body is not None:
        headers["Content-Type"] = content_type
    data = json.dumps(body) if body is not None else None
    return requests.Request(method, SPEC_URL + path, data=data, headers=headers).prepare()


def fake_response(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    return response


GOOD_VOUCHER = {
    "date": DAY,
    "description": "x",
    "postings": [{"row": 1, "account": {"id": 1}, "amountGross": 1.5, "amountGrossCurrency": 1.5}],
}


def test_checker_accepts_a_good_voucher_request() -> None:
    assert ContractChecker().check_request(prepared("POST", "/ledger/voucher", GOOD_VOUCHER)) == []


@pytest.mark.parametrize(
    "body",
    [
        dict(GOOD_VOUCHER, postings="nope"),
        dict(GOOD_VOUCHER, postings=[{"row": "x"}]),
        dict(GOOD_VOUCHER, voucherType=None),
    ],
)
def test_checker_rejects_bad_voucher_bodies(body: dict[str, Any]) -> None:
    assert ContractChecker().check_request(prepared("POST", "/ledger/voucher", body))


def test_checker_rejects_bare_json_content_type_and_missing_auth() -> None:
    checker = ContractChecker()
    assert checker.check_request(prepared("POST", "/ledger/voucher", GOOD_VOUCHER, "application/json"))
    unauthenticated = requests.Request("GET", SPEC_URL + "/ledger/vatType").prepare()
    assert checker.check_request(unauthenticated)
    assert len(checker.violations) == 2
    with pytest.raises(AssertionError, match="contract violations"):
        checker.assert_clean()


def test_checker_rejects_bad_responses() -> None:
    checker = ContractChecker()
    request = prepared("GET", "/ledger/voucher/5")
    assert checker.check_response(request, fake_response(200, {"value": {"id": "five"}}))
    assert checker.check_response(request, fake_response(200, {"value": {"postings": [{"amount": "1.00"}]}}))
    assert checker.check_response(request, fake_response(404, {"status": 404, "code": "x"}))
    envelope = {
        "status": 404,
        "code": 6000,
        "message": "Object not found",
        "link": "https://tripletex.no/v2-docs/",
        "developerMessage": None,
        "validationMessages": None,
        "requestId": "r",
    }
    assert checker.check_response(request, fake_response(404, envelope)) == []
    assert checker.check_response(request, fake_response(200, {"value": {"id": 5, "date": DAY}})) == []


def test_adapter_records_without_raising(emulator: EmulatorServer) -> None:
    adapter = ContractCheckingAdapter()
    session = requests.Session()
    session.mount("http://127.0.0.1:", adapter)
    response = session.get(emulator.url + "/ledger/voucher", timeout=10)
    assert response.status_code == 401
    assert [v.kind for v in adapter.checker.violations] == ["request"]


def test_spec_is_loaded_once() -> None:
    assert load_openapi() is load_openapi()
