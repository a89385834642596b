"""A posted day corrected through the real DAG (`dag.test()`), BookSpot's simulator over HTTP, the
Tripletex emulator: after the first night a record of the day arrives late, one is voided and one is
changed. The second night's outcome for the day is `corrected` with its count and net, the night's
summary counts it, the alert says so, and the stored report read back from staging lists the correction
with its Tripletex number and link, its amounts per account and VAT type, and the records behind it."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pendulum
import pytest
from sqlalchemy import Engine, select

from alerts_support import webhook_receiver
from bookspot_devkit.demo import organization_number
from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_devkit.simulator.generator import vat_of
from bookspot_devkit.simulator.server import SimulatorServer
from simulator_support import (
    bookspot_connection,
    fetch_all,
    later_version,
    new_token,
    oslo,
    put_records,
    set_clock,
    simulator,
    tenant_file,
    tripletex_connection,
)

pytestmark = pytest.mark.airflow

TENANT, COMPANY = "fjord-kayak", 4545
TOKEN = new_token()
DAY, NEXT_DAY = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
FIRST_NIGHT, SECOND_NIGHT = oslo(2026, 11, 25, 1), oslo(2026, 11, 26, 1)
SALES_CHANGE_ORE = 119_050
"""What the three changes add to the day's sales together: above 1,000 NOK, with øre."""
NBSP = "\u00a0"


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="module")
def tripletex() -> Iterator[EmulatorServer]:
    firm = CompanyConfig(
        id=COMPANY,
        name=f"{TENANT} AS",
        organization_number=organization_number(COMPANY),
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
        extra_accounts=[
            AccountSpec(number=1580, name="Stripe clearing"),
            AccountSpec(number=1581, name="Vipps clearing"),
            AccountSpec(number=1582, name="Dintero clearing"),
        ],
    )
    with EmulatorServer(EmulatorConfig(companies=[firm])) as server:
        yield server


@pytest.fixture
def bookspot() -> Iterator[SimulatorServer]:
    settings: dict[str, Any] = {"seed": 5, "date_from": DAY - dt.timedelta(days=1)}
    with simulator({TENANT: TOKEN}, date_to=NEXT_DAY, transactions_per_day=12, **settings) as server:
        yield server


@pytest.fixture
def alert_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    with webhook_receiver(monkeypatch) as server:
        yield server


@pytest.fixture
def staged_tenant(
    airflow_db: None,
    tripletex: EmulatorServer,
    bookspot: SimulatorServer,
    staging_url: str,
    example_tenant_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import setup_tenant

    tripletex.reset()
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    monkeypatch.delenv("BOOKSPOT_REPORTS_DIR", raising=False)
    engine = make_engine(staging_url)
    migrate(engine)
    path = tenant_file(example_tenant_file, tmp_path / f"{TENANT}.yaml", TENANT, COMPANY, start_date=DAY)
    cfg = setup_tenant(engine, path)
    bookspot_connection(monkeypatch, cfg.bookspot_conn_id, bookspot.url, TOKEN)
    tripletex_connection(monkeypatch, cfg.tripletex_conn_id, tripletex.url, tripletex.config.companies[0])
    yield engine
    engine.dispose()


def _night(monkeypatch: pytest.MonkeyPatch, bookspot: SimulatorServer, day: dt.date, now: dt.datetime) -> Any:
    from bookspot_tripletex import tasks
    from bookspot_tripletex_nightly import bookspot_tripletex_nightly

    monkeypatch.setattr(tasks, "utcnow", lambda: now.astimezone(dt.UTC))
    set_clock(bookspot, now)
    logical = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo")
    return bookspot_tripletex_nightly().test(logical_date=logical)


def _gross(record: dict[str, Any]) -> int:
    return sum(line["gross_minor"] for line in record["lines"])


def _changes(bookspot: SimulatorServer, at: dt.datetime) -> dict[str, dict[str, Any]]:
    """A changed, a voided and a late record of DAY; together they raise its sales by SALES_CHANGE_ORE."""
    payments = [
        r
        for r in fetch_all(bookspot, TENANT, TOKEN)
        if r["id"].startswith(f"tx_{DAY:%Y%m%d}") and r["kind"] == "payment" and r["status"] == "completed"
    ]
    changed, voided = payments[0], payments[1]
    changed_new = later_version(changed, at)
    late_gross = SALES_CHANGE_ORE - (_gross(changed_new) - _gross(changed)) + _gross(voided)
    line = {**changed["lines"][0], "quantity": 1, "gross_minor": late_gross, "vat_rate": "25"}
    line["vat_minor"] = vat_of(late_gross, "25")
    late = {
        **changed,
        "id": f"tx_{DAY:%Y%m%d}_late",
        "booking_id": None,
        "occurred_at": oslo(2026, 11, 24, 15).isoformat(),
        "updated_at": at.isoformat(),
        "amount_minor": late_gross,
        "payment_method": "stripe",
        "provider_fee_minor": 0,
        "gift_card_code": None,
        "lines": [line],
    }
    records = {"changed": changed_new, "voided": later_version(voided, at, status="voided"), "added": late}
    put_records(bookspot, TENANT, list(records.values()))
    return records


def _xcom(run_id: str, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.run_id == run_id, XComModel.task_id == "night.load", XComModel.key == key
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def test_a_corrected_day_is_told_as_corrected_with_its_vouchers_amounts_and_records(
    staged_tenant: Engine,
    tripletex: EmulatorServer,
    bookspot: SimulatorServer,
    alert_sink: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bookspot_tripletex.staging.schema import day_outcomes
    from bookspot_tripletex.validation.store import latest_report

    engine = staged_tenant
    assert _night(monkeypatch, bookspot, DAY, FIRST_NIGHT).state == "success"
    assert alert_sink.posts == []  # type: ignore[attr-defined]
    records = _changes(bookspot, oslo(2026, 11, 25, 10))

    run = _night(monkeypatch, bookspot, NEXT_DAY, SECOND_NIGHT)
    assert run.state == "success"

    with engine.connect() as conn:
        outcome = conn.execute(
            select(day_outcomes).where(
                day_outcomes.c.run_id == run.run_id,
                day_outcomes.c.tenant_id == TENANT,
                day_outcomes.c.local_date == DAY,
            )
        ).one()
        stored = latest_report(conn, TENANT, DAY)
    net_text = f"1{NBSP}190,50 NOK"
    assert (outcome.outcome, outcome.counts["corrections"], outcome.counts["net"]) == (
        "corrected",
        1,
        net_text,
    )
    summary = _xcom(run.run_id, "return_value")["summary"]
    assert "1 corrected" in summary and "1 correction voucher(s)" in summary
    ((alert,),) = [body["alerts"] for _, body in alert_sink.posts]  # type: ignore[attr-defined]
    assert alert["kind"] == "corrected" and alert["tenant"] == TENANT and alert["day"] == DAY.isoformat()
    assert alert["subject"].endswith("24.11.2026 corrected")
    assert (
        alert["reason"]
        == f"1 correction voucher(s) posted to Tripletex; the day's sales changed by {net_text}"
    )

    in_tripletex = tripletex.admin("GET", f"companies/{COMPANY}/vouchers")["values"]
    (held,) = [v for v in in_tripletex if v["externalVoucherNumber"].endswith(f"{DAY}:v2")]
    assert stored is not None and stored.run_id.endswith(":corrected")
    model = stored.model
    (correction,) = model["corrections"]
    assert correction["tripletex_voucher_id"] == held["id"]
    assert correction["tripletex_number"] == f"{held['number']}-{held['year']}"
    assert correction["date"] == DAY.isoformat() and not correction["moved"]
    ledger = {
        (int(p["account"]["number"]), int(p["vatType"]["number"])): f"{float(p['amountGross']):.2f}"
        for p in held["postings"]
        if p["row"] >= 1
    }
    assert {(p["account"], p["vat_type"]): p["amount"] for p in correction["postings"]} == ledger
    assert correction["changes"] == sorted(
        ({"id": r["id"], "change": change} for change, r in records.items()), key=lambda c: c["id"]
    )
    assert correction["sales_change"] == "1190.50"
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(tripletex.url))
    link = f"{origin}/execute/voucherMenu?voucherId={held['id']}&contextId={COMPANY}"
    assert correction["tripletex_link"] == link
    assert model["net"] and model["transactions"] > 0
    (line,) = [line for line in model["summary"] if line.startswith("Correction ")]
    assert line.startswith(
        f"Correction {held['externalVoucherNumber']} (Tripletex voucher {correction['tripletex_number']}), "
        f"dated 24.11.2026: sales 1{NBSP}190,50 NOK; records: "
    )
    for change, record in records.items():
        assert f"{change} {record['id']}" in line
    html = stored.html
    assert f"Tripletex voucher {correction['tripletex_number']}" in html
    assert f'href="{link.replace("&", "&amp;")}"' in html
    assert re.search(r"1\u00a0190,50", html) and "1190.50" not in html
