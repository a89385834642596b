"""First nights approved, for real: the nightly DAG (`dag.test()`) with two tenants in one shard, JSON
Lines feeds and Tripletex connections to the emulator over HTTP, alerts to a local webhook, decisions
through the review screen on Airflow's API server (admin may decide, viewer may not).

A new tenant's first day waits (`awaiting_approval`, alerted, report ready) while the other tenant of
its shard is posted; waiting longer than the tenant's limit alerts again; approving posts it once;
rejecting holds it with the reason; every decision is in the `approvals` table and Airflow's audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy import Engine, select

from alerts_support import received_alerts, webhook_receiver
from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.staging.schema import approvals, day_outcomes, vouchers
from helpers import record
from simulator_support import oslo, tenant_file, tripletex_connection

pytestmark = pytest.mark.airflow

NEW, OTHER = "fjord-kayak", "tenant-001"
COMPANIES = {NEW: 5151, OTHER: 5252}
FIRST, SECOND = dt.date(2026, 11, 24), dt.date(2026, 11, 25)


def company(tenant: str) -> CompanyConfig:
    return CompanyConfig(
        id=COMPANIES[tenant],
        name=f"{tenant} AS",
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
        extra_accounts=[AccountSpec(number=n, name=f"clearing {n}") for n in (1580, 1581, 1582)],
    )


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    with webhook_receiver(monkeypatch) as server:
        yield server


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(companies=[company(t) for t in COMPANIES], today=dt.date(2026, 11, 26))
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def shard(
    api: tuple[object, Path],
    emulator: EmulatorServer,
    staging_url: str,
    example_tenant_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """Two tenants from FIRST: NEW keeps the default gate (3 first days, alert again after 24 h), OTHER
    opts out as the example tenant file does; one sale each on FIRST and SECOND."""
    from airflow.models.pool import Pool

    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import setup_tenant

    Pool.create_or_update_pool("tripletex_api", slots=4, description="Tripletex API", include_deferred=False)
    emulator.reset()
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    engine = make_engine(staging_url)
    migrate(engine)
    for tenant in COMPANIES:
        gate = {"approval_days": 3, "approval_new_mapping": True} if tenant == NEW else {}
        path = tenant_file(
            example_tenant_file,
            tmp_path / f"{tenant}.yaml",
            tenant,
            COMPANIES[tenant],
            start_date=FIRST,
            **gate,
        )
        cfg = setup_tenant(engine, path)
        feed = tmp_path / f"{tenant}.jsonl"
        sales = [
            record(
                f"{tenant}-{day}", f"{day}T10:00:00+01:00", [("activity", 119000, "25")], account_id=tenant
            )
            for day in (FIRST, SECOND)
        ]
        feed.write_text("".join(json.dumps(s) + "\n" for s in sales), encoding="utf-8")
        conn = {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}", json.dumps(conn))
        firm = next(c for c in emulator.config.companies if c.id == COMPANIES[tenant])
        tripletex_connection(monkeypatch, cfg.tripletex_conn_id, emulator.url, firm)
    yield engine
    engine.dispose()


def run_night(monkeypatch: pytest.MonkeyPatch, night: dt.date, now: dt.datetime, **conf: Any):  # type: ignore[no-untyped-def]
    from bookspot_tripletex import tasks
    from bookspot_tripletex_nightly import bookspot_tripletex_nightly

    monkeypatch.setattr(tasks, "utcnow", lambda: now.astimezone(dt.UTC))
    logical = pendulum.datetime(night.year, night.month, night.day, tz="Europe/Oslo")
    return bookspot_tripletex_nightly().test(logical_date=logical, run_conf={"shard_size": 10, **conf})


def posted(emulator: EmulatorServer, tenant: str) -> Counter[str]:
    found = emulator.admin("GET", f"companies/{COMPANIES[tenant]}/vouchers")["values"]
    return Counter(v["date"] for v in found if v["number"])


def outcome(engine: Engine, run_id: str, tenant: str, day: dt.date) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(day_outcomes).where(
                day_outcomes.c.run_id == run_id,
                day_outcomes.c.tenant_id == tenant,
                day_outcomes.c.local_date == day,
            )
        ).one()


def status(engine: Engine, tenant: str, day: dt.date) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(vouchers.c.status, vouchers.c.error).where(
                vouchers.c.tenant_id == tenant, vouchers.c.local_date == day, vouchers.c.version == 1
            )
        ).one()
    return row.status, row.error


def requests(engine: Engine, day: dt.date) -> list[Any]:
    with engine.connect() as conn:
        query = select(approvals).where(approvals.c.tenant_id == NEW, approvals.c.local_date == day)
        return list(conn.execute(query.order_by(approvals.c.id)).all())


def test_a_new_tenants_first_day_waits_is_approved_and_posted_once(
    api, shard: Engine, emulator: EmulatorServer, webhook, admin, viewer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    from bookspot_tripletex.validation.store import latest_report

    client, _ = api
    night = run_night(monkeypatch, FIRST, oslo(2026, 11, 25, 1))
    assert night.state == "success", "a day waiting for approval fails neither its shard nor its run"
    assert posted(emulator, OTHER) == {str(FIRST): 1}, "the other tenant of the shard is posted that night"
    assert posted(emulator, NEW) == {}
    assert status(shard, NEW, FIRST)[0] == "awaiting_approval"
    waiting = outcome(shard, night.run_id, NEW, FIRST)
    assert (waiting.outcome, waiting.step) == ("awaiting_approval", "approve")
    assert "first 3 posting days (day 1 of 3)" in waiting.reason and "review screen" in waiting.action
    with shard.connect() as conn:
        report = latest_report(conn, NEW, FIRST)
    assert report is not None and report.model["status"] == "awaiting_approval"
    assert report.model["summary"][0].startswith("Awaiting approval")
    assert report.model["voucher"]["sum"] is not None and report.model["validation"]["success"]
    (alert,) = received_alerts(webhook)
    assert (alert["kind"], alert["tenant"], alert["day"]) == ("approval", NEW, str(FIRST))
    assert alert["link"].endswith(f"/bookspot-review/days/{NEW}/{FIRST}")

    listed = client.get("/bookspot-review/api/approvals", headers=viewer).json()
    assert [(a["tenant"], a["date"], a["status"]) for a in listed] == [(NEW, str(FIRST), "awaiting")]
    page = client.get(f"/bookspot-review/days/{NEW}/{FIRST}", headers=admin).text
    assert 'id="approve"' in page and "first 3 posting days" in page
    seen_by_viewer = client.get(f"/bookspot-review/days/{NEW}/{FIRST}", headers=viewer).text
    assert "Waiting for a person" in seen_by_viewer and 'id="approve"' not in seen_by_viewer
    url = f"/bookspot-review/api/days/{NEW}/{FIRST}"
    assert client.post(f"{url}/approve", json={}, headers=viewer).status_code == 403
    assert client.post(f"{url}/reject", json={"reason": "no"}, headers=viewer).status_code == 403
    assert [r.status for r in requests(shard, FIRST)] == ["awaiting"]

    late = run_night(monkeypatch, FIRST, oslo(2026, 11, 26, 2), tenants=[NEW], day=str(FIRST))
    assert late.state == "success" and posted(emulator, NEW) == {}
    assert [a["kind"] for a in received_alerts(webhook)] == ["approval", "approval_overdue"]
    assert "waiting" not in received_alerts(webhook)[0]["reason"]
    assert requests(shard, FIRST)[0].alerts == 2

    done = client.post(f"{url}/approve", json={"reason": "checked against the till"}, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["decided_by"] == "admin" and done.json()["run_id"]
    (decided,) = requests(shard, FIRST)
    assert (decided.status, decided.decided_by, decided.decision_reason) == (
        "approved",
        "admin",
        "checked against the till",
    )
    assert decided.decided_at is not None
    with create_session() as session:
        audit = session.scalars(select(Log).where(Log.event == "bookspot_approve_day")).all()
    assert audit and audit[-1].owner == "admin" and "checked against the till" in (audit[-1].extra or "")
    assert client.post(f"{url}/approve", json={}, headers=admin).status_code == 409

    rerun = run_night(monkeypatch, FIRST, oslo(2026, 11, 26, 3), tenants=[NEW], day=str(FIRST))
    assert rerun.state == "success"
    assert outcome(shard, rerun.run_id, NEW, FIRST).outcome == "posted"
    assert posted(emulator, NEW) == {str(FIRST): 1}
    again = run_night(monkeypatch, FIRST, oslo(2026, 11, 26, 4), tenants=[NEW], day=str(FIRST))
    assert again.state == "success" and posted(emulator, NEW) == {str(FIRST): 1}
    assert status(shard, NEW, FIRST)[0] == "posted"
    assert len(received_alerts(webhook)) == 2, "an approved day alerts no more"


def test_a_rejected_day_is_held_with_its_reason(
    api, shard: Engine, emulator: EmulatorServer, webhook, admin, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    first = run_night(monkeypatch, SECOND, oslo(2026, 11, 26, 1))
    assert first.state == "success"
    assert posted(emulator, OTHER) == {str(FIRST): 1, str(SECOND): 1}
    assert status(shard, NEW, FIRST)[0] == status(shard, NEW, SECOND)[0] == "awaiting_approval"
    assert "day 2 of 3" in outcome(shard, first.run_id, NEW, SECOND).reason

    url = f"/bookspot-review/api/days/{NEW}/{SECOND}"
    assert client.post(f"{url}/reject", json={"reason": "  "}, headers=admin).status_code == 422
    done = client.post(f"{url}/reject", json={"reason": "the till shows less"}, headers=admin)
    assert done.status_code == 200, done.text
    assert status(shard, NEW, SECOND) == ("held", "rejected by admin: the till shows less")
    (decided,) = requests(shard, SECOND)
    assert (decided.status, decided.decided_by, decided.decision_reason) == (
        "rejected",
        "admin",
        "the till shows less",
    )
    page = client.get(f"/bookspot-review/days/{NEW}/{SECOND}", headers=admin).text
    assert "Rejected by <bdi>admin</bdi>" in page and "the till shows less" in page

    held = run_night(monkeypatch, SECOND, oslo(2026, 11, 26, 2), tenants=[NEW], day=str(SECOND))
    assert held.state == "failed", "a rejected day is held: its shard fails, naming it"
    row = outcome(shard, held.run_id, NEW, SECOND)
    assert (row.outcome, row.step) == ("held", "approve")
    assert row.reason == "rejected by admin: the till shows less"
    assert status(shard, NEW, SECOND)[0] == "held" and posted(emulator, NEW) == {}
