"""The review screen in a real browser (Debian's Chromium, headless, driven by Playwright) against
`airflow standalone` with the plugin, on 127.0.0.1 and free ports: log in through Airflow's form, see a
posted and a held night, read the held day's reason in its report, release it, watch the re-run post
it, follow the 'Review' link from a task; a page of another site (http://localhost:…) cannot act with the
logged-in admin's session. Screenshots go to the test's output folder."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from bookspot_devkit.emulator.server import EmulatorServer
from review_support import HELD_DAY, POSTED_DAY, TENANT, seed_two_nights, write_feed
from standalone_support import DAG_ID, RUN_S, STARTUP_S, Standalone, chromium, standalone_env

pytestmark = [pytest.mark.airflow, pytest.mark.browser]


@pytest.fixture(scope="module")
def airflow(
    tmp_path_factory: pytest.TempPathFactory,
    tripletex: EmulatorServer,
    example_tenant_file: Path,
    example_feed: Path,
) -> Iterator[Standalone]:
    from bookspot_tripletex.staging.db import make_engine, migrate

    chromium()
    home = tmp_path_factory.mktemp("standalone")
    staging = f"sqlite:///{home / 'staging.db'}"
    feed = write_feed(example_feed, home / "feed.jsonl")
    tripletex.reset()
    engine = make_engine(staging)
    migrate(engine)
    seed_two_nights(engine, example_tenant_file, feed, tripletex, home / "reports")
    correct_posted_day(engine, tripletex)
    engine.dispose()
    env = standalone_env(home, tripletex, feed, staging)
    server = Standalone(home, env)
    try:
        server.wait_until(
            lambda: requests.get(f"{server.url}/api/v2/monitor/health", timeout=5).ok,
            STARTUP_S,
            "the API server",
        )
        token = server.token()
        server.wait_until(
            lambda: (
                requests.get(
                    f"{server.url}/api/v2/dags/{DAG_ID}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=5,
                ).ok
            ),
            STARTUP_S,
            "the DAG to be parsed",
        )
        pool = requests.post(
            f"{server.url}/api/v2/pools",
            json={"name": "tripletex_api", "slots": 4, "description": "Tripletex API work (shard tasks)"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert pool.status_code in (201, 409), pool.text
        yield server
    finally:
        server.stop()


def correct_posted_day(engine: Any, tripletex: EmulatorServer) -> None:
    """A sale of 1 190,50 NOK arrives late for the posted day: its correction voucher is posted."""
    from bookspot_tripletex import pipeline
    from bookspot_tripletex.tenants.store import load_tenant
    from helpers import record, stage
    from tripletex_support import make_client

    with engine.connect() as conn:
        cfg = load_tenant(conn, TENANT)
    late = record("tx_late", f"{POSTED_DAY}T19:00:00+01:00", [("activity", 119_050, "25")])
    late["updated_at"] = f"{HELD_DAY}T09:00:00+01:00"
    stage(engine, cfg, [late])
    loaded = pipeline.load_day(engine, TENANT, POSTED_DAY, make_client(tripletex), "seed-correction")
    assert [c["outcome"] for c in loaded["corrections"]] == ["posted"]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def test_the_pages_and_their_api_refuse_a_client_not_logged_in(airflow: Standalone) -> None:
    for path in (
        "/bookspot-review/",
        "/bookspot-review/api/days",
        f"/bookspot-review/reports/{TENANT}/{HELD_DAY}",
        f"/bookspot-review/api/reports/{TENANT}/{HELD_DAY}",
        "/api/v2/dags",
    ):
        assert requests.get(airflow.url + path, timeout=10).status_code in (401, 403), path
    refused = requests.post(
        f"{airflow.url}/bookspot-review/api/days/{TENANT}/{HELD_DAY}/release",
        json={"reason": "x"},
        timeout=10,
    )
    assert refused.status_code in (401, 403)


def _log_in(page: Any, airflow: Standalone) -> None:
    page.goto(f"{airflow.url}/auth/login")
    page.locator("input[type=password]").wait_for()
    page.locator("input:not([type=password])").first.fill("admin")
    page.locator("input[type=password]").fill(airflow.password())
    page.locator("input[type=password]").press("Enter")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)


def _other_site(target: str) -> tuple[ThreadingHTTPServer, str]:
    """Another site's pages (served on localhost, not 127.0.0.1): a form that posts itself to `target`,
    and a script that POSTs to it with the review screen's header."""
    pages = {
        "/form.html": f'''<form id="f" method="post" action="{target}" enctype="text/plain">
<input name="reason" value="forged"></form><script>document.getElementById("f").submit()</script>''',
        "/fetch.html": f'''<p id="out">waiting</p><script>
fetch("{target}", {{method: "POST", credentials: "include", headers: {{"X-BookSpot-Review": "1"}}}})
  .then(r => document.getElementById("out").textContent = "answered " + r.status)
  .catch(e => document.getElementById("out").textContent = "blocked");
</script>''',
    }

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}"


def test_a_page_of_another_site_cannot_act_with_the_admins_session(airflow: Standalone, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    headers = {"Authorization": f"Bearer {airflow.token()}"}
    runs_url = f"{airflow.url}/api/v2/dags/{DAG_ID}/dagRuns"
    audit_url = f"{airflow.url}/api/v2/eventLogs"

    def runs() -> int:
        return int(requests.get(runs_url, headers=headers, timeout=10).json()["total_entries"])

    def audited() -> int:
        answer = requests.get(audit_url, params={"event": "bookspot_rerun_day"}, headers=headers, timeout=10)
        return int(answer.json()["total_entries"])

    before = (runs(), audited())
    target = f"{airflow.url}/bookspot-review/api/days/{TENANT}/{HELD_DAY}/rerun"
    server, other = _other_site(target)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium()), args=["--no-sandbox"])
            page = browser.new_page()
            _log_in(page, airflow)
            with page.expect_response(target) as answer:
                page.goto(f"{other}/form.html")
            forged = answer.value
            page.screenshot(path=shots / "00-cross-site-form.png")
            assert forged.status == 403, (forged.status, forged.text())
            assert "cross-site request refused" in forged.text()
            page.goto(f"{other}/fetch.html")
            expect(page.locator("#out")).not_to_have_text("waiting", timeout=15_000)
            assert page.locator("#out").inner_text() in ("blocked", "answered 403")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (runs(), audited()) == before


def test_review_release_and_rerun_in_the_browser(airflow: Standalone, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium()), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{airflow.url}/bookspot-review/")
        expect(page.get_by_text("Log in first")).to_be_visible()
        page.screenshot(path=shots / "01-not-logged-in.png")
        page.get_by_role("link", name="Log in to Airflow").click()
        page.locator("input[type=password]").wait_for()
        page.locator("input:not([type=password])").first.fill("admin")
        page.locator("input[type=password]").fill(airflow.password())
        page.screenshot(path=shots / "02-login-form.png")
        page.locator("input[type=password]").press("Enter")
        page.wait_for_url(f"{airflow.url}/bookspot-review/**", timeout=30_000)

        rows = page.locator("#days tbody tr")
        expect(page.locator(f'tr[data-day="{POSTED_DAY}"][data-status="posted"]')).to_be_visible()
        expect(page.locator(f'tr[data-day="{HELD_DAY}"][data-status="held"]')).to_be_visible()
        assert rows.count() == 2
        page.screenshot(path=shots / "03-nights.png", full_page=True)

        page.locator(f'tr[data-day="{POSTED_DAY}"] a').first.click()
        versions = page.locator("#versions tbody tr[data-version]")
        expect(versions).to_have_count(2)
        expect(versions.nth(1).locator("td.tripletex a")).to_have_attribute(
            "href", re.compile(r"/execute/voucherMenu\?voucherId=\d+&contextId=\d+$")
        )
        expect(versions.nth(1)).to_contain_text("1\u00a0190,50")
        expect(versions.nth(1)).to_contain_text("added tx_late")
        expect(page.locator("svg")).to_have_count(1)
        expect(page.frame_locator("iframe#report").locator("svg")).to_have_count(0)
        page.screenshot(path=shots / "03b-corrected-day.png", full_page=True)

        page.goto(f"{airflow.url}/plugin/bookspot-review")
        frame = page.frame_locator("iframe").first
        expect(frame.locator(f'tr[data-day="{HELD_DAY}"]')).to_be_visible(timeout=30_000)
        page.screenshot(path=shots / "04-inside-airflow.png")

        page.goto(f"{airflow.url}/bookspot-review/?problems=true")
        page.locator(f'tr[data-day="{HELD_DAY}"] a').first.click()
        expect(page.locator("td.reason")).to_contain_text("currency")
        report = page.frame_locator("iframe#report")
        expect(report.locator("h1")).to_contain_text("HELD")
        expect(report.get_by_text("tx_eur").first).to_be_visible()
        page.screenshot(path=shots / "05-held-day.png", full_page=True)

        page.locator("#reason").fill("the euro sale was a test booking, confirmed with the tenant")
        page.locator("#release").click()
        expect(page.locator("#message")).to_contain_text("Queued run", timeout=30_000)
        message = page.locator("#message").inner_text()
        run_id = message.split("Queued run ", 1)[1].split(";", 1)[0]
        page.screenshot(path=shots / "06-released.png")

        headers = {"Authorization": f"Bearer {airflow.token()}"}
        run_url = f"{airflow.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"
        state = airflow.wait_until(
            lambda: (
                (s := requests.get(run_url, headers=headers, timeout=10).json()["state"])
                in ("success", "failed")
                and s
            ),
            RUN_S,
            f"run {run_id}",
        )
        assert state == "success", requests.get(f"{run_url}/taskInstances", headers=headers, timeout=10).text
        page.reload()
        expect(page.locator("#status")).to_have_text("POSTED")
        expect(page.frame_locator("iframe#report").locator("h1")).to_contain_text("POSTED")
        page.screenshot(path=shots / "07-posted-after-rerun.png", full_page=True)

        links = requests.get(
            f"{run_url}/taskInstances/night.load/links",
            params={"map_index": 0},
            headers=headers,
            timeout=10,
        ).json()["extra_links"]
        assert links["Review"] == f"/bookspot-review/days/{TENANT}/{HELD_DAY}"
        posted = requests.get(
            f"{airflow.url}/bookspot-review/api/days/{TENANT}/{HELD_DAY}/vouchers",
            headers=headers,
            timeout=10,
        ).json()["versions"]
        assert (
            links["Tripletex"] == posted[0]["tripletex_link"]
            and "/execute/voucherMenu?" in links["Tripletex"]
        )
        page.goto(f"{airflow.url}/dags/{DAG_ID}/runs/{run_id}/tasks/night.load/mapped/0")
        page.get_by_role("link", name="Details", exact=True).click()
        link = page.get_by_role("link", name="Review", exact=True)
        try:
            expect(link).to_be_visible(timeout=30_000)
        finally:
            page.screenshot(path=shots / "08-task-with-review-link.png")
        link.click()
        page.wait_for_url(f"{airflow.url}/bookspot-review/days/{TENANT}/{HELD_DAY}")
        expect(page.locator("#status")).to_have_text("POSTED")
        page.screenshot(path=shots / "09-from-the-task.png")
        browser.close()
    print(f"browser test: {time.monotonic() - started:.1f}s in the browser; screenshots in {shots}")
