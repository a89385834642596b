"""The review screen's guard on Airflow's API server: cross-site actions refused (a logged-in browser's
cookie alone is not enough), every route's parameters fuzzed into 4xx (never a 5xx), the security
headers, audit entries only for actions that happened, and feed text isolated from the page direction."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from bookspot_tripletex.review.guard import ACTION_HEADER, CSP
from bookspot_tripletex.staging.schema import quarantine, tenants
from review_support import HELD_DAY, POSTED_DAY, TENANT

pytestmark = pytest.mark.airflow

PREFIX = "/bookspot-review"
RERUN = f"{PREFIX}/api/days/{TENANT}/{HELD_DAY}/rerun"
RELEASE = f"{PREFIX}/api/days/{TENANT}/{HELD_DAY}/release"
ORIGIN = "http://127.0.0.1"


def _runs() -> list[Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return [r.run_id for r in session.scalars(select(DagRun)).all()]


def _audit(event: str) -> list[Any]:
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    with create_session() as session:
        return [(e.owner, e.extra) for e in session.scalars(select(Log).where(Log.event == event)).all()]


@pytest.fixture
def cookie(api, admin) -> Any:  # type: ignore[no-untyped-def]
    """The admin's browser session: the UI's `_token` cookie, no Authorization header."""
    client, _ = api
    client.cookies.set("_token", admin["Authorization"].removeprefix("Bearer "))
    yield client
    client.cookies.clear()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", ACTION_HEADER: "1"},
        {"Referer": "https://evil.example/form.html", ACTION_HEADER: "1"},
        {"Origin": "http://127.0.0.1.evil.example", ACTION_HEADER: "1"},
        {"Origin": "null", ACTION_HEADER: "1"},
        {"Sec-Fetch-Site": "cross-site", ACTION_HEADER: "1"},
        {"Origin": ORIGIN},
        {},
    ],
    ids=["origin", "referer", "lookalike", "null-origin", "sec-fetch", "no-header", "bare-form"],
)
def test_a_cross_site_action_with_the_admins_cookie_changes_nothing(
    api, nights, cookie, headers: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    before, audited = _runs(), _audit("bookspot_rerun_day") + _audit("bookspot_release_day")
    form = {"content": b"reason=forged", "headers": {"Content-Type": "text/plain", **headers}}
    assert cookie.post(RERUN, **form).status_code == 403
    refused = cookie.post(RELEASE, json={"reason": "forged"}, headers=headers)
    assert refused.status_code == 403
    assert _runs() == before
    assert _audit("bookspot_rerun_day") + _audit("bookspot_release_day") == audited
    with nights.connect() as conn:
        assert conn.execute(select(quarantine.c.released_at)).scalar_one() is None


def test_the_review_screens_own_request_is_accepted(api, nights, cookie) -> None:  # type: ignore[no-untyped-def]
    audited = _audit("bookspot_rerun_day")
    done = cookie.post(RERUN, headers={"Origin": ORIGIN, ACTION_HEADER: "1"})
    assert done.status_code == 200, done.text
    assert done.json()["run_id"] in _runs()
    ((owner, extra),) = _audit("bookspot_rerun_day")[len(audited) :]
    assert owner == "admin" and json.loads(extra)["tenant"] == TENANT


def test_refused_or_malformed_actions_leave_no_audit_entry(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    audited = _audit("bookspot_release_day"), _audit("bookspot_rerun_day")
    assert client.post(RELEASE, json={"reason": "   "}, headers=admin).status_code == 409
    assert client.post(RELEASE, json={"why": "no reason field"}, headers=admin).status_code == 422
    assert client.post(RELEASE, content=b"reason=x", headers=admin).status_code == 422
    missing = f"{PREFIX}/api/days/{TENANT}/2026-01-02/rerun"
    assert client.post(missing, headers=admin).status_code == 404
    assert (_audit("bookspot_release_day"), _audit("bookspot_rerun_day")) == audited
    assert client.post(RELEASE, json={"reason": "a test booking", "rerun": False}, headers=admin).is_success
    ((owner, extra),) = _audit("bookspot_release_day")[len(audited[0]) :]
    assert owner == "admin" and json.loads(extra)["reason"] == "a test booking"


@pytest.mark.parametrize(
    "path",
    [
        f"{PREFIX}/tenants/{TENANT}/mappings?old=999&new=1",
        f"{PREFIX}/tenants/{TENANT}/mappings?old=-1&new=1",
        f"{PREFIX}/tenants/{TENANT}/mappings?old=99999999999999999999&new=1",
        f"{PREFIX}/api/tenants/{TENANT}/mappings/diff?old=99999999999999999999&new=1",
        f"{PREFIX}/reports/{TENANT}/{HELD_DAY}?version=9223372036854775808",
        f"{PREFIX}/api/reports/{TENANT}/{HELD_DAY}?version=9223372036854775808",
        f"{PREFIX}/tenants/{TENANT}/chart.svg?end=0001-01-01",
    ],
)
def test_the_inputs_that_gave_500_give_4xx(api, nights, admin, path: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    answer = client.get(path, headers=admin)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])


def test_every_answer_carries_the_security_headers(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    for path, who in [
        (f"{PREFIX}/", admin),
        (f"{PREFIX}/days/{TENANT}/{HELD_DAY}", admin),
        (f"{PREFIX}/reports/{TENANT}/{POSTED_DAY}", admin),
        (f"{PREFIX}/tenants/{TENANT}/chart.svg", admin),
        (f"{PREFIX}/api/days", admin),
        (f"{PREFIX}/api/days?date_from=0001-01-01", admin),
        (f"{PREFIX}/", {}),
    ]:
        answer = client.get(path, headers=who)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    assert "frame-ancestors 'self'" in CSP


BIDI_NAME = "Fjord \u202eKayak AS"


def test_feed_and_people_text_is_isolated_from_the_page_direction(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    """A name stored before files were checked, and a quarantine reason, may hold bidi controls."""
    client, _ = api
    with nights.begin() as conn:
        conn.execute(update(tenants).values(name=BIDI_NAME))
        conn.execute(update(quarantine).values(reason="tx_eur: \u202ecurrency must be NOK"))
    day = client.get(f"{PREFIX}/days/{TENANT}/{HELD_DAY}", headers=admin).text
    assert f"<h1><bdi>{BIDI_NAME}</bdi>: {HELD_DAY:%d.%m.%Y}" in day
    assert (
        '<td class="reason">tx_eur: \u202ecurrency' in day
        and "td,th" in day
        and "unicode-bidi:isolate" in day
    )
    listing = client.get(f"{PREFIX}/", headers=admin).text
    assert f"<bdi>{BIDI_NAME}</bdi>" in listing
    report = client.get(f"{PREFIX}/reports/{TENANT}/{HELD_DAY}", headers=admin).text
    assert "<h1><bdi>" in report and f"</bdi>: sales of {HELD_DAY:%d.%m.%Y}" in report
    assert "unicode-bidi:isolate" in report


RAW = "raw:"
"""Sent as written: bytes that are not UTF-8 (a lone surrogate, 0xFF)."""
HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "2147483648",
    "99999999999999999999",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "NaN",
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "3000-01-01",
    "2026-02-30",
    "2026-11-25T00:00:00",
    "\x00",
    "nul\x00byte",
    "a" * 300,
    "..",
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    RAW + "%ED%A0%80",
    RAW + "%FF%FE",
    "💥",
    f"{TENANT}\n",
]
BODIES: dict[str, list[Any]] = {
    "release": [
        None,
        [],
        "text",
        {"reason": "\x00"},
        {"reason": "x" * 501},
        {"reason": 5},
        {"reason": "ok", "rerun": "maybe"},
    ],
    "preview": [
        None,
        {"tenant_file": "[]", "days": [str(HELD_DAY)]},
        {"tenant_file": "123", "days": [str(HELD_DAY)]},
        {"tenant_file": "a: [", "days": [str(HELD_DAY)]},
        {"tenant_file": "\x00", "days": [str(HELD_DAY)]},
        {"tenant_file": "tenant: x", "days": ["0001-01-01"]},
        {"tenant_file": "tenant: x", "days": []},
        {"tenant_file": "tenant: x", "days": [str(HELD_DAY)] * 40},
    ],
}


def _routes() -> list[tuple[str, str, list[str], list[str]]]:
    from fastapi.dependencies.utils import get_flat_dependant
    from fastapi.routing import APIRoute

    from bookspot_tripletex.review.app import create_app

    out = []
    for route in create_app().routes:
        if isinstance(route, APIRoute):
            flat = get_flat_dependant(route.dependant)
            query = sorted({q.name for q in flat.query_params})
            for method in sorted(route.methods):
                out.append((method, route.path, [p.name for p in flat.path_params], query))
    return out


def _valid(name: str, versions: list[int]) -> str:
    return {
        "tenant": TENANT,
        "day": str(HELD_DAY),
        "end": str(HELD_DAY),
        "as_of": str(HELD_DAY),
        "date_from": str(POSTED_DAY),
        "date_to": str(HELD_DAY),
        "version": "1",
        "old": str(versions[0]),
        "new": str(versions[-1]),
        "weeks": "6",
        "problems": "true",
        "chart": "false",
    }[name]


def _quoted(value: str) -> str:
    return value.removeprefix(RAW) if value.startswith(RAW) else quote(value, safe="")


def _url(path: str, path_values: dict[str, str], query: dict[str, str]) -> str:
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", _quoted(value))
    tail = "&".join(f"{quote(k)}={_quoted(v)}" for k, v in query.items())
    return PREFIX + path + (f"?{tail}" if tail else "")


def test_fuzzing_every_review_route_finds_no_5xx(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.journal.mapping_preview import versions_in_use

    client, _ = api
    with nights.connect() as conn:
        versions = [v.id for v in versions_in_use(conn, TENANT)]
    headers = {**admin, ACTION_HEADER: "1"}
    routes = _routes()
    assert len(routes) >= 12 and {m for m, *_ in routes} == {"GET", "POST"}
    failures: list[str] = []
    sent = 0

    def send(method: str, url: str, body: Any = None) -> None:
        nonlocal sent
        sent += 1
        try:
            if method == "GET":
                answer = client.get(url, headers=headers)
            elif body is None or isinstance(body, str):
                answer = client.post(url, content=(body or "").encode(), headers=headers)
            else:
                answer = client.post(url, json=body, headers=headers)
        except Exception as exc:  # noqa: BLE001 (an unhandled error in the app is the finding)
            failures.append(f"{method} {url!r}: raised {type(exc).__name__}: {exc}")
            return
        if answer.status_code >= 500:
            failures.append(f"{method} {url!r}: {answer.status_code} {answer.text[:200]}")

    for method, path, path_params, query_params in routes:
        base_path = {p: _valid(p, versions) for p in path_params}
        base_query = {q: _valid(q, versions) for q in query_params if q != "tenant"}
        body = {"reason": "fuzz"} if path.endswith("/release") else None
        if path.endswith("/preview"):
            body = {"tenant_file": "tenant: x", "days": [str(HELD_DAY)]}
        for name in [*path_params, *query_params]:
            for value in HOSTILE:
                in_path = {**base_path, name: value} if name in path_params else base_path
                query = {**base_query, name: value} if name in query_params else base_query
                send(method, _url(path, in_path, query), body)
        for bad in BODIES["release" if path.endswith("/release") else "preview"] if method == "POST" else []:
            if path.endswith(("/release", "/preview")):
                send(method, _url(path, base_path, base_query), bad)
    assert sent > 500
    assert failures == [], "\n".join(failures[:20])


def test_a_day_outside_the_range_is_a_422_naming_the_range(api, nights, admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    answer = client.get(f"{PREFIX}/days/{TENANT}/{dt.date(1, 1, 1)}", headers=admin)
    assert answer.status_code == 422 and "1900-01-01" in answer.text
    bad_tenant = client.get(f"{PREFIX}/api/days?tenant=%00", headers=admin)
    assert bad_tenant.status_code == 422 and "tenant" in bad_tenant.text
