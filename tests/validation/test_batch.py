"""Many tenant-days in one Great Expectations run per suite give each day exactly its lone-run result."""

from __future__ import annotations

import dataclasses

import pytest
from validation_helpers import DAY, with_lines, worked_journal

from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.validation.batch import validate_journals
from bookspot_tripletex.validation.run import ValidationResult, validate_day

TIMING = ("validated_at", "duration_s")


def comparable(result: ValidationResult) -> dict:
    return {k: v for k, v in result.as_dict().items() if k not in TIMING}


def tampered(conn, cfg) -> dict[str, DayJournal]:
    """The worked example and copies of it that fail in different ways."""
    journal = worked_journal(conn, cfg)
    lines = list(journal.lines)
    fee = next(line for line in lines if line.entry == "fee" and line.transaction_id == "tx_000001")
    vat_off = [
        dataclasses.replace(line, vat_ore=line.vat_ore + 2)
        if line.transaction_id == "tx_000002" and line.entry == "sale"
        else line
        for line in lines
    ]
    unmapped = [
        dataclasses.replace(line, account_number=None) if line.account_type == "sales.15" else line
        for line in lines
    ]
    duplicate_row = dataclasses.replace(
        journal.voucher,
        postings=(journal.voucher.postings[0], dataclasses.replace(journal.voucher.postings[1], row=1)),
    )
    floats = [dataclasses.replace(lines[0], amount_ore=22.63), *lines[1:]]
    return {
        "worked": journal,
        "dropped_fee": with_lines(journal, [x for x in lines if x is not fee], rebuild_voucher=True),
        "vat_off": with_lines(journal, vat_off),
        "unmapped": with_lines(journal, unmapped),
        "duplicate_row": dataclasses.replace(journal, voucher=duplicate_row),
        "float_amount": with_lines(journal, floats),
        "empty": worked_journal(conn, cfg, DAY.replace(day=20)),
        "other_day": worked_journal(conn, cfg, DAY.replace(day=25)),
    }


@pytest.fixture(scope="module")
def journals(conn, cfg) -> dict[str, DayJournal]:
    return tampered(conn, cfg)


def test_batch_equals_one_by_one(conn, cfg, journals) -> None:
    strict = dataclasses.replace(cfg, vat_tolerance_ore=0)
    items = [(cfg, j) for j in journals.values()] + [(strict, journals["worked"])]
    batch = validate_journals(conn, items)
    alone = [validate_day(conn, tenant, journal) for tenant, journal in items]
    assert [comparable(b) for b in batch] == [comparable(a) for a in alone]
    outcome = dict(zip(journals, batch, strict=False))
    assert outcome["worked"].success and outcome["other_day"].success
    assert not any(outcome[k].success for k in journals if k not in ("worked", "other_day"))


def test_one_failing_day_among_passing_days_names_its_rows(conn, cfg, journals) -> None:
    items = [(cfg, journals["worked"]), (cfg, journals["vat_off"]), (cfg, journals["other_day"])]
    first, failing, last = validate_journals(conn, items)
    assert first.success and last.success
    assert failing.failed == ["journal_lines.line_vat_matches_rate", "day_totals.by_vat_rate"]
    check = failing.check("journal_lines.line_vat_matches_rate")
    assert check.observed == [2] and check.unexpected_count == 1
    assert check.rows_checked == len(journals["vat_off"].lines)
    assert check.failures[0]["transaction_id"] == "tx_000002" and check.failures[0]["vat_diff_ore"] == 2
    assert comparable(failing) == comparable(validate_day(conn, cfg, journals["vat_off"]))


def test_duplicates_count_within_one_day_only(conn, cfg, journals) -> None:
    """Two days both have a posting row 1: no duplicate across days; the tampered day's pair is."""
    items = [(cfg, journals["worked"]), (cfg, journals["duplicate_row"])]
    worked, duplicated = validate_journals(conn, items)
    assert worked.check("voucher.rows_unique").passed
    unique = duplicated.check("voucher.rows_unique")
    assert not unique.passed and unique.unexpected_count == 2 and unique.observed == [1, 1]


def test_whole_table_checks_per_day(conn, cfg, journals) -> None:
    empty, dropped = validate_journals(conn, [(cfg, journals["empty"]), (cfg, journals["dropped_fee"])])
    has_postings, balanced = empty.check("voucher.has_postings"), dropped.check("voucher.balanced")
    assert has_postings.observed == 0 and not has_postings.passed
    assert dropped.check("voucher.has_postings").passed
    assert balanced.observed == -2263 and not balanced.passed


def test_no_items() -> None:
    assert validate_journals(None, []) == []


def test_gx_context_is_created_once_per_process(conn, cfg, journals) -> None:
    from bookspot_tripletex.validation.run import gx_runtime

    runtime = gx_runtime()
    validate_journals(conn, [(cfg, journals["worked"]), (cfg, journals["other_day"])])
    validate_day(conn, cfg, journals["worked"])
    assert gx_runtime() is runtime and gx_runtime.cache_info().misses == 1
    assert len(runtime.context.data_sources.all()) == 1  # one data source, its assets reused
