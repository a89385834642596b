"""Session tokens, Basic auth, expiry and company isolation."""

from __future__ import annotations

from typing import Any

import requests
from emulator_helpers import Api

from bookspot_devkit.emulator.server import EmulatorServer


def create(api: Api, consumer: str, employee: str, expires: str = "2026-11-27") -> requests.Response:
    return api.request(
        "PUT",
        "/token/session/:create",
        params={"consumerToken": consumer, "employeeToken": employee, "expirationDate": expires},
    )


def assert_401(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert (body["status"], body["code"]) == (401, 3000)
    assert body["requestId"] == response.headers["x-tlx-request-id"]


def test_put_creates_a_session_token(anon_a: Api) -> None:
    response = create(anon_a, anon_a.company.consumer_token, anon_a.company.employee_token)
    assert response.status_code == 200
    value = response.json()["value"]
    assert value["expirationDate"] == "2026-11-27"
    assert value["token"] and "-" not in value["token"]
    assert {"id", "version", "consumerToken", "employeeToken"} <= set(value)
    assert len(response.headers["x-tlx-request-id"]) == 36


def test_post_creates_a_session_token(anon_a: Api) -> None:
    body = {
        "consumerToken": anon_a.company.consumer_token,
        "employeeToken": anon_a.company.employee_token,
        "expirationDate": "2026-12-01",
    }
    response = anon_a.request("POST", "/token/session/:create", json=body)
    assert response.status_code == 201
    anon_a.session.auth = ("0", response.json()["value"]["token"])
    assert anon_a.get("/token/session/>whoAmI").json()["value"]["companyId"] == 1001


def refusal(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == 18000
    return response.json()["validationMessages"][0]


def test_bad_token_pairs_are_refused(anon_a: Api, api_b: Api, raw: requests.Session) -> None:
    a, b = anon_a.company, api_b.company
    assert refusal(create(anon_a, "nope", a.employee_token))["field"] == "arg:consumerToken"
    assert refusal(create(anon_a, a.consumer_token, "nope"))["field"] == "arg:employeeToken"
    crossed = refusal(create(anon_a, a.consumer_token, b.employee_token))
    assert crossed == {
        "field": "arg:employeeToken",
        "message": "The employee token is invalid or does not exist.",
        "path": "arg:employeeToken",
        "rootId": None,
    }
    assert (
        refusal(create(anon_a, a.consumer_token, a.employee_token, "2026-11-25"))["field"]
        == "arg:expirationDate"
    )
    missing = raw.put(anon_a.server.url + "/token/session/:create", params={"consumerToken": "x"}, timeout=10)
    assert refusal(missing)["message"] == "Kan ikke være null."


def test_calls_without_or_with_bad_credentials_get_401(anon_a: Api, raw: requests.Session) -> None:
    url = anon_a.server.url + "/ledger/account"
    assert_401(raw.get(url, timeout=10))
    assert_401(raw.get(url, auth=("0", "not-a-token"), timeout=10))
    assert_401(raw.get(url, headers={"Authorization": "Bearer abc"}, timeout=10))


def test_token_expires_at_midnight_of_expiration_date(api_a: Api, emulator: EmulatorServer) -> None:
    assert api_a.get("/token/session/>whoAmI").status_code == 200
    emulator.admin("POST", "clock", {"today": "2026-11-26"})
    assert api_a.get("/token/session/>whoAmI").status_code == 200
    emulator.admin("POST", "clock", {"today": "2026-11-27"})
    assert_401(api_a.get("/token/session/>whoAmI"))


def test_admin_can_expire_every_session_now(api_a: Api, api_b: Api, emulator: EmulatorServer) -> None:
    assert emulator.admin("POST", "sessions/expire")["expired"] == 2
    assert_401(api_a.get("/ledger/vatType"))
    assert_401(api_b.get("/ledger/vatType"))
    assert api_a.login().get("/ledger/vatType").status_code == 200


def test_delete_session_ends_it(api_a: Api) -> None:
    assert api_a.request("DELETE", f"/token/session/{api_a.token}").status_code == 204
    assert_401(api_a.get("/token/session/>whoAmI"))


def test_who_am_i_and_company_username(api_a: Api, api_b: Api) -> None:
    me = api_a.get("/token/session/>whoAmI").json()["value"]
    assert me["companyId"] == 1001 and isinstance(me["employeeId"], int)
    api_a.session.auth = ("1001", api_a.token)
    assert api_a.get("/token/session/>whoAmI").status_code == 200
    api_a.session.auth = ("2002", api_a.token)
    assert_401(api_a.get("/token/session/>whoAmI"))
    assert api_b.get("/token/session/>whoAmI").json()["value"]["companyId"] == 2002


def test_companies_see_only_their_own_data(api_a: Api, api_b: Api) -> None:
    ids_a = api_a.accounts(1920, 3000)
    ids_b = api_b.accounts(1920, 3000)
    assert set(ids_a.values()).isdisjoint(ids_b.values())
    assert api_b.get(f"/ledger/account/{ids_a[1920]}").status_code == 404
    assert api_a.accounts(1580) and not api_b.accounts(1580)

    created = api_a.post_voucher(
        api_a.voucher_body([(1920, "10.00", "0"), (2990, "-10.00", "0")], externalVoucherNumber="iso")
    )
    vid = created.json()["value"]["id"]
    assert api_b.get(f"/ledger/voucher/{vid}").status_code == 404
    assert api_b.get("/ledger/voucher", dateFrom="2026-01-01", dateTo="2027-01-01").json()["values"] == []
    assert (
        api_b.get("/ledger/voucher/>externalVoucherNumber", externalVoucherNumber="iso").json()["values"]
        == []
    )
    assert api_b.get("/ledger/posting", dateFrom="2026-01-01", dateTo="2027-01-01").json()["values"] == []
    assert (
        api_b.request("PUT", f"/ledger/voucher/{vid}/:reverse", params={"date": "2026-11-25"}).status_code
        == 404
    )
    files = {"file": ("a.pdf", b"%PDF", "application/pdf")}
    assert api_b.request("POST", f"/ledger/voucher/{vid}/attachment", files=files).status_code == 404
    assert api_b.request("DELETE", f"/token/session/{api_a.token}").status_code == 404

    body = api_b.voucher_body([(1920, "10.00", "0"), (2990, "-10.00", "0")])
    body["postings"][0]["account"] = {"id": ids_a[1920]}
    assert api_b.post_voucher(body).status_code == 422
    assert len(api_a.server.admin("GET", "companies/1001/vouchers")["values"]) == 1
    assert api_a.server.admin("GET", "companies/2002/vouchers")["values"] == []


def test_request_log_never_holds_tokens(api_a: Api, emulator: EmulatorServer) -> None:
    api_a.request("DELETE", f"/token/session/{api_a.token}")
    text = repr(emulator.requests_seen())
    assert api_a.token not in text and api_a.company.employee_token not in text
    assert api_a.company.consumer_token not in text
    assert "/v2/token/session/***" in text


def test_calls_are_counted_beyond_the_bounded_log(api_a: Api, emulator: EmulatorServer) -> None:
    for _ in range(3):
        assert api_a.request("GET", "/ledger/vatType").status_code == 200
    counted = {(v["method"], v["path"]): v["count"] for v in api_a.server.admin("GET", "calls")["values"]}
    assert counted[("GET", "/v2/ledger/vatType")] == 3
    state = emulator.state
    for n in range(state.request_log.maxlen + 5):
        state.log_request({"method": "GET", "path": f"/v2/ledger/voucher/{n}"})
    assert len(state.request_log) == state.request_log.maxlen
    calls = api_a.server.admin("GET", "calls")
    counted = {(v["method"], v["path"]): v["count"] for v in calls["values"]}
    assert counted[("GET", "/v2/ledger/voucher/:id")] == state.request_log.maxlen + 5
    api_a.server.admin("DELETE", "requests")
    assert api_a.server.admin("GET", "calls")["total"] == 0
