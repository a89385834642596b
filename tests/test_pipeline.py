"""The night's steps as plain functions (no Airflow): empty days, held days, the report PDF on the voucher."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import pipeline
from bookspot_tripletex.load.state import get_voucher
from helpers import read_jsonl, record, setup_tenant, stage
from tripletex_support import make_client, vouchers_in

DAY = dt.date(2026, 11, 24)


def test_an_empty_day_stays_empty_and_gets_a_report(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    setup_tenant(staging_engine, example_tenant_file)
    pipeline.journal_day(staging_engine, "fjord-kayak", dt.date(2026, 11, 23))
    result = pipeline.validate_day(staging_engine, "fjord-kayak", dt.date(2026, 11, 23), tmp_path)
    assert result["status"] == "empty"
    assert Path(result["report"]).is_file()
    assert (
        pipeline.load_day(staging_engine, "fjord-kayak", dt.date(2026, 11, 23), None, "x")["outcome"]
        == "empty"
    )


def test_a_held_day_is_reported_and_not_posted(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    bad = record("tx_bad", "2026-11-24T11:00:00+01:00")
    bad["currency"] = "EUR"
    stage(staging_engine, cfg, [record("tx_ok", "2026-11-24T10:00:00+01:00"), bad])
    pipeline.journal_day(staging_engine, "fjord-kayak", DAY)
    result = pipeline.validate_day(staging_engine, "fjord-kayak", DAY, tmp_path)
    assert result["status"] == "held"
    html = Path(result["report"]).read_text(encoding="utf-8")
    assert "tx_bad" in html and "EUR" in html
    assert pipeline.load_day(staging_engine, "fjord-kayak", DAY, None, "x")["outcome"] == "held"


def test_the_report_pdf_goes_onto_the_voucher_when_asked(
    staging_engine, tripletex: EmulatorServer, example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    tripletex.reset()
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(example_tenant_file.read_text() + "attach_report: true\n")
    cfg = setup_tenant(staging_engine, tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    pipeline.journal_day(staging_engine, cfg.tenant, DAY)
    assert pipeline.validate_day(staging_engine, cfg.tenant, DAY, tmp_path)["status"] == "ready"
    result = pipeline.load_day(staging_engine, cfg.tenant, DAY, make_client(tripletex), "run-1")
    assert result["outcome"] == "posted"
    assert result["attachment"] == "bookspot-fjord-kayak-2026-11-24-v1.pdf"
    (voucher,) = vouchers_in(tripletex)
    assert voucher["attachment"]["fileName"] == result["attachment"]
    with staging_engine.connect() as conn:
        assert get_voucher(conn, cfg.tenant, DAY).status == "posted"


def test_due_days_run_from_the_first_unsettled_day_and_add_touched_empty_days() -> None:
    from bookspot_tripletex.staging.due import due_days

    start, until = dt.date(2026, 11, 1), dt.date(2026, 11, 6)
    states = {
        dt.date(2026, 11, 1): "posted",
        dt.date(2026, 11, 2): "empty",
        dt.date(2026, 11, 3): "held",
        dt.date(2026, 11, 4): "posted",
    }
    assert due_days(start, until, states) == [
        dt.date(2026, 11, 3),
        dt.date(2026, 11, 5),
        dt.date(2026, 11, 6),
    ]
    touched = [dt.date(2026, 11, 2), dt.date(2026, 11, 4), dt.date(2026, 10, 30), dt.date(2026, 11, 9)]
    assert due_days(start, until, states, touched)[:2] == [dt.date(2026, 11, 2), dt.date(2026, 11, 3)]
    assert due_days(start, dt.date(2026, 10, 31), {}) == []


def test_a_night_logs_each_tenant_day_and_records_its_outcome(
    staging_engine, example_tenant_file: Path, example_feed: Path, tmp_path: Path, monkeypatch
) -> None:
    import json

    from bookspot_tripletex.staging.outcomes import latest_outcomes

    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    feed = {"conn_type": "bookspot", "extra": {"feed_file": str(example_feed)}}
    monkeypatch.setenv("AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK", json.dumps(feed))
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text().replace("start_date: 2026-01-01", "start_date: 2026-11-22")
    )
    setup_tenant(staging_engine, tenant_file)
    lines: list[str] = []
    night = pipeline.Night("run-1", DAY, dry_run=True, now=dt.datetime(2026, 11, 25, 1, tzinfo=dt.UTC))
    result = pipeline.run_night(staging_engine, ["fjord-kayak", "ghost"], night, progress=lines.append)
    assert sorted((o.tenant, o.day, o.outcome.value) for o in result.outcomes) == [
        ("fjord-kayak", dt.date(2026, 11, 22), "empty"),
        ("fjord-kayak", dt.date(2026, 11, 23), "empty"),
        ("fjord-kayak", dt.date(2026, 11, 24), "dry_run"),
        ("ghost", DAY, "refused"),
    ]
    assert "fjord-kayak: staged 7 record(s); 3 day(s) to do: 2026-11-22 .. 2026-11-24" in lines
    assert any(line.startswith("fjord-kayak 2026-11-24: dry_run (transactions 6") for line in lines)
    assert lines[-1].startswith("batch 1/1: 4 tenant-day(s): 1 dry_run, 2 empty, 1 refused; 6 transaction(s)")
    assert "left: 0 tenant(s)" in lines[-1]
    assert "ghost" in result.problems() and "not imported" in result.problems()
    with staging_engine.connect() as conn:
        rows = latest_outcomes(conn)
    assert [(r.tenant_id, r.outcome, r.run_id) for r in rows][-2:] == [
        ("fjord-kayak", "dry_run", "run-1"),
        ("ghost", "refused", "run-1"),
    ]
    assert rows[2].counts["transactions"] == 6
