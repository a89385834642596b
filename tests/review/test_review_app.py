"""The review screen on Airflow's API server: who may see and do what, the list, the report as it
stands now, releasing a held day and re-running it through Airflow's own models."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bookspot_tripletex.staging.schema import quarantine
from review_support import HELD_DAY, POSTED_DAY, TENANT

pytestmark = pytest.mark.airflow

PAGES = [
    "/bookspot-review/",
    "/bookspot-review/api/days",
    f"/bookspot-review/days/{TENANT}/{HELD_DAY}",
    f"/bookspot-review/reports/{TENANT}/{HELD_DAY}",
    f"/bookspot-review/api/reports/{TENANT}/{HELD_DAY}",
    f"/bookspot-review/tenants/{TENANT}/chart.svg",
    f"/bookspot-review/tenants/{TENANT}/mappings",
    f"/bookspot-review/api/tenants/{TENANT}/mappings",
]
ACTIONS = [
    f"/bookspot-review/api/days/{TENANT}/{HELD_DAY}/release",
    f"/bookspot-review/api/days/{TENANT}/{HELD_DAY}/rerun",
]


@pytest.mark.parametrize("path", PAGES + ACTIONS)
def test_nothing_without_a_login(api, path: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    method = client.post if path in ACTIONS else client.get
    kwargs = {"json": {"reason": "x"}} if path in ACTIONS else {}
    assert method(path, **kwargs).status_code == 401
    forged = method(path, headers={"Authorization": "Bearer not-a-token"}, **kwargs)
    assert forged.status_code in (401, 403)
    assert method(path, cookies={"_token": "not-a-token"}, **kwargs).status_code in (401, 403)


def test_a_browser_without_a_login_is_shown_the_way_to_it(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    page = client.get("/bookspot-review/", headers={"Accept": "text/html"})
    assert page.status_code == 401
    assert "/auth/login" in page.text and "Log in" in page.text


def test_the_list_shows_both_nights_and_filters(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    rows = client.get("/bookspot-review/api/days", headers=admin).json()
    by_day = {r["date"]: r for r in rows}
    assert by_day[str(POSTED_DAY)]["status"] == "posted" and by_day[str(POSTED_DAY)]["tripletex_number"]
    assert by_day[str(POSTED_DAY)]["transactions"] == 6 and by_day[str(POSTED_DAY)]["sales"] == "2679.00"
    assert by_day[str(POSTED_DAY)]["vat_difference"] == "0.00"
    assert by_day[str(HELD_DAY)]["status"] == "held" and by_day[str(HELD_DAY)]["problem"]
    problems = client.get("/bookspot-review/api/days?problems=true", headers=admin).json()
    assert [r["date"] for r in problems] == [str(HELD_DAY)]
    ranged = client.get(
        f"/bookspot-review/api/days?date_from={POSTED_DAY}&date_to={POSTED_DAY}", headers=admin
    )
    assert [r["date"] for r in ranged.json()] == [str(POSTED_DAY)]
    assert client.get("/bookspot-review/api/days?tenant=nobody", headers=admin).json() == []
    page = client.get("/bookspot-review/?problems=true", headers=admin)
    assert page.status_code == 200 and f"/bookspot-review/days/{TENANT}/{HELD_DAY}" in page.text
    assert f"/days/{TENANT}/{POSTED_DAY}" not in page.text


def test_a_posted_days_report_says_posted_with_its_number(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    report = client.get(f"/bookspot-review/api/reports/{TENANT}/{POSTED_DAY}", headers=admin).json()
    assert report["status"] == "posted" and report["tripletex_number"]
    assert report["summary"][0].startswith("Posted")
    page = client.get(f"/bookspot-review/reports/{TENANT}/{POSTED_DAY}", headers=admin).text
    assert "POSTED" in page and "READY" not in page


def test_the_held_days_page_names_its_reason(api, nights, admin, viewer) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    page = client.get(f"/bookspot-review/days/{TENANT}/{HELD_DAY}", headers=admin).text
    assert "tx_eur" in page and "currency" in page and 'id="release"' in page
    assert "<svg" in page
    report = client.get(f"/bookspot-review/reports/{TENANT}/{HELD_DAY}", headers=admin).text
    assert "HELD" in report and "tx_eur" in report
    seen_by_viewer = client.get(f"/bookspot-review/days/{TENANT}/{HELD_DAY}", headers=viewer).text
    assert "tx_eur" in seen_by_viewer and 'id="release"' not in seen_by_viewer


def test_a_viewer_may_not_release_or_rerun(api, nights, viewer) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    for path in ACTIONS:
        assert client.post(path, json={"reason": "looks fine"}, headers=viewer).status_code == 403
    with nights.connect() as conn:
        assert conn.execute(select(quarantine.c.released_at)).scalar_one() is None


def test_release_records_who_and_why_and_queues_a_rerun(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    client, _ = api
    url = f"/bookspot-review/api/days/{TENANT}/{HELD_DAY}/release"
    assert client.post(url, json={"reason": "   "}, headers=admin).status_code == 409
    done = client.post(url, json={"reason": "the euro sale was a test booking"}, headers=admin)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["released_records"] == 1 and body["released_by"] == "admin: the euro sale was a test booking"
    with nights.connect() as conn:
        released_by = conn.execute(select(quarantine.c.released_by)).scalar_one()
    assert "admin: the euro sale was a test booking" in released_by
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.run_id == body["run_id"])).one()
        assert run.conf == {"tenants": [TENANT], "day": str(HELD_DAY)}
        assert run.triggering_user_name == "admin" and run.state == "queued"
        audit = session.scalars(select(Log).where(Log.event == "bookspot_release_day")).all()
    assert audit and audit[-1].owner == "admin" and "test booking" in (audit[-1].extra or "")
    again = client.post(url, json={"reason": "twice"}, headers=admin)
    assert again.status_code == 409


def test_rerun_of_an_unknown_day_is_404(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    missing = dt.date(2026, 1, 2)
    assert (
        client.post(f"/bookspot-review/api/days/{TENANT}/{missing}/rerun", headers=admin).status_code == 404
    )


def test_a_corrected_days_page_shows_every_voucher_with_its_number_amounts_and_link(
    api, nights, admin, tripletex, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import json
    from decimal import Decimal
    from urllib.parse import urlsplit

    from bookspot_tripletex import pipeline
    from helpers import record, stage
    from tripletex_support import make_client

    company = tripletex.config.companies[0]
    client, _ = api
    (before,) = client.get(
        f"/bookspot-review/api/days?date_from={POSTED_DAY}&date_to={POSTED_DAY}", headers=admin
    ).json()
    first_sales = before["sales"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIPLETEX_FJORD_KAYAK",
        json.dumps({"conn_type": "tripletex", "host": tripletex.url, "login": "c", "password": "e"}),
    )
    with nights.connect() as conn:
        from bookspot_tripletex.tenants.store import load_tenant

        cfg = load_tenant(conn, TENANT)
    late = record("tx_late", "2026-11-24T19:00:00+01:00", [("activity", 119_050, "25")])
    late["updated_at"] = "2026-11-25T09:00:00+01:00"
    stage(nights, cfg, [late])
    loaded = pipeline.load_day(nights, TENANT, POSTED_DAY, make_client(tripletex), "review-test")
    (correction,) = loaded["corrections"]
    assert correction["outcome"] == "posted"

    vouchers = client.get(f"/bookspot-review/api/days/{TENANT}/{POSTED_DAY}/vouchers", headers=admin).json()
    first, second = vouchers["versions"]
    assert (first["version"], second["version"]) == (1, 2)
    assert second["tripletex_number"] == correction["tripletex_number"]
    assert second["changes"] == [{"id": "tx_late", "change": "added"}] and second["sales_change"] == "1190.50"
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(tripletex.url))
    link = f"{origin}/execute/voucherMenu?voucherId={second['tripletex_voucher_id']}&contextId={company.id}"
    assert second["tripletex_link"] == link
    from bookspot_tripletex.review.links import tripletex_voucher_url

    assert tripletex_voucher_url(TENANT, POSTED_DAY) == link  # the task's 'Tripletex' extra link
    assert tripletex_voucher_url(TENANT, HELD_DAY) == ""

    (listed,) = client.get(
        f"/bookspot-review/api/days?date_from={POSTED_DAY}&date_to={POSTED_DAY}", headers=admin
    ).json()
    assert (listed["version"], listed["tripletex_number"]) == (2, second["tripletex_number"])
    assert listed["sales"] == str(Decimal(first_sales) + Decimal("1190.50"))
    page = client.get(f"/bookspot-review/days/{TENANT}/{POSTED_DAY}", headers=admin).text
    assert 'id="versions"' in page and "24.11.2026" in page
    for version in (first, second):
        assert f">{version['tripletex_number']}</a>" in page
    assert f'href="{link.replace("&", "&amp;")}"' in page
    assert "1\u00a0190,50" in page and "-1\u00a0190,50" in page and "1190.50" not in page
    assert "added <bdi>tx_late</bdi>" in page and 'id="net"' in page
    assert page.count("<svg") == 1 and "?chart=false" in page
    embedded = client.get(f"/bookspot-review/reports/{TENANT}/{POSTED_DAY}?chart=false", headers=admin).text
    alone = client.get(f"/bookspot-review/reports/{TENANT}/{POSTED_DAY}", headers=admin).text
    assert "<svg" not in embedded and alone.count("<svg") == 1
    assert f"Tripletex voucher {second['tripletex_number']}" in embedded and "tx_late" in embedded
