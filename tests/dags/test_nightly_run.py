"""The nightly DAG for real: `dag.test()` with staging on SQLite and PostgreSQL, real HTTP to the
Tripletex emulator, the tenant's connections from Airflow; run twice, one voucher at the end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pendulum
import pytest

from bookspot_devkit.emulator.server import EmulatorServer
from helpers import worked_example_table
from tripletex_support import vouchers_in

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture
def night(
    airflow_db: None,
    tripletex: EmulatorServer,
    staging_url: str,
    example_tenant_file: Path,
    example_feed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import setup_tenant

    tripletex.reset()
    company = tripletex.config.companies[0]
    connections = {
        "tripletex_fjord_kayak": {
            "conn_type": "tripletex",
            "host": tripletex.url,
            "password": company.employee_token,
            "extra": {"consumer_token": company.consumer_token, "company_id": 0},
        },
        "bookspot_fjord_kayak": {"conn_type": "bookspot", "extra": {"feed_file": str(example_feed)}},
    }
    for conn_id, conn in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    engine = make_engine(staging_url)
    migrate(engine)
    setup_tenant(engine, example_tenant_file)
    yield engine, tmp_path / "reports"
    engine.dispose()


def _run(logical: dt.datetime, conf: dict | None = None):  # type: ignore[no-untyped-def]
    from bookspot_tripletex_nightly import bookspot_tripletex_nightly

    dag = bookspot_tripletex_nightly()
    return dag.test(logical_date=logical, run_conf={"day": logical.date().isoformat(), **(conf or {})})


def test_a_night_posts_the_worked_example_once(night, tripletex: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.load.state import get_voucher

    engine, reports = night
    logical = pendulum.datetime(2026, 11, 24, tz="Europe/Oslo")
    first = _run(logical)
    assert first.state == "success"
    second = _run(logical)
    assert second.state == "success"

    held = vouchers_in(tripletex)
    assert len(held) == 1
    posted = {
        (int(p["account"]["number"]), int(p["vatType"]["number"])): p["amountGross"]
        for p in held[0]["postings"]
        if p["row"] >= 1
    }
    from decimal import Decimal

    assert {k: Decimal(str(v)) for k, v in posted.items()} == worked_example_table()
    with engine.connect() as conn:
        row = get_voucher(conn, "fjord-kayak", dt.date(2026, 11, 24))
    assert row.status == "posted" and row.tripletex_voucher_id == held[0]["id"]
    report = Path(row.report_path)
    assert report.is_file() and report.is_relative_to(reports)
    assert report.with_suffix(".json").is_file()


def test_dry_run_posts_nothing(night, tripletex: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.load.state import get_voucher

    engine, _ = night
    run = _run(pendulum.datetime(2026, 11, 24, tz="Europe/Oslo"), {"dry_run": True})
    assert run.state == "success"
    assert vouchers_in(tripletex) == []
    with engine.connect() as conn:
        assert get_voucher(conn, "fjord-kayak", dt.date(2026, 11, 24)).status == "ready"
