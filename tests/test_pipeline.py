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
