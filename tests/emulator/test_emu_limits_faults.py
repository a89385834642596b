"""Rate limiting (with and without X-Rate-Limit-Reset) and fault injection."""

from __future__ import annotations

import time

import pytest
import requests
from emulator_helpers import Api

from bookspot_devkit.emulator.server import EmulatorServer


def limit(emulator: EmulatorServer, n: int, omit_reset: bool = False) -> None:
    emulator.admin("POST", "rate_limit", {"limit": n, "period_seconds": 60, "omit_reset_on_429": omit_reset})


def test_rate_limit_headers_and_429_until_the_period_ends(api_a: Api, emulator: EmulatorServer) -> None:
    limit(emulator, 3)
    remaining = []
    for _ in range(3):
        response = api_a.get("/ledger/vatType", number="3")
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit-Limit"] == "3"
        assert 0 < int(response.headers["X-Rate-Limit-Reset"]) <= 60
        remaining.append(response.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["2", "1", "0"]
    for _ in range(2):
        over = api_a.get("/ledger/vatType", number="3")
        assert over.status_code == 429
        assert over.json()["status"] == 429 and over.json()["requestId"] == over.headers["x-tlx-request-id"]
        assert over.headers["X-Rate-Limit-Remaining"] == "0" and "X-Rate-Limit-Reset" in over.headers
    emulator.state.clock.advance(61)
    assert api_a.get("/ledger/vatType", number="3").headers["X-Rate-Limit-Remaining"] == "2"


def test_429_without_reset_header(api_a: Api, emulator: EmulatorServer) -> None:
    limit(emulator, 1, omit_reset=True)
    assert "X-Rate-Limit-Reset" in api_a.get("/ledger/vatType").headers
    over = api_a.get("/ledger/vatType")
    assert over.status_code == 429 and "X-Rate-Limit-Reset" not in over.headers


def test_rate_limit_is_per_company_and_employee_token(
    api_a: Api, api_b: Api, emulator: EmulatorServer
) -> None:
    limit(emulator, 2)
    assert [api_a.get("/ledger/vatType").status_code for _ in range(3)] == [200, 200, 429]
    assert api_b.get("/ledger/vatType").status_code == 200
    second = Api(api_a.server, api_a.company, api_a.session.adapters["http://127.0.0.1:"].checker)
    assert (
        second.login(employee_token=api_a.company.employee_tokens[0]).get("/ledger/vatType").status_code
        == 200
    )


def test_session_creation_counts_against_the_limit(anon_a: Api, emulator: EmulatorServer) -> None:
    limit(emulator, 1)
    anon_a.login()
    response = anon_a.request(
        "PUT",
        "/token/session/:create",
        params={
            "consumerToken": anon_a.company.consumer_token,
            "employeeToken": anon_a.company.employee_token,
            "expirationDate": "2026-11-27",
        },
    )
    assert response.status_code == 429


def test_injected_server_errors(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin("POST", "faults", {"error_rates": {"500": 1.0}})
    response = api_a.get("/ledger/vatType")
    assert response.status_code == 500
    body = response.json()
    assert (body["status"], body["code"]) == (500, 1000) and body["message"] is None
    assert body["requestId"] == response.headers["x-tlx-request-id"]
    emulator.admin("POST", "faults", {"error_rates": {"503": 1.0}})
    gateway = api_a.get("/ledger/vatType")
    assert gateway.status_code == 503 and gateway.headers["content-type"].startswith("text/html")
    emulator.admin("DELETE", "faults")
    assert api_a.get("/ledger/vatType").status_code == 200


def test_random_errors_follow_the_rate_and_seed(api_a: Api, emulator: EmulatorServer) -> None:
    statuses = []
    for _ in range(2):
        emulator.admin("POST", "faults", {"error_rates": {"500": 0.3, "502": 0.1}, "seed": 7})
        statuses.append([api_a.get("/ledger/vatType", number="3").status_code for _ in range(40)])
    assert statuses[0] == statuses[1]
    assert 5 <= statuses[0].count(500) + statuses[0].count(502) <= 25
    assert statuses[0].count(200) >= 15
    injected = emulator.admin("GET", "faults")["injected"]
    assert injected["error:500"] == statuses[1].count(500)


def test_targeted_rule_fires_a_limited_number_of_times(api_a: Api, emulator: EmulatorServer) -> None:
    rule = {"action": "error", "method": "GET", "path": "/ledger/account", "status": 409, "times": 2}
    emulator.admin("POST", "faults", {"rules": [rule]})
    codes = [api_a.get("/ledger/account", number="1920").status_code for _ in range(3)]
    assert codes == [409, 409, 200]
    assert api_a.get("/ledger/vatType").status_code == 200


def test_latency_and_timeout(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin(
        "POST", "faults", {"rules": [{"action": "latency", "path": "/ledger/vatType", "seconds": 0.3}]}
    )
    started = time.monotonic()
    assert api_a.get("/ledger/vatType").status_code == 200
    assert time.monotonic() - started >= 0.3
    emulator.admin("POST", "faults", {"timeout_rate": 1.0, "timeout_seconds": 1.0})
    with pytest.raises(requests.exceptions.ReadTimeout):
        api_a.request("GET", "/ledger/vatType", timeout=0.3)


def test_commit_then_drop_the_response(api_a: Api, emulator: EmulatorServer) -> None:
    body = api_a.voucher_body(
        [(1920, "125.00", "0"), (3000, "-125.00", "3")], externalVoucherNumber="bs-drop"
    )
    emulator.admin("POST", "faults", {"drop_rate": 1.0})
    with pytest.raises(requests.exceptions.ConnectionError):
        api_a.post_voucher(body)
    emulator.admin("DELETE", "faults")
    found = api_a.get("/ledger/voucher/>externalVoucherNumber", externalVoucherNumber="bs-drop").json()[
        "values"
    ]
    assert len(found) == 1
    assert emulator.admin("GET", "requests")["values"][-2]["path"] == "/v2/ledger/voucher"


def test_commit_then_error_and_drop_rule(api_a: Api, emulator: EmulatorServer) -> None:
    body = api_a.voucher_body([(1920, "10.00", "0"), (2990, "-10.00", "0")], externalVoucherNumber="bs-500")
    rules = [
        {"action": "error_after", "method": "POST", "path": "/ledger/voucher", "status": 500, "times": 1},
        {"action": "drop", "method": "POST", "path": "/ledger/voucher", "times": 1},
    ]
    emulator.admin("POST", "faults", {"rules": rules})
    assert api_a.post_voucher(body).status_code == 500
    with pytest.raises(requests.exceptions.ConnectionError):
        api_a.post_voucher(body)
    assert api_a.post_voucher(body).status_code == 201
    found = api_a.get("/ledger/voucher/>externalVoucherNumber", externalVoucherNumber="bs-500").json()[
        "values"
    ]
    assert len(found) == 3


def test_faults_leave_admin_routes_alone_and_reset_clears_them(emulator: EmulatorServer) -> None:
    emulator.admin("POST", "faults", {"error_rates": {"500": 1.0}})
    assert emulator.admin("GET", "health")["status"] == "ok"
    emulator.admin("POST", "reset")
    assert emulator.admin("GET", "faults")["config"]["error_rates"] == {}
