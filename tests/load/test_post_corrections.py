"""Corrections, closed periods, forced re-posts and read-back reconciliation, over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from bookspot_tripletex.load.corrections import force_repost
from bookspot_tripletex.load.post import post_day
from bookspot_tripletex.load.reconcile import reconcile
from bookspot_tripletex.load.state import day_versions
from tripletex_support import COMPANY_ID, make_client, vouchers_in


def _ledger_sums(emulator) -> Counter[tuple[int, int]]:  # type: ignore[no-untyped-def]
    sums: Counter[tuple[int, int]] = Counter()
    for v in vouchers_in(emulator):
        for p in v["postings"]:
            if p.get("row", 0) >= 1:
                key = (int(p["account"]["number"]), int(p["vatType"]["number"]))
                sums[key] += int(Decimal(str(p["amountGross"])) * 100)
    return +sums


def _journal_sums(engine, cfg, day) -> Counter[tuple[int, int]]:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.journal.build import build_day

    with engine.connect() as conn:
        journal = build_day(conn, cfg, day)
    sums: Counter[tuple[int, int]] = Counter()
    for p in journal.voucher.postings if journal.voucher else ():
        sums[(p.account, p.vat_type)] += p.amount_ore
    return +sums


def _void_first_record(engine, cfg, example_feed) -> None:  # type: ignore[no-untyped-def]
    from helpers import read_jsonl, stage

    first = read_jsonl(example_feed)[0]
    first.update(status="voided", updated_at="2026-11-26T08:00:00+01:00")
    stage(engine, cfg, [first])


def test_a_late_void_gives_a_correction_voucher(
    staging_engine, staged_day, emulator, client, example_feed
) -> None:
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    _void_first_record(staging_engine, cfg, example_feed)
    result = post_day(staging_engine, cfg, day, make_client(emulator), "night-2")
    assert result["outcome"] == "already_posted"
    [correction] = result["corrections"]
    assert correction["outcome"] == "posted" and correction["version"] == 2
    assert correction["external_number"] == "bookspot:fjord-kayak:2026-11-24:v2"
    assert len(vouchers_in(emulator)) == 2
    assert _ledger_sums(emulator) == _journal_sums(staging_engine, cfg, day)
    assert reconcile(staging_engine, cfg, make_client(emulator), days=7, today=day + dt.timedelta(days=2))
    again = post_day(staging_engine, cfg, day, make_client(emulator), "night-3")
    assert "corrections" not in again and len(vouchers_in(emulator)) == 2


def test_a_closed_period_moves_the_correction(
    staging_engine, staged_day, emulator, client, example_feed
) -> None:
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    emulator.admin(
        "PUT", f"companies/{COMPANY_ID}/closed_periods", [{"start": "2026-11-01", "end": "2026-12-01"}]
    )
    _void_first_record(staging_engine, cfg, example_feed)
    [correction] = post_day(staging_engine, cfg, day, make_client(emulator), "night-2")["corrections"]
    assert correction["status"] == "posted" and correction["posting_date"] == "2026-12-01"
    assert "closed" in correction["note"] and "2026-12-01" in correction["note"]
    moved = vouchers_in(emulator, "bookspot:fjord-kayak:2026-11-24:v2")
    assert [v["date"] for v in moved] == ["2026-12-01"]
    assert _ledger_sums(emulator) == _journal_sums(staging_engine, cfg, day)


def test_force_reverses_the_voucher_and_posts_a_new_one(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "night-1")
    result = force_repost(staging_engine, cfg, day, make_client(emulator), "kari", "wrong stripe account")
    assert result["reversed"] and result["posted"]["outcome"] == "posted"
    ledger = vouchers_in(emulator)
    assert len(ledger) == 3
    original = next(v for v in ledger if v["id"] == first["tripletex_voucher_id"])
    assert original["reverseVoucher"]["id"] == result["reversed"][0]
    with staging_engine.connect() as conn:
        rows = day_versions(conn, cfg.tenant, day)
    assert [r.status for r in rows] == ["reversed", "posted"]
    assert "kari" in rows[0].note and "wrong stripe account" in rows[0].note
    assert rows[1].kind == "repost" and "kari" in rows[1].note
    assert _ledger_sums(emulator) == _journal_sums(staging_engine, cfg, day)
    assert reconcile(staging_engine, cfg, make_client(emulator), days=7, today=day + dt.timedelta(days=1))
