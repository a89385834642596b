"""Reports live in staging: stored per run with history, refreshed after posting, corrections and holds;
validation reads the journal the journal step saved and rebuilds nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import update

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import pipeline
from bookspot_tripletex.load.state import get_voucher, save_journal
from bookspot_tripletex.staging.db import make_engine
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.validation.store import (
    latest_report,
    refresh_report,
    render_report,
    report_history,
    stored_journal,
    tripletex_link_for,
)
from helpers import read_jsonl, record, setup_tenant, stage
from tripletex_support import make_client, vouchers_in

DAY = dt.date(2026, 11, 24)
TENANT = "fjord-kayak"


def staged(engine, tenant_file: Path, feed: Path):  # type: ignore[no-untyped-def]
    cfg = setup_tenant(engine, tenant_file)
    stage(engine, cfg, read_jsonl(feed))
    pipeline.journal_day(engine, TENANT, DAY)
    return cfg


def test_each_run_keeps_its_report_and_the_latest_is_current(
    staging_engine, example_tenant_file, example_feed
) -> None:
    staged(staging_engine, example_tenant_file, example_feed)
    first = pipeline.validate_day(staging_engine, TENANT, DAY, run_id="run-1")
    again = pipeline.validate_day(staging_engine, TENANT, DAY, run_id="run-1")
    second = pipeline.validate_day(staging_engine, TENANT, DAY, run_id="run-2")
    assert first["status"] == again["status"] == second["status"] == "ready"
    assert first["report"] is None  # no export folder set: the database is where reports live
    with staging_engine.connect() as conn:
        history = report_history(conn, TENANT, DAY)
        current = latest_report(conn, TENANT, DAY)
        assert latest_report(conn, TENANT, DAY, version=2) is None
    assert [r.run_id for r in history] == ["run-2", "run-1"]
    assert current.id == second["report_id"] and current.version == 1 and current.status == "ready"
    assert current.model["validation"]["success"] is True and len(current.model["checks"]) > 20
    assert '<span class="badge ready">READY</span>' in current.html
    assert "<svg" in current.html and "Recent weeks" in current.html


def test_export_to_files_is_optional(staging_engine, example_tenant_file, example_feed, tmp_path) -> None:
    staged(staging_engine, example_tenant_file, example_feed)
    result = pipeline.validate_day(staging_engine, TENANT, DAY, reports_dir=tmp_path)
    html = Path(result["report"])
    assert html == tmp_path / TENANT / DAY.isoformat() / "v1.html" and html.is_file()
    with staging_engine.connect() as conn:
        assert html.read_text(encoding="utf-8") == latest_report(conn, TENANT, DAY).html


def test_posting_refreshes_the_report_with_the_tripletex_number(
    staging_engine, tripletex: EmulatorServer, example_tenant_file, example_feed
) -> None:
    tripletex.reset()
    staged(staging_engine, example_tenant_file, example_feed)
    pipeline.validate_day(staging_engine, TENANT, DAY, run_id="night-1")
    posted = pipeline.load_day(staging_engine, TENANT, DAY, make_client(tripletex), "night-1")
    assert posted["outcome"] == "posted"
    (held,) = vouchers_in(tripletex)
    with staging_engine.connect() as conn:
        current = latest_report(conn, TENANT, DAY)
        history = report_history(conn, TENANT, DAY)
    assert [(r.run_id, r.status) for r in history] == [("night-1:posted", "posted"), ("night-1", "ready")]
    assert current.status == "posted"
    model = current.model
    assert model["tripletex_voucher_id"] == held["id"] == posted["tripletex_voucher_id"]
    assert model["tripletex_number"] == posted["tripletex_number"] is not None
    assert model["summary"][0] == (
        f"Posted: the voucher is in Tripletex as voucher number {posted['tripletex_number']} "
        f"(id {held['id']})."
    )
    assert "Ready: " not in current.html and '<span class="badge posted">POSTED</span>' in current.html
    assert f"<td>{posted['tripletex_number']}</td>" in current.html


def test_refresh_shows_why_a_day_is_held_and_its_corrections(
    staging_engine, example_tenant_file, example_feed
) -> None:
    staged(staging_engine, example_tenant_file, example_feed)
    pipeline.validate_day(staging_engine, TENANT, DAY)
    with staging_engine.begin() as conn:
        save_journal(conn, stored_journal(conn, TENANT, DAY), version=2)
        conn.execute(
            update(vouchers)
            .where(vouchers.c.version == 2)
            .values(status="posted", tripletex_number="77", tripletex_voucher_id=7007)
        )
        conn.execute(
            update(vouchers)
            .where(vouchers.c.version == 1)
            .values(status="held", error="reconciliation: <b>sum differs</b> in Tripletex")
        )
        stored = refresh_report(conn, TENANT, DAY)
    assert stored.status == "held" and stored.run_id.startswith("refresh-")
    assert stored.model["held_reason"] == "reconciliation: <b>sum differs</b> in Tripletex"
    (correction,) = stored.model["corrections"]
    assert {k: correction[k] for k in ("version", "status", "external_number", "tripletex_number")} == {
        "version": 2,
        "status": "posted",
        "external_number": "bookspot:fjord-kayak:2026-11-24:v2",
        "tripletex_number": "77",
    }
    assert correction["tripletex_voucher_id"] == 7007 and correction["date"] == "2026-11-24"
    assert {(p["account"], p["vat_type"]): p["amount"] for p in correction["postings"]}[
        (1580, 0)
    ] == "1646.27"
    assert "Why: reconciliation: &lt;b&gt;sum differs&lt;/b&gt; in Tripletex" in stored.html
    assert "<h2>Correction bookspot:fjord-kayak:2026-11-24:v2 (version 2, Tripletex voucher 77)</h2>" in (
        stored.html
    )
    assert "<b>" not in stored.html


def test_the_tripletex_connection_is_read_for_the_first_link_only(
    staging_engine, staging_url, example_tenant_file, example_feed, monkeypatch
) -> None:
    reads: list[str] = []

    def web_base(conn_id: str) -> str:
        reads.append(conn_id)
        return "https://tripletex.example"

    monkeypatch.setattr("bookspot_tripletex.tripletex.links.connection_web_base", web_base)
    cfg = staged(staging_engine, example_tenant_file, example_feed)
    pipeline.validate_day(staging_engine, TENANT, DAY)
    assert reads == []  # no voucher in Tripletex yet: no link, no connection read
    with staging_engine.connect() as conn:
        link = tripletex_link_for(conn, TENANT)
        assert link(11, 5) == "https://tripletex.example/execute/voucherMenu?voucherId=11&contextId=5"
        assert link(12, None) == "https://tripletex.example/execute/voucherMenu?voucherId=12"
        assert tripletex_link_for(conn, "no-such-tenant")(11, 5) is None
    assert reads == [cfg.tripletex_conn_id]
    with staging_engine.connect() as conn:  # later reports through the same engine: read once
        assert tripletex_link_for(conn, TENANT)(13, 5) is not None
    assert reads == [cfg.tripletex_conn_id]
    other = make_engine(staging_url)
    with other.connect() as conn:  # another engine reads it again
        assert tripletex_link_for(conn, TENANT)(13, 5) is not None
    other.dispose()
    assert reads == [cfg.tripletex_conn_id] * 2


def test_render_without_a_stored_report_uses_the_saved_journal(
    staging_engine, example_tenant_file, example_feed
) -> None:
    staged(staging_engine, example_tenant_file, example_feed)
    with staging_engine.connect() as conn:
        report, html = render_report(conn, TENANT, DAY)
    assert report["validation"] is None and "Not validated." in report["summary"]
    assert report["voucher"]["external_number"] == "bookspot:fjord-kayak:2026-11-24:v1"
    assert "<!DOCTYPE html>" in html


def test_validation_reads_the_saved_journal_and_rebuilds_nothing(
    staging_engine, example_tenant_file, example_feed, monkeypatch
) -> None:
    cfg = staged(staging_engine, example_tenant_file, example_feed)
    with staging_engine.connect() as conn:
        saved = get_voucher(conn, TENANT, DAY)
    # a record arriving after the journal step: the saved journal no longer matches the feed
    stage(staging_engine, cfg, [record("tx_late", "2026-11-24T20:00:00+01:00")])

    def no_rebuild(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("validation rebuilt the journal")

    monkeypatch.setattr("bookspot_tripletex.journal.build.build_day", no_rebuild)
    monkeypatch.setattr(pipeline, "build_day", no_rebuild)
    result = pipeline.validate_day(staging_engine, TENANT, DAY)
    assert result["status"] == "held" and "day_totals.by_vat_rate" in result["failed_checks"]
    with staging_engine.connect() as conn:
        after = get_voucher(conn, TENANT, DAY)
    assert after.postings == saved.postings


def test_a_day_without_a_saved_journal_is_reported_missing(staging_engine, example_tenant_file) -> None:
    setup_tenant(staging_engine, example_tenant_file)
    (result,) = pipeline.validate_days(staging_engine, [(TENANT, DAY)])
    assert result["status"] == "missing" and "journal step" in result["error"]


def test_validate_days_batch_one_failing_among_passing(
    staging_engine, example_tenant_file, example_feed
) -> None:
    cfg = staged(staging_engine, example_tenant_file, example_feed)
    other = dt.date(2026, 11, 25)
    pipeline.journal_day(staging_engine, TENANT, other)
    empty = dt.date(2026, 11, 20)
    pipeline.journal_day(staging_engine, TENANT, empty)
    stage(staging_engine, cfg, [record("tx_late", "2026-11-24T20:00:00+01:00")])  # day 24 now drifts
    results = pipeline.validate_days(
        staging_engine, [(TENANT, DAY), (TENANT, other), (TENANT, empty)], "batch"
    )
    assert [r["status"] for r in results] == ["held", "ready", "empty"]
    assert results[0]["failed_checks"] == ["day_totals.by_vat_rate", "day_totals.by_payment_method"]
    with staging_engine.connect() as conn:
        reports = [latest_report(conn, TENANT, d) for d in (DAY, other, empty)]
    assert [r.run_id for r in reports] == ["batch"] * 3
    failing = next(c for c in reports[0].model["checks"] if c["name"] == "day_totals.by_payment_method")
    assert failing["result"] == "fail" and failing["failures"][0]["key"] == "card_terminal"
