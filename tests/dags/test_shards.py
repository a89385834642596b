"""Shards for real: `dag.test()` with BookSpot connections to the simulator and Tripletex connections to
the emulator over HTTP. One tenant failing never stops the others; a refused and a held day fail the shard
with their reason and what releases them; missed nights are posted by the next run; a re-run posts nothing
twice; a 365-day initial import takes one run; 1,100 tenants plan within Airflow's mapping limit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy import Engine, select

from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_devkit.simulator.server import SimulatorServer
from bookspot_tripletex.staging.schema import day_outcomes
from helpers import record
from simulator_support import (
    bookspot_connection,
    new_token,
    oslo,
    put_records,
    set_clock,
    simulator,
    tenant_file,
    tripletex_connection,
)

pytestmark = pytest.mark.airflow

COMPANIES = {"fjord-kayak": 4242, "tenant-001": 4343, "tenant-002": 4444}
TOKENS = {tenant: new_token() for tenant in COMPANIES}
START = dt.date(2026, 11, 20)


def company(tenant: str) -> CompanyConfig:
    return CompanyConfig(
        id=COMPANIES[tenant],
        name=f"{tenant} AS",
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
        extra_accounts=[AccountSpec(number=n, name=f"clearing {n}") for n in (1580, 1581, 1582)],
    )


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.models.pool import Pool
    from airflow.utils import db

    db.resetdb()
    Pool.create_or_update_pool("tripletex_api", slots=4, description="Tripletex API", include_deferred=False)


@pytest.fixture(scope="module")
def tripletex() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(companies=[company(t) for t in COMPANIES])) as server:
        yield server


@pytest.fixture
def bookspot() -> Iterator[SimulatorServer]:
    settings: dict[str, Any] = {"seed": 5, "date_from": START - dt.timedelta(days=1)}
    with simulator(TOKENS, date_to=dt.date(2026, 11, 24), transactions_per_day=8, **settings) as server:
        yield server


@pytest.fixture
def tenants(
    airflow_db: None,
    tripletex: EmulatorServer,
    bookspot: SimulatorServer,
    staging_url: str,
    example_tenant_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """Three tenants from START; tenant-002's Tripletex key is refused."""
    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import setup_tenant

    tripletex.reset()
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    engine = make_engine(staging_url)
    migrate(engine)
    for tenant in COMPANIES:
        path = tenant_file(
            example_tenant_file, tmp_path / f"{tenant}.yaml", tenant, COMPANIES[tenant], start_date=START
        )
        cfg = setup_tenant(engine, path)
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, bookspot.url, TOKENS[tenant])
        firm = next(c for c in tripletex.config.companies if c.id == COMPANIES[tenant])
        if tenant == "tenant-002":
            firm = dataclasses.replace(firm, employee_token="e-wrong")
        tripletex_connection(monkeypatch, cfg.tripletex_conn_id, tripletex.url, firm)
    yield engine
    engine.dispose()


def run_night(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, day: dt.date, now: dt.datetime, retry_at_once: bool = False, **conf: Any
):
    """The night of `day` through `dag.test()`; `retry_at_once`: a retried task runs again within a second."""
    from bookspot_tripletex import tasks
    from bookspot_tripletex_nightly import bookspot_tripletex_nightly

    monkeypatch.setattr(tasks, "utcnow", lambda: now.astimezone(dt.UTC))
    logical = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo")
    dag = bookspot_tripletex_nightly()
    if retry_at_once:
        for task in dag.tasks:
            task.retry_delay, task.retry_exponential_backoff = dt.timedelta(0), False
    return dag.test(logical_date=logical, run_conf={"shard_size": 10, **conf})


def posted_dates(tripletex: EmulatorServer, tenant: str) -> Counter[str]:
    return Counter(
        v["date"] for v in tripletex.admin("GET", f"companies/{COMPANIES[tenant]}/vouchers")["values"]
    )


STEPS = ("extract", "journal", "validate", "load", "reconcile")


def step_instances(run, map_index: int = 0):  # type: ignore[no-untyped-def]
    """The shard's step tasks, by step."""
    found = {
        ti.task_id.removeprefix("night."): ti
        for ti in run.get_task_instances()
        if ti.task_id.startswith("night.") and ti.map_index == map_index
    }
    assert set(found) == set(STEPS)
    return found


def xcoms(run_id: str, key: str) -> dict[str, Any]:
    """The run's XComs under `key`, by task id (step tasks of shard 0)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(XComModel.run_id == run_id, XComModel.key == key)
        ).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows if row.map_index in (0, -1)}


def outcomes(engine: Engine, run_id: str) -> dict[tuple[str, str], Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(day_outcomes).where(day_outcomes.c.run_id == run_id)).all()
    return {(r.tenant_id, r.local_date.isoformat()): r for r in rows}


def test_missed_nights_a_refused_and_a_held_tenant(
    tenants: Engine, tripletex: EmulatorServer, bookspot: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = tenants
    first_night = oslo(2026, 11, 22, 1)
    set_clock(bookspot, first_night)
    first = run_night(monkeypatch, dt.date(2026, 11, 21), first_night)
    assert first.state == "failed"
    steps = step_instances(first)
    assert (steps["load"].state, steps["load"].try_number) == ("failed", 1), "a refusal must not be retried"
    assert {s: ti.state for s, ti in steps.items()} == {**dict.fromkeys(STEPS, "success"), "load": "failed"}
    assert {ti.rendered_map_index for ti in steps.values()} == {
        "shard 0: fjord-kayak, tenant-001, tenant-002"
    }
    for tenant in ("fjord-kayak", "tenant-001"):
        assert posted_dates(tripletex, tenant) == {"2026-11-20": 1, "2026-11-21": 1}
    assert posted_dates(tripletex, "tenant-002") == {}
    refused = outcomes(engine, first.run_id)[("tenant-002", "2026-11-20")]
    assert (refused.outcome, refused.step) == ("refused", "activate")
    assert (
        "The API key does not work" in refused.reason
        and "activation-check --tenant tenant-002" in refused.action
    )

    bad = record("tx_bad", "2026-11-23T12:00:00+01:00", account_id="tenant-001")
    bad["currency"] = "EUR"
    put_records(bookspot, "tenant-001", [bad])
    night = oslo(2026, 11, 25, 1)
    set_clock(bookspot, night)
    second = run_night(monkeypatch, dt.date(2026, 11, 24), night)
    assert second.state == "failed"
    assert posted_dates(tripletex, "fjord-kayak") == dict.fromkeys(
        ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"], 1
    )
    assert posted_dates(tripletex, "tenant-001") == dict.fromkeys(
        ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-24"], 1
    )
    rows = outcomes(engine, second.run_id)
    held = rows[("tenant-001", "2026-11-23")]
    assert (held.outcome, held.step) == ("held", "validate")
    assert "1 quarantined record(s)" in held.reason
    assert "release-day --tenant tenant-001 --date 2026-11-23" in held.action
    assert {k for k, r in rows.items() if r.outcome == "posted"} >= {("fjord-kayak", "2026-11-22")}
    steps = step_instances(second)
    assert (steps["validate"].state, steps["load"].state, steps["reconcile"].state) == (
        "failed",
        "failed",
        "success",
    )
    held_days = xcoms(second.run_id, "held_days")
    assert held_days["night.validate"] == [{"tenant": "tenant-001", "date": "2026-11-23", "outcome": "held"}]
    assert {d["tenant"] for d in held_days["night.load"]} == {"tenant-002"}

    before = {t: posted_dates(tripletex, t) for t in COMPANIES}
    again = run_night(monkeypatch, dt.date(2026, 11, 24), night)
    assert again.state == "failed"
    assert {t: posted_dates(tripletex, t) for t in COMPANIES} == before
    assert all(r.tenant_id != "fjord-kayak" for r in outcomes(engine, again.run_id).values())


def test_a_night_alerts_each_held_refused_and_failed_day_once_with_its_own_reason(
    tenants: Engine,
    bookspot: SimulatorServer,
    staging_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tenant-001 holds a record in euros, tenant-002's key is refused, fjord-kayak's feed is gone: the
    run's failure callback POSTs one alert per tenant-day to a local webhook, each with its own reason."""
    from alerts_support import received_alerts, webhook_receiver

    monkeypatch.setenv("BOOKSPOT_TASK_RETRIES", "0")
    bad = record("tx_eur", "2026-11-21T12:00:00+01:00", account_id="tenant-001")
    bad["currency"] = "EUR"
    put_records(bookspot, "tenant-001", [bad])
    bookspot_connection(
        monkeypatch,
        "bookspot_fjord_kayak",
        bookspot.url,
        TOKENS["fjord-kayak"],
        feed_file=str(tmp_path / "gone"),
    )
    night = oslo(2026, 11, 22, 1)
    set_clock(bookspot, night)
    with webhook_receiver(monkeypatch) as hook:
        run = run_night(monkeypatch, dt.date(2026, 11, 21), night)
    assert run.state == "failed"
    rows = outcomes(tenants, run.run_id)
    problems = {k: r for k, r in rows.items() if r.outcome in ("held", "refused", "error")}
    assert {r.outcome for r in problems.values()} == {"held", "refused", "error"}
    assert {(r.tenant_id, r.outcome) for r in problems.values()} == {
        ("fjord-kayak", "error"),
        ("tenant-001", "held"),
        ("tenant-002", "refused"),
    }
    assert rows[("tenant-001", "2026-11-20")].outcome == "posted"
    sent = received_alerts(hook)
    assert sorted((a["tenant"], a["day"]) for a in sent) == sorted(problems), "one alert per problem day"
    kinds = {a["tenant"]: a["kind"] for a in sent}
    assert kinds == {"fjord-kayak": "failed", "tenant-001": "held", "tenant-002": "activation"}
    by_tenant = {a["tenant"]: a for a in sent if a["day"] == "2026-11-21"}
    assert "gone" in by_tenant["fjord-kayak"]["reason"]
    assert "quarantined" in by_tenant["tenant-001"]["reason"]
    assert "The API key does not work" in by_tenant["tenant-002"]["reason"]
    assert "release-day --tenant tenant-001 --date 2026-11-21" in by_tenant["tenant-001"]["action"]
    for tenant, one in by_tenant.items():
        others = set(COMPANIES) - {tenant}
        assert not any(o in one["reason"] for o in others), one["reason"]
        assert "\n" not in one["reason"] and len(one["reason"]) <= 500
    for one in sent:
        assert (
            one["link"] == f"https://airflow.example.test/bookspot-review/days/{one['tenant']}/{one['day']}"
        )


def test_a_load_retry_posts_the_day_without_extracting_again(
    tenants: Engine, tripletex: EmulatorServer, bookspot: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tripletex answers the night's first posting with 503: the load task is retried, for that day only;
    the extract ran once (one BookSpot request per tenant, one try of its task)."""
    from simulator_support import stats

    monkeypatch.setenv("BOOKSPOT_TASK_RETRIES", "2")
    night = oslo(2026, 11, 21, 1)
    set_clock(bookspot, night)
    bookspot.simulation.reset_stats()
    once = {"action": "error", "method": "POST", "path": "/ledger/voucher", "status": 503, "times": 1}
    tripletex.admin("POST", "faults", {"rules": [once]})
    try:
        run = run_night(
            monkeypatch,
            dt.date(2026, 11, 20),
            night,
            retry_at_once=True,
            tenants=["fjord-kayak", "tenant-001"],
        )
    finally:
        tripletex.admin("DELETE", "faults")
    assert run.state == "success"
    steps = step_instances(run)
    assert {s: (ti.state, ti.try_number) for s, ti in steps.items()} == {
        **dict.fromkeys(STEPS, ("success", 1)),
        "load": ("success", 2),
    }
    assert stats(bookspot) == {"200": 2}, "the extract ran once per tenant"
    for tenant in ("fjord-kayak", "tenant-001"):
        assert posted_dates(tripletex, tenant) == {"2026-11-20": 1}
    rows = outcomes(tenants, run.run_id)
    assert {k: r.outcome for k, r in rows.items()} == {
        ("fjord-kayak", "2026-11-20"): "posted",
        ("tenant-001", "2026-11-20"): "posted",
    }
    loaded = xcoms(run.run_id, "return_value")["night.load"]
    assert loaded["tenant_days"] == 1, "the retry took only the day that failed"
    assert loaded["cpu_s"] > 0
    assert xcoms(run.run_id, "return_value")["night.extract"]["tenant_days"] == 2

    from bookspot_tripletex.review.links import ReviewLink, TripletexLink

    day_page = "/bookspot-review/days/fjord-kayak/2026-11-20"
    assert ReviewLink().get_link(None, ti_key=steps["load"].key).endswith(day_page)
    voucher = TripletexLink().get_link(None, ti_key=steps["load"].key)
    assert voucher.startswith(tripletex.url.rstrip("/").rsplit("/v2", 1)[0]) and "voucherId=" in voucher
    assert TripletexLink().get_link(None, ti_key=steps["extract"].key) == "", "no voucher link on extract"
    assert "tenant=tenant-001" in ReviewLink().get_link(None, ti_key=steps["extract"].key)


def test_a_held_day_fails_its_validate_step_while_the_other_tenant_is_posted(
    tenants: Engine, tripletex: EmulatorServer, bookspot: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKSPOT_TASK_RETRIES", "2")
    bad = record("tx_eur", "2026-11-20T12:00:00+01:00", account_id="tenant-001")
    bad["currency"] = "EUR"
    put_records(bookspot, "tenant-001", [bad])
    night = oslo(2026, 11, 22, 1)
    set_clock(bookspot, night)
    run = run_night(monkeypatch, dt.date(2026, 11, 21), night, tenants=["fjord-kayak", "tenant-001"])
    assert run.state == "failed", "a day that needs a person fails the run"
    steps = step_instances(run)
    assert (steps["validate"].state, steps["validate"].try_number) == ("failed", 1), "held: no retries"
    assert {s: ti.state for s, ti in steps.items() if s != "validate"} == dict.fromkeys(
        ("extract", "journal", "load", "reconcile"), "success"
    )
    (finish,) = [ti for ti in run.get_task_instances() if ti.task_id == "finish"]
    assert finish.state == "failed"
    assert posted_dates(tripletex, "fjord-kayak") == {"2026-11-20": 1, "2026-11-21": 1}
    assert posted_dates(tripletex, "tenant-001") == {"2026-11-21": 1}
    held = outcomes(tenants, run.run_id)[("tenant-001", "2026-11-20")]
    assert (held.outcome, held.step) == ("held", "validate")
    assert xcoms(run.run_id, "held_days")["night.validate"] == [
        {"tenant": "tenant-001", "date": "2026-11-20", "outcome": "held"}
    ]
    assert xcoms(run.run_id, "return_value")["night.load"]["tenant_days"] == 3
    assert xcoms(run.run_id, "tenant_days")["night.load"] == [
        ["fjord-kayak", "2026-11-20"],
        ["fjord-kayak", "2026-11-21"],
        ["tenant-001", "2026-11-21"],
    ]


def test_a_365_day_initial_import_takes_one_run(
    airflow_db: None, tripletex: EmulatorServer, staging_url: str, example_tenant_file: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import setup_tenant

    tripletex.reset()
    first_day, last_day = dt.date(2025, 11, 25), dt.date(2026, 11, 24)
    every = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    assert len(every) == 365
    days = [d for d in every if d.day == 1 or d in (first_day, last_day)]
    feed = tmp_path / "year.jsonl"
    feed.write_text(
        "".join(json.dumps(record(f"tx_{d:%Y%m%d}", f"{d}T12:00:00+01:00", account_id="year-tenant")) + "\n"
                for d in days)
    )  # fmt: skip
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    engine = make_engine(staging_url)
    migrate(engine)
    firm = tripletex.config.companies[0]
    path = tenant_file(
        example_tenant_file, tmp_path / "year.yaml", "year-tenant", firm.id, start_date=first_day
    )
    path.write_text(path.read_text().replace("valid_from: 2026-01-01", f"valid_from: {first_day}"))
    cfg = setup_tenant(engine, path)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}",
        json.dumps({"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}),
    )
    tripletex_connection(monkeypatch, cfg.tripletex_conn_id, tripletex.url, firm)
    run = run_night(monkeypatch, last_day, oslo(2026, 11, 25, 1))
    assert run.state == "success"
    posted = Counter(v["date"] for v in tripletex.admin("GET", f"companies/{firm.id}/vouchers")["values"])
    assert posted == {d.isoformat(): 1 for d in days}
    recorded = Counter(o.outcome for o in outcomes(engine, run.run_id).values())
    assert recorded == {"posted": len(days), "empty": 365 - len(days)}
    engine.dispose()


def test_1100_tenants_plan_within_the_mapping_limit(
    airflow_db: None, staging_engine: Engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex import tasks
    from bookspot_tripletex.staging.schema import tenants as tenant_rows

    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "tenant_id": f"tenant-{i:04d}", "name": f"T{i}", "timezone": "Europe/Oslo", "currency": "NOK",
            "start_date": START, "active": True, "tripletex_conn_id": "t", "bookspot_conn_id": "b",
            "vat_tolerance_ore": 100, "updated_at": now,
        }
        for i in range(1100)
    ]  # fmt: skip
    with staging_engine.begin() as conn:
        conn.execute(tenant_rows.insert(), rows)
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_engine.url.render_as_string(hide_password=False))
    planned = tasks.plan([], 1)
    assert len(planned) <= tasks.max_shards() == 1024
    assert sorted(t for shard in planned for t in shard["tenants"]) == [r["tenant_id"] for r in rows]
    assert len(tasks.plan([], 25)) == 44
