import dataclasses
import json

import pytest
from validation_helpers import DAY, with_lines, worked_journal

from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.validation.report import build_report, latin1, render_html, render_pdf, write_report
from bookspot_tripletex.validation.run import ValidationResult, validate_day

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def journal(conn, cfg) -> DayJournal:
    return worked_journal(conn, cfg)


@pytest.fixture(scope="module")
def worked(conn, cfg, journal) -> ValidationResult:
    return validate_day(conn, cfg, journal)


@pytest.fixture(scope="module")
def held(conn, cfg, journal) -> tuple[DayJournal, ValidationResult]:
    """Quarantined record with a hostile product name, a hostile posting text and one line 2 øre off."""
    lines = list(journal.lines)
    i = next(i for i, line in enumerate(lines) if line.transaction_id == "tx_000002" and line.entry == "sale")
    lines[i] = dataclasses.replace(lines[i], vat_ore=lines[i].vat_ore + 2)
    bad = with_lines(journal, lines)
    assert bad.voucher is not None
    postings = list(bad.voucher.postings)
    postings[0] = dataclasses.replace(postings[0], description='BookSpot <img src=x onerror="alert(1)">')
    bad.voucher = dataclasses.replace(bad.voucher, postings=tuple(postings))
    raw = {"id": "tx_000099", "lines": [{"product_name": f"{SCRIPT} Ærlig tur på fjorden"}]}
    bad.quarantined = [
        {
            "id": "tx_000099",
            "reason": f"lines[0].vat_minor: VAT 5 does not match 4 within 1 øre ({SCRIPT})",
            "rules": ["line_vat"],
            "raw": json.dumps(raw, ensure_ascii=False),
        }
    ]
    bad.status = "held"
    return bad, validate_day(conn, cfg, bad)


def test_report_of_the_worked_example(cfg, journal, worked) -> None:
    report = build_report(cfg, journal, worked)
    assert json.loads(json.dumps(report)) == report
    assert (report["tenant"], report["date"], report["status"], report["version"]) == (
        "fjord-kayak",
        DAY.isoformat(),
        "ready",
        1,
    )
    assert report["mapping"] == {"version_id": journal.mapping_version_id, "valid_from": "2026-01-01"}
    by_rate = {r["vat_rate"]: r for r in report["totals"]["by_vat_rate"]}
    assert by_rate["25"]["gross"] == "-1329.00" and by_rate["25"]["label"] == "25 %"
    assert by_rate["15"]["gross"] == "-300.00" and by_rate["12"]["gross"] == "-1050.00"
    assert by_rate["25"]["feed_gross"] == "-1329.00" and by_rate["25"]["diff_gross"] == "0.00"
    by_method = {r["payment_method"]: r for r in report["totals"]["by_payment_method"]}
    assert by_method["stripe"]["net"] == "1646.27" and by_method["vipps"]["provider_fee"] == "11.90"
    assert [r["diff"] for r in report["vat_derivation"]["rows"]] == ["0.00", "0.00", "0.00"]
    assert report["vat_derivation"]["tolerance"] == "1.00"
    assert all(c["result"] == "pass" and c["observed_text"] for c in report["checks"])
    assert report["validation"]["success"] is True
    voucher = report["voucher"]
    assert [(p["account"], p["vat_type"], p["amount"]) for p in voucher["postings"]][:2] == [
        (1580, 0, "1646.27"),
        (1581, 0, "1038.10"),
    ]
    assert voucher["sum"] == "0.00" and voucher["external_number"] == "bookspot:fjord-kayak:2026-11-24:v1"
    assert report["quarantined"] == [] and report["missing_mappings"] == []
    assert (
        report["summary"][0].startswith("Ready")
        and f"All {len(worked.checks)} checks passed." in report["summary"]
    )
    assert report["generated_at"].endswith("+00:00")


def test_write_report_and_self_contained_html(cfg, journal, worked, tmp_path) -> None:
    report = build_report(cfg, journal, worked)
    json_path, html_path = write_report(report, tmp_path)
    assert json_path == tmp_path / "fjord-kayak" / "2026-11-24" / "v1.json"
    assert html_path == tmp_path / "fjord-kayak" / "2026-11-24" / "v1.html"
    assert json.loads(json_path.read_text(encoding="utf-8")) == report
    page = html_path.read_text(encoding="utf-8")
    for forbidden in ("http://", "https://", "<script", "<link", " src=", "@import", "url("):
        assert forbidden not in page
    assert '<span class="badge ready">READY</span>' in page
    for check in worked.checks:
        assert check.name in page
    nbsp = "\u00a0"
    for text in (f"1{nbsp}646,27", f"-1{nbsp}329,00", "Totals per VAT rate", "Totals per payment method"):
        assert text in page
    assert "1646.27" not in page and "BookSpot VAT" in page and "24.11.2026" in page
    assert '<td class="num">0,00</td></tr></tfoot>' in page  # the voucher's sum row
    assert list(tmp_path.rglob(".*")) == []  # no temporary files left behind


def test_held_report_lists_quarantine_and_escapes_everything(cfg, held, tmp_path) -> None:
    journal, result = held
    report = build_report(cfg, journal, result)
    assert report["status"] == "held"
    assert report["quarantined"][0]["id"] == "tx_000099"
    assert SCRIPT in report["quarantined"][0]["reason"] and SCRIPT in report["quarantined"][0]["raw"]
    assert any("quarantined" in line for line in report["summary"])
    failed = {c["name"]: c for c in report["checks"] if c["result"] == "fail"}
    assert "journal_lines.line_vat_matches_rate" in failed
    assert "transaction_id tx_000002" in failed["journal_lines.line_vat_matches_rate"]["observed_text"]
    assert "vat_diff 0,02" in failed["journal_lines.line_vat_matches_rate"]["observed_text"]
    _, html_path = write_report(report, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Ærlig tur på fjorden" in page
    assert "VAT 5 does not match 4 within 1 øre" in page
    assert '<span class="badge held">HELD</span>' in page
    assert '<td class="fail">FAIL</td>' in page
    assert render_pdf(report).startswith(b"%PDF")


def test_empty_day_report(conn, cfg) -> None:
    journal = worked_journal(conn, cfg, DAY.replace(day=20))
    report = build_report(cfg, journal, None)
    assert report["status"] == "empty" and report["voucher"] is None
    assert report["checks"] == [] and report["totals"] == {"by_vat_rate": [], "by_payment_method": []}
    assert "No voucher: nothing to validate or post." in report["summary"]
    page = render_html(report)
    assert "EMPTY" in page and "No voucher for this day." in page
    assert render_pdf(report).startswith(b"%PDF")


def test_unvalidated_day_is_held_with_journal_totals(cfg, journal) -> None:
    report = build_report(cfg, journal, None)
    assert report["status"] == "held" and "Not validated." in report["summary"]
    by_rate = {r["vat_rate"]: r for r in report["totals"]["by_vat_rate"]}
    assert by_rate["25"]["gross"] == "-1329.00" and by_rate["25"]["feed_gross"] is None
    assert "not compared" in render_html(report)


def test_extra_marks_a_posted_day(cfg, journal, worked) -> None:
    report = build_report(cfg, journal, worked, extra={"status": "posted", "tripletex_number": "12-2026"})
    assert report["status"] == "posted" and report["summary"][0].startswith("Posted")
    page = render_html(report)
    assert '<span class="badge posted">POSTED</span>' in page and "12-2026" in page


def test_report_paths_stay_inside_the_folder(cfg, journal, worked, tmp_path) -> None:
    report = {**build_report(cfg, journal, worked), "tenant": "../../escape"}
    json_path, html_path = write_report(report, tmp_path / "reports")
    assert (tmp_path / "reports") in json_path.parents and (tmp_path / "reports") in html_path.parents


def test_pdf_keeps_norwegian_letters_and_replaces_the_rest(cfg, journal, worked) -> None:
    assert latin1("Ærlig øl på å – 5 € 日本") == "Ærlig øl på å - 5 EUR ??"
    report = build_report(cfg, journal, worked, extra={"note": "Ærlig øl – 日本 " + "x" * 5000})
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
