"""Two nights of the DAG (`dag.test()`) for two tenants whose BookSpot connections point at the simulator
over HTTP, posting into the Tripletex emulator, on SQLite and PostgreSQL staging. Between the nights a
posted day's record is changed and another voided: the posted vouchers stay as they were and the next
night posts one correction voucher for each changed day; nothing is posted twice."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy import Engine, select

from bookspot_devkit.demo import organization_number
from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_devkit.simulator.server import SimulatorServer
from bookspot_tripletex.staging.schema import pending_corrections, vouchers
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

COMPANIES = {"fjord-kayak": 4242, "tenant-001": 4343}
TOKENS = {tenant: new_token() for tenant in COMPANIES}
FIRST_DAY, SECOND_DAY = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
FIRST_NIGHT, SECOND_NIGHT = oslo(2026, 11, 25, 1), oslo(2026, 11, 26, 1)


def company(tenant: str) -> CompanyConfig:
    return CompanyConfig(
        id=COMPANIES[tenant],
        name=f"{tenant} AS",
        organization_number=organization_number(COMPANIES[tenant]),
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
        extra_accounts=[
            AccountSpec(number=1580, name="Stripe clearing"),
            AccountSpec(number=1581, name="Vipps clearing"),
            AccountSpec(number=1582, name="Dintero clearing"),
        ],
    )


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="module")
def tripletex() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(companies=[company(t) for t in COMPANIES])
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def bookspot() -> Iterator[SimulatorServer]:
    settings: dict[str, Any] = {"seed": 11, "date_from": FIRST_DAY - dt.timedelta(days=1)}
    with simulator(TOKENS, date_to=SECOND_DAY, transactions_per_day=20, **settings) as server:
        yield server


@pytest.fixture
def nights(
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
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    engine = make_engine(staging_url)
    migrate(engine)
    for tenant in COMPANIES:
        path = tenant_file(
            example_tenant_file, tmp_path / f"{tenant}.yaml", tenant, COMPANIES[tenant], start_date=FIRST_DAY
        )
        cfg = setup_tenant(engine, path)
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, bookspot.url, TOKENS[tenant])
        firm = next(c for c in tripletex.config.companies if c.id == COMPANIES[tenant])
        tripletex_connection(monkeypatch, cfg.tripletex_conn_id, tripletex.url, firm)
    yield engine
    engine.dispose()


def run_night(monkeypatch: pytest.MonkeyPatch, bookspot: SimulatorServer, day: dt.date, now: dt.datetime):  # type: ignore[no-untyped-def]
    """One nightly run for `day`, BookSpot's and the extract's clocks at `now`."""
    from bookspot_tripletex import tasks
    from bookspot_tripletex_nightly import bookspot_tripletex_nightly

    monkeypatch.setattr(tasks, "utcnow", lambda: now.astimezone(dt.UTC))
    set_clock(bookspot, now)
    logical = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo")
    return bookspot_tripletex_nightly().test(logical_date=logical)


def held_vouchers(tripletex: EmulatorServer, tenant: str) -> list[dict[str, Any]]:
    return tripletex.admin("GET", f"companies/{COMPANIES[tenant]}/vouchers")["values"]


def staged_vouchers(engine: Engine) -> dict[tuple[str, dt.date], Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(vouchers).where(vouchers.c.version == 1)).all()
    return {(row.tenant_id, row.local_date): row for row in rows}


def correction_vouchers(engine: Engine) -> dict[tuple[str, dt.date], Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(vouchers).where(vouchers.c.version > 1)).all()
    return {(row.tenant_id, row.local_date): row for row in rows}


def test_two_nights_two_tenants_late_changes_become_corrections_not_second_postings(
    nights: Engine, tripletex: EmulatorServer, bookspot: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = nights
    assert run_night(monkeypatch, bookspot, FIRST_DAY, FIRST_NIGHT).state == "success"
    first = staged_vouchers(engine)
    first_held = {tenant: held_vouchers(tripletex, tenant) for tenant in COMPANIES}
    for tenant in COMPANIES:
        row = first[(tenant, FIRST_DAY)]
        assert row.status == "posted", (tenant, row.error)
        assert [(v["id"], v["date"]) for v in first_held[tenant]] == [
            (row.tripletex_voucher_id, "2026-11-24")
        ]
    with engine.connect() as conn:
        from bookspot_tripletex.staging.watermark import get_watermark

        assert {t: get_watermark(conn, t) for t in COMPANIES} == dict.fromkeys(COMPANIES, FIRST_NIGHT)

    changed_at = oslo(2026, 11, 25, 10)
    prefix = f"tx_{FIRST_DAY:%Y%m%d}"
    fjord = next(
        r for r in fetch_all(bookspot, "fjord-kayak", TOKENS["fjord-kayak"])
        if r["id"].startswith(prefix) and r["kind"] == "payment"
    )  # fmt: skip
    other = next(
        r for r in fetch_all(bookspot, "tenant-001", TOKENS["tenant-001"])
        if r["id"].startswith(prefix) and r["kind"] == "payment"
    )  # fmt: skip
    put_records(bookspot, "fjord-kayak", [later_version(fjord, changed_at)])
    put_records(bookspot, "tenant-001", [later_version(other, changed_at, status="voided")])

    assert run_night(monkeypatch, bookspot, SECOND_DAY, SECOND_NIGHT).state == "success"
    with engine.connect() as conn:
        corrections = conn.execute(
            select(
                pending_corrections.c.tenant_id,
                pending_corrections.c.transaction_id,
                pending_corrections.c.local_date,
                pending_corrections.c.change,
            ).where(pending_corrections.c.resolved_at.is_not(None))
        ).all()
    assert sorted(tuple(c) for c in corrections) == [
        ("fjord-kayak", fjord["id"], FIRST_DAY, "update"),
        ("tenant-001", other["id"], FIRST_DAY, "void"),
    ]
    second = staged_vouchers(engine)
    for tenant in COMPANIES:
        before, after = first[(tenant, FIRST_DAY)], second[(tenant, FIRST_DAY)]
        assert (after.status, after.tripletex_voucher_id, after.postings) == (
            "posted", before.tripletex_voucher_id, before.postings,
        )  # fmt: skip
        assert second[(tenant, SECOND_DAY)].status == "posted"
        correction = correction_vouchers(engine)[(tenant, FIRST_DAY)]
        assert (correction.kind, correction.status, correction.version) == ("correction", "posted", 2)
        assert sum(p["amount_ore"] for p in correction.postings) == 0
        held = held_vouchers(tripletex, tenant)
        assert Counter(v["date"] for v in held) == {"2026-11-24": 2, "2026-11-25": 1}
        assert all(v in held for v in first_held[tenant])
        numbers = Counter(v["externalVoucherNumber"] for v in held)
        assert set(numbers.values()) == {1}
