import dataclasses
import json

import pytest
from validation_helpers import DAY, with_lines, worked_journal

from bookspot_tripletex.validation.run import ValidationResult, validate_day

EXPECTED_CHECKS = {
    "journal_lines.account_mapped",
    "journal_lines.account_type_known",
    "journal_lines.line_vat_matches_rate",
    "journal_lines.balanced",
    "voucher.has_postings",
    "voucher.balanced",
    "voucher.rows_unique",
    "voucher.account_present",
    "voucher.vat_type_present",
    "day_totals.by_vat_rate",
    "day_totals.by_payment_method",
    "vat_derivation.within_tolerance",
    "postings_vs_lines.per_account",
}


@pytest.fixture(scope="module")
def worked(conn, cfg) -> ValidationResult:
    return validate_day(conn, cfg, worked_journal(conn, cfg))


def test_worked_example_passes_every_check(worked: ValidationResult) -> None:
    assert worked.success, [(c.name, c.observed, c.failures) for c in worked.checks if not c.passed]
    assert EXPECTED_CHECKS <= {c.name for c in worked.checks}
    assert worked.failed == []
    assert worked.check("voucher.balanced").observed == 0
    assert worked.check("voucher.has_postings").observed == 8
    assert worked.check("journal_lines.account_mapped").rows_checked == 20
    assert all(c.description and c.expected for c in worked.checks)


def test_worked_example_totals(worked: ValidationResult) -> None:
    by_rate = {r["vat_rate"]: r for r in worked.totals_by_vat_rate}
    assert by_rate["25"]["gross_ore"] == -132900 and by_rate["25"]["feed_gross_ore"] == -132900
    assert by_rate["15"]["gross_ore"] == -30000
    assert by_rate["12"]["gross_ore"] == -105000
    assert by_rate["gift_card"]["vat_ore"] == 0
    by_method = {r["payment_method"]: r for r in worked.totals_by_payment_method}
    assert by_method["stripe"]["amount_ore"] == 168500 and by_method["stripe"]["provider_fee_ore"] == 3873
    assert by_method["card_terminal"]["net_ore"] == 34900
    derivation = {r["vat_rate"]: r for r in worked.vat_derivation}
    assert derivation["25"]["tripletex_vat_ore"] == derivation["25"]["bookspot_vat_ore"] == -26580
    assert worked.vat_tolerance_ore == 100


def test_result_is_json_serialisable(worked: ValidationResult) -> None:
    data = json.loads(json.dumps(worked.as_dict()))
    assert data["success"] is True and data["date"] == DAY.isoformat() and data["failed"] == []
    assert len(data["checks"]) == len(worked.checks)
    summary = worked.summary()
    assert summary["success"] is True and summary["failed"] == [] and summary["checks"] == summary["passed"]


def test_dropped_line_unbalances_the_voucher(conn, cfg) -> None:
    journal = worked_journal(conn, cfg)
    fee = next(line for line in journal.lines if line.entry == "fee" and line.transaction_id == "tx_000001")
    tampered = with_lines(journal, [line for line in journal.lines if line is not fee], rebuild_voucher=True)
    result = validate_day(conn, cfg, tampered)
    assert not result.success
    balanced = result.check("voucher.balanced")
    assert not balanced.passed and balanced.observed == -2263
    assert result.check("journal_lines.balanced").observed == -2263
    by_method = result.check("day_totals.by_payment_method")
    assert not by_method.passed
    assert by_method.failures == [
        {
            "dimension": "payment_method",
            "key": "stripe",
            "measure": "provider_fee",
            "feed_ore": 3873,
            "journal_ore": 1610,
            "by_payment_method_diff_ore": -2263,
        }
    ]
    assert result.check("day_totals.by_vat_rate").passed
    assert "voucher.balanced" in result.summary()["failed"]


def test_line_without_account_fails_mapping(conn, cfg) -> None:
    journal = worked_journal(conn, cfg)
    lines = [
        dataclasses.replace(line, account_number=None) if line.account_type == "sales.15" else line
        for line in journal.lines
    ]
    result = validate_day(conn, cfg, with_lines(journal, lines))
    mapped = result.check("journal_lines.account_mapped")
    assert not mapped.passed and mapped.unexpected_count == 1
    assert mapped.failures[0]["transaction_id"] == "tx_000006"
    assert mapped.failures[0]["account_type"] == "sales.15" and mapped.failures[0]["account_number"] is None
    assert not result.check("postings_vs_lines.per_account").passed
    assert not result.success


def test_line_vat_two_ore_off(conn, cfg) -> None:
    journal = worked_journal(conn, cfg)
    lines = list(journal.lines)
    i = next(i for i, line in enumerate(lines) if line.transaction_id == "tx_000002" and line.entry == "sale")
    lines[i] = dataclasses.replace(lines[i], vat_ore=lines[i].vat_ore + 2)
    result = validate_day(conn, cfg, with_lines(journal, lines))
    check = result.check("journal_lines.line_vat_matches_rate")
    assert not check.passed and check.observed == [2]
    assert check.failures[0]["transaction_id"] == "tx_000002" and check.failures[0]["vat_diff_ore"] == 2
    assert result.check("voucher.balanced").passed
    assert not result.success


@pytest.mark.parametrize(("tolerance", "passes"), [(0, False), (1, True)])
def test_vat_derivation_against_tolerance(conn, cfg, tolerance: int, passes: bool) -> None:
    """One øre more VAT on one 12 % line: within the line check, over a zero tolerance."""
    journal = worked_journal(conn, cfg)
    lines = [
        dataclasses.replace(line, vat_ore=line.vat_ore - 1) if line.vat_rate == "12" else line
        for line in journal.lines
    ]
    result = validate_day(
        conn, dataclasses.replace(cfg, vat_tolerance_ore=tolerance), with_lines(journal, lines)
    )
    check = result.check("vat_derivation.within_tolerance")
    assert result.check("journal_lines.line_vat_matches_rate").passed
    assert check.passed is passes
    assert check.expected == f"|BookSpot VAT - Tripletex VAT| at most 0,0{tolerance} NOK per rate"
    row = next(r for r in result.vat_derivation if r["vat_rate"] == "12")
    assert (row["bookspot_vat_ore"], row["tripletex_vat_ore"], row["diff_ore"]) == (-11251, -11250, -1)
    if not passes:
        assert check.observed == [1] and check.failures[0]["vat_rate"] == "12"


def test_empty_day_never_succeeds(conn, cfg) -> None:
    journal = worked_journal(conn, cfg, DAY.replace(day=20))
    assert journal.voucher is None
    result = validate_day(conn, cfg, journal)
    assert not result.success
    assert result.failed == ["voucher.has_postings"]
    assert result.check("voucher.has_postings").observed == 0
    assert result.check("voucher.balanced").passed  # the sum of no postings is 0: has_postings decides
