"""Drafts, sending to the ledger with a version, deleting, late commits, a lagging lookup, and changes
made behind the integration's back; every exchange passes the contract checker."""

from __future__ import annotations

import time

import requests
from emulator_helpers import DAY, Api

from bookspot_devkit.emulator.server import EmulatorServer

SALE = [(1580, "125.00", "0"), (3000, "-125.00", "3")]
BY_EXT = "/ledger/voucher/>externalVoucherNumber"


def _draft(api: Api, ext: str = "bs-1") -> dict:
    response = api.post_voucher(api.voucher_body(SALE, externalVoucherNumber=ext), sendToLedger="false")
    assert response.status_code == 201, response.text
    return response.json()["value"]


def _ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [v["id"] for v in response.json()["values"]]


def test_a_draft_stays_out_of_the_ledger_until_sent_once(api_a: Api) -> None:
    draft = _draft(api_a)
    assert draft["number"] == 0 and draft["tempNumber"] >= 1
    assert _ids(api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25")) == []
    assert _ids(api_a.get(BY_EXT, externalVoucherNumber="bs-1")) == []
    assert _ids(api_a.get("/ledger/posting", dateFrom=DAY, dateTo="2026-11-25")) == []
    listed = api_a.get(
        "/ledger/voucher/>nonPosted", dateFrom=DAY, dateTo="2026-11-25", includeNonApproved="true"
    )
    assert _ids(listed) == [draft["id"]]

    stale = api_a.request("PUT", f"/ledger/voucher/{draft['id']}/:sendToLedger", params={"version": 99})
    assert stale.status_code == 409 and stale.json()["code"] == 8000
    sent = api_a.request(
        "PUT", f"/ledger/voucher/{draft['id']}/:sendToLedger", params={"version": draft["version"]}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["value"]["number"] >= 1
    again = api_a.request(
        "PUT", f"/ledger/voucher/{draft['id']}/:sendToLedger", params={"version": draft["version"]}
    )
    assert again.status_code == 409
    assert _ids(api_a.get(BY_EXT, externalVoucherNumber="bs-1")) == [draft["id"]]
    nothing = api_a.get("/ledger/voucher/>nonPosted", includeNonApproved="true")
    assert _ids(nothing) == []


def test_only_a_draft_can_be_deleted(api_a: Api) -> None:
    draft = _draft(api_a)
    kept = _draft(api_a, "bs-2")
    assert api_a.request("DELETE", f"/ledger/voucher/{draft['id']}").status_code == 204
    assert api_a.get(f"/ledger/voucher/{draft['id']}").status_code == 404
    api_a.request("PUT", f"/ledger/voucher/{kept['id']}/:sendToLedger", params={"version": kept["version"]})
    refused = api_a.request("DELETE", f"/ledger/voucher/{kept['id']}")
    assert refused.status_code == 422 and "tilbakefør" in refused.text


def test_a_closed_period_refuses_the_send(api_a: Api, emulator: EmulatorServer) -> None:
    draft = _draft(api_a)
    emulator.admin("PUT", "companies/1001/closed_periods", [{"start": "2026-11-01", "end": "2026-12-01"}])
    refused = api_a.request(
        "PUT", f"/ledger/voucher/{draft['id']}/:sendToLedger", params={"version": draft["version"]}
    )
    assert refused.status_code == 422 and "stengt" in refused.text


def test_a_late_commit_lands_after_the_client_gave_up(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin(
        "POST",
        "faults",
        {"rules": [{"action": "late_commit", "method": "POST", "path": "/ledger/voucher", "seconds": 0.6}]},
    )
    body = api_a.voucher_body(SALE, externalVoucherNumber="late")
    try:
        api_a.request("POST", "/ledger/voucher", data=_dumps(body), headers=_json(), timeout=0.3)
        raise AssertionError("the client should have timed out")
    except requests.Timeout:
        pass
    assert _ids(api_a.get(BY_EXT, externalVoucherNumber="late")) == []
    time.sleep(0.8)
    assert len(_ids(api_a.get(BY_EXT, externalVoucherNumber="late"))) == 1


def test_the_lookup_index_lags_the_ledger(api_a: Api, emulator: EmulatorServer) -> None:
    emulator.admin("POST", "faults", {"lookup_lag_seconds": 60})
    created = api_a.post_voucher(api_a.voucher_body(SALE, externalVoucherNumber="fresh")).json()["value"]
    assert _ids(api_a.get(BY_EXT, externalVoucherNumber="fresh")) == []
    assert _ids(api_a.get("/ledger/voucher", dateFrom=DAY, dateTo="2026-11-25")) == [created["id"]]
    assert api_a.get(f"/ledger/voucher/{created['id']}").status_code == 200
    emulator.admin("POST", "clock", {"advance_seconds": 61})
    assert _ids(api_a.get(BY_EXT, externalVoucherNumber="fresh")) == [created["id"]]


def test_the_listings_lag_behind_writes_and_reading_by_id_does_not(
    api_a: Api, emulator: EmulatorServer
) -> None:
    emulator.admin("POST", "faults", {"listing_lag_seconds": 120})
    drafts = (
        "/ledger/voucher/>nonPosted",
        {"dateFrom": DAY, "dateTo": "2026-11-25", "includeNonApproved": "true"},
    )
    ledger = ("/ledger/voucher", {"dateFrom": DAY, "dateTo": "2026-11-25"})
    draft = _draft(api_a, "lagging")
    assert _ids(api_a.get(drafts[0], **drafts[1])) == []
    assert api_a.get(f"/ledger/voucher/{draft['id']}").status_code == 200
    emulator.admin("POST", "clock", {"advance_seconds": 121})
    assert _ids(api_a.get(drafts[0], **drafts[1])) == [draft["id"]]
    sent = api_a.request(
        "PUT", f"/ledger/voucher/{draft['id']}/:sendToLedger", params={"version": draft["version"]}
    )
    assert sent.status_code == 200, sent.text
    assert _ids(api_a.get(ledger[0], **ledger[1])) == []
    assert api_a.get(f"/ledger/voucher/{draft['id']}").json()["value"]["number"] > 0
    emulator.admin("POST", "clock", {"advance_seconds": 119})
    assert _ids(api_a.get(ledger[0], **ledger[1])) == []
    emulator.admin("POST", "clock", {"advance_seconds": 2})
    assert _ids(api_a.get(ledger[0], **ledger[1])) == [draft["id"]]


def test_vouchers_deleted_or_reversed_behind_the_back(api_a: Api, emulator: EmulatorServer) -> None:
    one = api_a.post_voucher(api_a.voucher_body(SALE)).json()["value"]
    two = api_a.post_voucher(api_a.voucher_body(SALE)).json()["value"]
    emulator.admin("DELETE", f"companies/1001/vouchers/{one['id']}")
    assert api_a.get(f"/ledger/voucher/{one['id']}").status_code == 404
    reversal = emulator.admin("POST", f"companies/1001/vouchers/{two['id']}/reverse")
    assert api_a.full_voucher(two["id"])["reverseVoucher"]["id"] == reversal["id"]


def _dumps(body: dict) -> str:
    from bookspot_devkit.emulator.errors import dumps

    return dumps(body)


def _json() -> dict[str, str]:
    from emulator_helpers import JSON

    return JSON
