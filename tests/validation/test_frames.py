import dataclasses

from validation_helpers import DAY, with_lines, worked_journal

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.validation.frames import (
    build_frames,
    day_totals_frame,
    feed_totals,
    journal_lines_frame,
    journal_totals,
    postings_vs_lines_frame,
    totals_by_payment_method,
    totals_by_vat_rate,
    vat_derivation_frame,
    voucher_frame,
)
from helpers import read_jsonl, record, setup_tenant, stage


def nonzero(totals: dict) -> dict:
    """The journal has no entry for a zero provider fee; the feed reports it as 0."""
    return {k: v for k, v in totals.items() if v}


def test_feed_totals_of_the_worked_example(conn, cfg) -> None:
    feed = feed_totals(conn, cfg.tenant, DAY)
    assert feed[("vat_rate", "25", "gross")] == -132900
    assert feed[("vat_rate", "25", "vat")] == -26580
    assert feed[("vat_rate", "15", "gross")] == -30000
    assert feed[("vat_rate", "12", "gross")] == -105000
    assert feed[("vat_rate", "gift_card", "gross")] == -100000
    assert feed[("payment_method", "stripe", "amount")] == 128000 + 100000 - 59500
    assert feed[("payment_method", "stripe", "provider_fee")] == 2263 + 1610
    assert feed[("payment_method", "gift_card", "amount")] == 59500
    assert ("payment_method", "cash", "amount") not in feed  # tx_000007 is the next day
    assert nonzero(feed) == nonzero(journal_totals(worked_journal(conn, cfg)))


def test_totals_per_rate_and_method(conn, cfg) -> None:
    journal = worked_journal(conn, cfg)
    frame = day_totals_frame(feed_totals(conn, cfg.tenant, DAY), journal_totals(journal))
    assert (frame["diff_ore"] == 0).all()
    by_rate = {r["vat_rate"]: r for r in totals_by_vat_rate(frame)}
    assert list(by_rate) == ["25", "15", "12", "gift_card"]
    assert by_rate["25"]["gross_ore"] == -132900
    assert by_rate["25"]["net_ore"] == -132900 + 26580
    by_method = {r["payment_method"]: r for r in totals_by_payment_method(frame)}
    assert by_method["stripe"]["net_ore"] == 164627  # the 1580 posting of the worked example
    assert by_method["vipps"]["net_ore"] == 103810


def test_frames_hold_integer_ore(conn, cfg) -> None:
    frames = build_frames(conn, worked_journal(conn, cfg))
    assert set(frames) == {"journal_lines", "voucher", "day_totals", "vat_derivation", "postings_vs_lines"}
    assert frames["journal_lines"]["amount_ore"].dtype == "int64"
    assert frames["voucher"]["amount_ore"].dtype == "int64"
    assert frames["day_totals"]["feed_ore"].dtype == "int64"
    assert frames["vat_derivation"]["tripletex_vat_ore"].dtype == "int64"
    assert len(frames["voucher"]) == 8 and frames["voucher"]["amount_ore"].sum() == 0
    assert (frames["postings_vs_lines"]["diff_ore"] == 0).all()


def test_line_vat_expectation(conn, cfg) -> None:
    journal = worked_journal(conn, cfg)
    frame = journal_lines_frame(journal)
    sale = frame[(frame["transaction_id"] == "tx_000006") & (frame["line_no"] == 1)].iloc[0]
    assert sale["amount_ore"] == -30000 and sale["expected_vat_ore"] == -3913 and sale["vat_diff_ore"] == 0
    refund = frame[(frame["transaction_id"] == "tx_000005") & (frame["entry"] == "sale")].iloc[0]
    assert refund["expected_vat_ore"] == 11900
    tampered = list(journal.lines)
    i = next(i for i, line in enumerate(tampered) if line.entry == "sale")
    tampered[i] = dataclasses.replace(tampered[i], vat_ore=tampered[i].vat_ore + 2)
    frame = journal_lines_frame(with_lines(journal, tampered))
    assert frame["vat_diff_ore"].tolist().count(2) == 1


def test_vat_derivation_matches_tripletex_rounding(conn, cfg) -> None:
    rows = vat_derivation_frame(worked_journal(conn, cfg)).set_index("vat_rate")
    assert rows.loc["25", "tripletex_vat_ore"] == -132900 - (-106320)
    assert rows.loc["15", "tripletex_vat_ore"] == -3913  # 300.00 / 1.15 = 260.869... -> 260.87
    assert (rows["diff_ore"] == 0).all()


def test_vat_derivation_shows_per_line_rounding(staging_engine, example_tenant_file) -> None:
    """Three 0.99 NOK lines at 25 %: BookSpot 3 × 0.20, Tripletex 0.59 of 2.97 gross."""
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, [record("tx_r1", "2026-11-24T10:00:00+01:00", [("extra", 99, "25")] * 3)])
    with staging_engine.connect() as conn:
        journal = build_day(conn, cfg, DAY)
    row = vat_derivation_frame(journal).iloc[0]
    assert (row["bookspot_vat_ore"], row["tripletex_vat_ore"], row["diff_ore"]) == (-60, -59, -1)


def test_feed_totals_on_each_dialect(staging_engine, example_tenant_file, example_feed) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    with staging_engine.connect() as conn:
        feed = feed_totals(conn, cfg.tenant, DAY)
        journal = build_day(conn, cfg, DAY)
    assert all(type(v) is int for v in feed.values())
    assert nonzero(feed) == nonzero(journal_totals(journal))


def test_empty_day_frames_keep_their_columns(conn, cfg) -> None:
    journal = build_day(conn, cfg, DAY.replace(day=20))
    assert journal.voucher is None and not journal.lines
    frames = build_frames(conn, journal)
    assert all(len(f) == 0 for f in frames.values())
    assert "vat_diff_ore" in frames["journal_lines"] and frames["voucher"]["amount_ore"].dtype == "int64"
    assert list(voucher_frame(journal).columns) == [
        "row",
        "account",
        "vat_type",
        "vat_rate",
        "amount_ore",
        "description",
    ]
    assert postings_vs_lines_frame(journal).empty


def test_a_float_amount_is_not_coerced(conn, cfg) -> None:
    """A float never becomes int64 silently: the suites' int64 type checks then fail."""
    journal = worked_journal(conn, cfg)
    lines = list(journal.lines)
    lines[0] = dataclasses.replace(lines[0], amount_ore=22.63)
    assert journal_lines_frame(with_lines(journal, lines))["amount_ore"].dtype == object
