"""The range check warns (never holds) when a day is far from the tenant's recent weeks; the chart."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from history_helpers import DAY, ORDINARY_GROSS, at_noon, stage_day, staged_history

from bookspot_tripletex import pipeline
from bookspot_tripletex.load.state import get_voucher, save_journal
from bookspot_tripletex.validation.chart import tenant_chart_svg
from bookspot_tripletex.validation.history import MIN_REFERENCE_DAYS, range_warnings, recent_days
from bookspot_tripletex.validation.store import latest_report, stored_journal
from helpers import record, stage


def night(engine, tenant: str, day: dt.date = DAY) -> dict:
    pipeline.journal_day(engine, tenant, day)
    return pipeline.validate_day(engine, tenant, day)


def test_a_day_far_above_the_range_warns_without_holding(staging_engine, example_tenant_file) -> None:
    cfg = staged_history(staging_engine, example_tenant_file)
    stage_day(staging_engine, cfg, ORDINARY_GROSS * 10, count=3)
    result = night(staging_engine, cfg.tenant)
    assert result["status"] == "ready" and result["success"] is True
    assert result["warnings"] == ["sales_in_range", "vat_in_range"]
    with staging_engine.connect() as conn:
        row = get_voucher(conn, cfg.tenant, DAY)
        stored = latest_report(conn, cfg.tenant, DAY)
    assert row.status == "ready" and row.validation["warnings"] == ["sales_in_range", "vat_in_range"]
    assert row.validation["success"] is True and row.validation["failed"] == []
    warning = stored.model["warnings"][0]
    assert warning["check"] == "sales_in_range" and warning["observed"] == "17850.00"
    assert "far above" in warning["message"] and "42 days with sales" in warning["message"]
    assert "Warning (does not hold the day): Sales of 17\u00a0850,00 NOK are far above" in stored.html


def test_a_day_far_below_the_range_warns(staging_engine, example_tenant_file) -> None:
    cfg = staged_history(staging_engine, example_tenant_file)
    stage_day(staging_engine, cfg, 5000)
    result = night(staging_engine, cfg.tenant)
    assert result["status"] == "ready" and result["warnings"] == ["sales_in_range", "vat_in_range"]


def test_an_ordinary_day_gives_no_warning(staging_engine, example_tenant_file) -> None:
    cfg = staged_history(staging_engine, example_tenant_file)
    stage_day(staging_engine, cfg, ORDINARY_GROSS * 2)
    assert night(staging_engine, cfg.tenant)["warnings"] == []


def test_too_little_history_is_not_judged(staging_engine, example_tenant_file) -> None:
    cfg = staged_history(staging_engine, example_tenant_file, days=MIN_REFERENCE_DAYS - 1)
    stage_day(staging_engine, cfg, ORDINARY_GROSS * 100)
    with staging_engine.connect() as conn:
        assert range_warnings(conn, cfg.tenant, DAY) == []
    stage(staging_engine, cfg, [record("tx_h999", at_noon(DAY - dt.timedelta(days=40)))])
    with staging_engine.connect() as conn:
        assert [w["check"] for w in range_warnings(conn, cfg.tenant, DAY)] == [
            "sales_in_range",
            "vat_in_range",
        ]


def test_chart_marks_held_corrected_and_empty_days(staging_engine, example_tenant_file) -> None:
    cfg = staged_history(staging_engine, example_tenant_file, skip=(3, 10))
    stage_day(staging_engine, cfg, ORDINARY_GROSS)
    held_day, corrected_day = DAY - dt.timedelta(days=1), DAY - dt.timedelta(days=2)
    for day in (held_day, corrected_day, DAY):
        night(staging_engine, cfg.tenant, day)
    with staging_engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE vouchers SET status = 'held', error = 'validation failed: voucher.balanced'"
            f" WHERE local_date = '{held_day.isoformat()}'"
        )
        save_journal(conn, stored_journal(conn, cfg.tenant, corrected_day), version=2)
        days = recent_days(conn, cfg.tenant, DAY, 42)
        svg = tenant_chart_svg(conn, cfg.tenant, DAY, weeks=6)
    assert len(days) == 42 and days[-1].day == DAY
    assert [d.day for d in days if d.empty] == [DAY - dt.timedelta(days=10), DAY - dt.timedelta(days=3)]
    assert [d.day for d in days if d.held] == [held_day]
    assert [d.day for d in days if d.corrected] == [corrected_day]
    root = ET.fromstring(svg)
    groups = [g for g in root.iter("g") if g.find("title") is not None]
    titles = [g.find("title").text for g in groups]
    assert len(groups) == 42
    assert titles[-1].startswith("Tue 24.11.2026: sales 595,00 NOK, VAT 119,00 NOK (ready")
    assert "(no sales)" in titles[-4] and "(held)" in titles[-2] and "corrected" in titles[-3]
    assert sum(1 for c in root.iter("circle") if c.get("fill") == "#cf222e") == 2  # the day and the legend
    assert sum(1 for p in root.iter("path") if p.get("fill") == "#bf8700") == 2
    for forbidden in ("<script", "http://", "https://", "href"):
        assert forbidden not in svg
