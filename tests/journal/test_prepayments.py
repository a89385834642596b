"""Revenue on delivery in the day journal: deferral on the payment day, release on the service date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.tenants.config import TenantConfig, parse_tenant
from bookspot_tripletex.tenants.store import import_tenant
from helpers import stage
from prepaid_support import (
    PAYDAY_A,
    PAYDAY_C,
    PAYDAY_D,
    SERVICE_EVENING,
    SERVICE_LUNCH,
    SERVICE_TRIP,
    booking,
    season,
    tenant_data,
)

TENANT = "fjord-kayak"


@pytest.fixture
def example(example_tenant_file: Path) -> dict[str, Any]:
    return yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))


def _tenant(engine, example: dict[str, Any], on: bool = True, deferral: bool = True) -> TenantConfig:  # type: ignore[no-untyped-def]
    data = tenant_data(example, TENANT, example["tripletex_company_id"], example["organization_number"], on)
    if not deferral:
        for version in data["mappings"]:
            version["accounts"].pop("revenue_deferral")
    cfg = parse_tenant(data)
    with engine.begin() as conn:
        import_tenant(conn, cfg)
    return cfg


def _stage_all(engine, cfg: TenantConfig, until: dt.date) -> None:  # type: ignore[no-untyped-def]
    for night, records in sorted(season(TENANT).items()):
        if night <= until and records:
            stage(engine, cfg, records)


def _voucher(engine, cfg: TenantConfig, day: dt.date) -> dict[tuple[int, int], int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        journal = build_day(conn, cfg, day)
    assert journal.status in ("ready", "empty"), journal.missing_account_types
    postings = journal.voucher.postings if journal.voucher else ()
    return {(p.account, p.vat_type): p.amount_ore for p in postings}


def test_the_payment_day_defers_the_net_and_keeps_the_vat(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    off = _tenant(staging_engine, example, on=False)
    _stage_all(staging_engine, off, PAYDAY_A)
    plain = _voucher(staging_engine, off, PAYDAY_A)
    assert plain == {(1580, 0): 126_055, (7770, 0): 1_845, (3000, 3): -102_900, (3001, 31): -25_000}
    on = _tenant(staging_engine, example)
    deferred = _voucher(staging_engine, on, PAYDAY_A)
    # trip 1 000.00 - VAT 200.00, lunch 250.00 - VAT 32.61: 1 017.39 waits on 2965 until July
    assert deferred == {**plain, (3090, 0): 101_739, (2965, 0): -101_739}
    with staging_engine.connect() as conn:
        journal = build_day(conn, on, PAYDAY_A)
    assert journal.voucher is not None
    described = {p.account: p.description for p in journal.voucher.postings}
    assert described[2965] == "BookSpot customer prepayments, prepaid revenue deferred"
    entries = {line.entry for line in journal.lines}
    assert entries == {"sale", "settlement", "fee", "fee_settlement", "deferral"}


def test_the_service_date_releases_under_the_payment_days_mapping(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    cfg = _tenant(staging_engine, example)
    _stage_all(staging_engine, cfg, PAYDAY_D)
    # C (paid 2026-04-02, accounts 2965/3090) and D (paid 2026-06-05, after the change: 2960/3095)
    assert _voucher(staging_engine, cfg, SERVICE_EVENING) == {
        (2965, 0): 47_600,
        (3090, 0): -47_600,
        (2960, 0): 47_600,
        (3095, 0): -47_600,
    }
    assert _voucher(staging_engine, cfg, PAYDAY_D) == {
        (1920, 0): 59_500,
        (3000, 3): -59_500,
        (3095, 0): 47_600,
        (2960, 0): -47_600,
    }
    with staging_engine.connect() as conn:
        journal = build_day(conn, cfg, SERVICE_EVENING)
    assert journal.status == "ready" and journal.transactions == 0
    # the lunch's release and its refund's cancel; the trip was rebooked to 2026-07-18
    assert _voucher(staging_engine, cfg, SERVICE_LUNCH) == {}
    assert _voucher(staging_engine, cfg, SERVICE_TRIP) == {(2965, 0): 80_000, (3090, 0): -80_000}


def test_a_void_before_the_service_date_leaves_nothing_to_release(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    cfg = _tenant(staging_engine, example)
    _stage_all(staging_engine, cfg, dt.date(2026, 12, 31))
    assert _voucher(staging_engine, cfg, PAYDAY_C) == {}
    assert _voucher(staging_engine, cfg, SERVICE_EVENING) == {(2960, 0): 47_600, (3095, 0): -47_600}


def test_without_revenue_deferral_the_sales_account_takes_both_legs(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    cfg = _tenant(staging_engine, example, deferral=False)
    _stage_all(staging_engine, cfg, PAYDAY_A)
    assert _voucher(staging_engine, cfg, PAYDAY_A) == {
        (1580, 0): 126_055,
        (7770, 0): 1_845,
        (3000, 3): -102_900,
        (3001, 31): -25_000,
        (3000, 0): 80_000,
        (3001, 0): 21_739,
        (2965, 0): -101_739,
    }


def test_lines_delivered_on_or_before_payment_and_gift_cards_post_as_today(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    cfg = _tenant(staging_engine, example)
    day = dt.date(2026, 3, 1)
    lines = [
        ("p_now", "activity", 10_000, "25", day),
        ("p_past", "rental", 20_000, "25", day - dt.timedelta(days=3)),
        ("p_none", "extra", 5_000, "25", None),
        ("p_card", "gift_card", 50_000, "0", day + dt.timedelta(days=30)),
    ]
    stage(staging_engine, cfg, [booking("tx_now", "2026-03-01T10:00:00+01:00", lines, TENANT)])
    assert _voucher(staging_engine, cfg, day) == {(1920, 0): 85_000, (3000, 3): -35_000, (2900, 0): -50_000}
    assert _voucher(staging_engine, cfg, day + dt.timedelta(days=30)) == {}


def test_days_paid_before_the_option_are_not_moved(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    data = tenant_data(example, TENANT, example["tripletex_company_id"], example["organization_number"], True)
    data["mappings"][0]["revenue_on_delivery"] = False
    cfg = parse_tenant(data)
    with staging_engine.begin() as conn:
        import_tenant(conn, cfg)
    _stage_all(staging_engine, cfg, PAYDAY_D)
    assert (3090, 0) not in _voucher(staging_engine, cfg, PAYDAY_C)
    # C was paid under the version without the option: only D (paid under the one with it) is released
    assert _voucher(staging_engine, cfg, SERVICE_EVENING) == {(2960, 0): 47_600, (3095, 0): -47_600}


def test_the_days_report_lists_what_was_deferred_and_delivered(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.validation.report import build_report, render_html, render_pdf

    cfg = _tenant(staging_engine, example)
    _stage_all(staging_engine, cfg, dt.date(2026, 12, 31))
    with staging_engine.connect() as conn:
        paid, delivered = build_day(conn, cfg, PAYDAY_A), build_day(conn, cfg, SERVICE_TRIP)
    report = build_report(cfg, paid, None)
    leg = {"leg": "deferred", "vat_type": 0, "lines": 1}
    assert report["prepayments"] == [
        {**leg, "account": 2965, "account_type": "customer_prepayments", "sale_vat_type": 3}
        | {"sale_vat_rate": "25 %", "amount": "-800.00"},
        {**leg, "account": 2965, "account_type": "customer_prepayments", "sale_vat_type": 31}
        | {"sale_vat_rate": "15 %", "amount": "-217.39"},
        {**leg, "account": 3090, "account_type": "revenue_deferral", "sale_vat_type": 3}
        | {"sale_vat_rate": "25 %", "amount": "800.00"},
        {**leg, "account": 3090, "account_type": "revenue_deferral", "sale_vat_type": 31}
        | {"sale_vat_rate": "15 %", "amount": "217.39"},
    ]
    assert "Revenue on delivery: prepaid revenue deferred on this day (listed below)." in report["summary"]
    released = build_report(cfg, delivered, None)
    assert [(r["leg"], r["account"], r["amount"]) for r in released["prepayments"]] == [
        ("delivered", 2965, "800.00"),
        ("delivered", 3090, "-800.00"),
    ]
    html = render_html(released)
    assert "<h2>Revenue on delivery</h2>" in html and "customer_prepayments" in html
    assert render_pdf(released).startswith(b"%PDF")
    assert build_report(cfg, _paid_without_option(staging_engine, example), None)["prepayments"] == []


def _paid_without_option(engine, example):  # type: ignore[no-untyped-def]
    cfg = _tenant(engine, example, on=False)
    with engine.connect() as conn:
        return build_day(conn, cfg, PAYDAY_A)


def test_a_refund_on_or_after_the_service_date_posts_as_today(staging_engine, example) -> None:  # type: ignore[no-untyped-def]
    cfg = _tenant(staging_engine, example)
    _stage_all(staging_engine, cfg, PAYDAY_D)
    evening = ("p_evening", "activity", 59_500, "25", SERVICE_EVENING)
    for day, at in (
        (SERVICE_EVENING, "2026-06-12T20:00:00+02:00"),
        (dt.date(2026, 6, 15), "2026-06-15T09:00:00+02:00"),
    ):
        stage(staging_engine, cfg, [booking(f"tx_R{day.day}", at, [evening], TENANT, kind="refund")])
    refund = {(1920, 0): -59_500, (3000, 3): 59_500}
    assert _voucher(staging_engine, cfg, dt.date(2026, 6, 15)) == refund
    released = {(2965, 0): 47_600, (3090, 0): -47_600, (2960, 0): 47_600, (3095, 0): -47_600}
    assert _voucher(staging_engine, cfg, SERVICE_EVENING) == {**released, **refund}
