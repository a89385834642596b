import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.journal.model import external_number
from bookspot_tripletex.tenants.config import load_tenant_file
from bookspot_tripletex.tenants.store import import_tenant
from helpers import read_jsonl, record, setup_tenant, stage, worked_example_table

DAY = dt.date(2026, 11, 24)


def test_worked_example_exactly(staging_engine, example_tenant_file: Path, example_feed: Path) -> None:
    expected = worked_example_table()
    assert len(expected) == 8
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    with staging_engine.connect() as conn:
        journal = build_day(conn, cfg, DAY)
    assert journal.status == "ready" and journal.voucher is not None
    got = {(p.account, p.vat_type): Decimal(p.amount_ore) / 100 for p in journal.voucher.postings}
    assert got == expected
    assert journal.voucher.balance_ore == 0
    assert [p.row for p in journal.voucher.postings] == list(range(1, 9))
    assert journal.voucher.external_number == "bookspot:fjord-kayak:2026-11-24:v1"
    assert journal.transactions == 6


def test_day_without_transactions_is_empty(
    staging_engine, example_tenant_file: Path, example_feed: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    with staging_engine.connect() as conn:
        journal = build_day(conn, cfg, dt.date(2026, 11, 23))
    assert journal.status == "empty" and journal.voucher is None


def test_voided_transactions_do_not_count(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, [record("v", "2026-11-24T10:00:00+01:00", status="voided")])
    with staging_engine.connect() as conn:
        assert build_day(conn, cfg, DAY).status == "empty"


def _tenant_yaml(tmp_path: Path, source: Path, extra_versions: str = "", extra_accounts: str = "") -> Path:
    text = source.read_text(encoding="utf-8")
    text = text.replace("      provider_fees: 7770\n", "      provider_fees: 7770\n" + extra_accounts)
    path = tmp_path / "tenant.yaml"
    path.write_text(text + extra_versions, encoding="utf-8")
    return path


def test_product_beats_category_beats_rate(staging_engine, example_tenant_file: Path, tmp_path: Path) -> None:
    tenant_file = _tenant_yaml(
        tmp_path,
        example_tenant_file,
        extra_accounts="      product.p_rental_0: 3050\n      category.rental: 3040\n",
    )
    cfg = setup_tenant(staging_engine, tenant_file)
    stage(
        staging_engine,
        cfg,
        [
            record(
                "a",
                "2026-11-24T10:00:00+01:00",
                [("rental", 1000, "25"), ("rental", 2000, "25"), ("extra", 400, "25")],
            ),
        ],
    )
    with staging_engine.connect() as conn:
        voucher = build_day(conn, cfg, DAY).voucher
    assert voucher is not None
    sums = {(p.account, p.vat_type): p.amount_ore for p in voucher.postings}
    assert sums == {(1920, 0): 3400, (3000, 3): -400, (3040, 3): -2000, (3050, 3): -1000}


def test_missing_account_type_holds_the_day_and_names_it(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(
        staging_engine,
        cfg,
        [record("a", "2026-11-24T10:00:00+01:00", [("activity", 1000, "25")], method="vipps", fee=0)],
    )
    with staging_engine.connect() as conn:
        assert build_day(conn, cfg, DAY).status == "ready"
    changed = tmp_path / "tenant.yaml"
    changed.write_text(example_tenant_file.read_text().replace("      settlement.vipps: 1581\n", ""))
    cfg2 = load_tenant_file(changed)
    with staging_engine.begin() as conn:
        import_tenant(conn, cfg2)
        journal = build_day(conn, cfg2, DAY)
    assert journal.status == "held" and journal.voucher is None
    assert journal.missing_account_types == ["settlement.vipps"]


def test_mapping_versions_are_effective_dated(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    later = (
        "  - valid_from: 2026-11-24\n"
        "    accounts:\n"
        + "".join(
            f"      {k}: {v}\n"
            for k, v in {
                "sales.25": 3010, "sales.15": 3001, "sales.12": 3002, "sales.0": 3100, "sales.exempt": 3200,
                "settlement.card_terminal": 1921, "gift_card_liability": 2900, "provider_fees": 7770,
            }.items()
        )
        + '    vat_types: {"25": 3, "15": 31, "12": 33, "0": 5, "exempt": 6}\n'
    )  # fmt: skip
    cfg = setup_tenant(staging_engine, _tenant_yaml(tmp_path, example_tenant_file, extra_versions=later))
    stage(
        staging_engine,
        cfg,
        [record("a", "2026-11-23T10:00:00+01:00"), record("b", "2026-11-24T10:00:00+01:00")],
    )
    with staging_engine.connect() as conn:
        before = build_day(conn, cfg, dt.date(2026, 11, 23))
        after = build_day(conn, cfg, DAY)
    assert before.mapping_valid_from == dt.date(2026, 1, 1)
    assert {p.account for p in before.voucher.postings} == {1920, 3000}
    assert after.mapping_valid_from == DAY
    assert {p.account for p in after.voucher.postings} == {1921, 3010}


def test_reimporting_an_unchanged_file_adds_no_version(staging_engine, example_tenant_file: Path) -> None:
    cfg = load_tenant_file(example_tenant_file)
    with staging_engine.begin() as conn:
        first = import_tenant(conn, cfg)
        second = import_tenant(conn, cfg)
    assert first.new_versions == [(dt.date(2026, 1, 1), 1)] and second.new_versions == []
    assert second.unchanged == 1


@pytest.mark.parametrize("tenant", ["fjord-kayak", "x" * 100])
def test_external_number_is_deterministic_and_short(tenant: str) -> None:
    a = external_number(tenant, DAY, 1)
    assert a == external_number(tenant, DAY, 1) != external_number(tenant, DAY, 2)
    assert len(a) <= 70


def test_the_stored_journal_round_trips(
    staging_engine, example_tenant_file: Path, example_feed: Path
) -> None:
    """`as_record` keeps every field of every line (as `dataclasses.asdict` would) and `from_record`
    gives the same journal back."""
    from dataclasses import asdict

    from bookspot_tripletex.journal.model import DayJournal

    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    with staging_engine.connect() as conn:
        journal = build_day(conn, cfg, DAY)
    record_ = journal.as_record()
    assert record_["lines"] == [asdict(line) for line in journal.lines] and len(record_["lines"]) > 6
    assert DayJournal.from_record(record_) == journal
