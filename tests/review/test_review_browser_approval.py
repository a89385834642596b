"""Approval of a new tenant's first day in a real browser (Debian's Chromium through Playwright) against
`airflow standalone`: a real run leaves the day `awaiting_approval`; the approver logs in, finds it
among the review screen's days to look at, reads why it waits, approves it; the run the approval queues
posts it, once. Screenshots go to the test's output folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bookspot_devkit.emulator.server import EmulatorServer
from simulator_support import tenant_file
from standalone_support import DAG_ID, RUN_S, STARTUP_S, Standalone, chromium, standalone_env
from tripletex_support import COMPANY_ID, vouchers_in

pytestmark = [pytest.mark.airflow, pytest.mark.browser]

TENANT, DAY = "fjord-kayak", "2026-11-24"


@pytest.fixture(scope="module")
def airflow(
    tmp_path_factory: pytest.TempPathFactory,
    tripletex: EmulatorServer,
    example_tenant_file: Path,
    example_feed: Path,
) -> Iterator[Standalone]:
    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import setup_tenant

    chromium()
    home = tmp_path_factory.mktemp("standalone-approval")
    staging = f"sqlite:///{home / 'staging.db'}"
    tripletex.reset()
    engine = make_engine(staging)
    migrate(engine)
    gated = tenant_file(
        example_tenant_file,
        home / "fjord-kayak.yaml",
        TENANT,
        COMPANY_ID,
        start_date=DAY,
        approval_days=3,
        approval_new_mapping=True,
    )
    setup_tenant(engine, gated)
    engine.dispose()
    env = standalone_env(home, tripletex, example_feed, staging)
    server = Standalone(home, env)
    try:
        server.wait_until(
            lambda: requests.get(f"{server.url}/api/v2/monitor/health", timeout=5).ok,
            STARTUP_S,
            "the API server",
        )
        token = server.token()
        headers = {"Authorization": f"Bearer {token}"}
        server.wait_until(
            lambda: requests.get(f"{server.url}/api/v2/dags/{DAG_ID}", headers=headers, timeout=5).ok,
            STARTUP_S,
            "the DAG to be parsed",
        )
        pool = requests.post(
            f"{server.url}/api/v2/pools",
            json={"name": "tripletex_api", "slots": 4, "description": "Tripletex API work (shard tasks)"},
            headers=headers,
            timeout=30,
        )
        assert pool.status_code in (201, 409), pool.text
        yield server
    finally:
        server.stop()


def _wait_for_run(airflow: Standalone, run_id: str) -> str:
    headers = {"Authorization": f"Bearer {airflow.token()}"}
    run_url = f"{airflow.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"
    return str(
        airflow.wait_until(
            lambda: (
                (s := requests.get(run_url, headers=headers, timeout=10).json()["state"])
                in ("success", "failed")
                and s
            ),
            RUN_S,
            f"run {run_id}",
        )
    )


def test_the_approver_finds_approves_and_the_day_is_posted_once(
    airflow: Standalone, tripletex: EmulatorServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    headers = {"Authorization": f"Bearer {airflow.token()}"}
    started = requests.post(
        f"{airflow.url}/api/v2/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"tenants": [TENANT], "day": DAY}},
        headers=headers,
        timeout=30,
    )
    assert started.status_code in (200, 201), started.text
    assert _wait_for_run(airflow, started.json()["dag_run_id"]) == "success"
    assert vouchers_in(tripletex) == [], "the new tenant's first day waits"

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium()), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{airflow.url}/bookspot-review/?problems=true")
        page.get_by_role("link", name="Log in to Airflow").click()
        page.locator("input[type=password]").wait_for()
        page.locator("input:not([type=password])").first.fill("admin")
        page.locator("input[type=password]").fill(airflow.password())
        page.locator("input[type=password]").press("Enter")
        page.wait_for_url(f"{airflow.url}/bookspot-review/**", timeout=30_000)

        waiting = page.locator(f'tr[data-day="{DAY}"][data-status="awaiting_approval"]')
        expect(waiting).to_be_visible()
        page.screenshot(path=shots / "01-awaiting-approval.png", full_page=True)
        waiting.locator("a").first.click()
        expect(page.locator("#status")).to_have_text("AWAITING_APPROVAL")
        expect(page.locator("#approval + p")).to_contain_text("first 3 posting days")
        expect(page.frame_locator("iframe#report").locator("h1")).to_contain_text("AWAITING")
        page.screenshot(path=shots / "02-the-day.png", full_page=True)

        page.locator("#decision-reason").fill("checked against the till report")
        page.locator("#approve").click()
        expect(page.locator("#message")).to_contain_text("Approved as admin", timeout=30_000)
        message = page.locator("#message").inner_text()
        run_id = message.split("Queued run ", 1)[1].split(";", 1)[0]
        page.screenshot(path=shots / "03-approved.png")
        assert _wait_for_run(airflow, run_id) == "success"
        page.reload()
        expect(page.locator("#status")).to_have_text("POSTED")
        expect(page.locator("#approvals")).to_contain_text("checked against the till report")
        page.screenshot(path=shots / "04-posted.png", full_page=True)
        browser.close()
    posted = vouchers_in(tripletex)
    assert [v["externalVoucherNumber"] for v in posted] == [f"bookspot:{TENANT}:{DAY}:v1"]
    print(f"approval browser test: screenshots in {shots}")
