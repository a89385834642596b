"""Corrections, closed periods, forced re-posts and read-back reconciliation, over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from bookspot_tripletex.load.corrections import force_repost
from bookspot_tripletex.load.errors import ReconcileMismatch
from bookspot_tripletex.load.post import as_voucher, post_day
from bookspot_tripletex.load.reconcile import reconcile
from bookspot_tripletex.load.state import day_versions, get_voucher
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


def test_a_moved_correction_is_reported_with_its_date_and_why(
    staging_engine, staged_day, emulator, client, example_feed
) -> None:
    from bookspot_tripletex import pipeline
    from bookspot_tripletex.validation.store import latest_report

    cfg, day = staged_day
    assert pipeline.load_day(staging_engine, cfg.tenant, day, client, "night-1")["outcome"] == "posted"
    emulator.admin(
        "PUT", f"companies/{COMPANY_ID}/closed_periods", [{"start": "2026-11-01", "end": "2026-12-01"}]
    )
    _void_first_record(staging_engine, cfg, example_feed)
    loaded = pipeline.load_day(staging_engine, cfg.tenant, day, make_client(emulator), "night-2")
    assert pipeline.corrections_posted(staging_engine, loaded) == (1, -128_000)
    with staging_engine.connect() as conn:
        stored = latest_report(conn, cfg.tenant, day)
    assert stored is not None and stored.run_id == "night-2:corrected"
    (correction,) = stored.model["corrections"]
    assert correction["moved"] and correction["date"] == "2026-12-01" and "closed" in correction["note"]
    assert correction["changes"] == [{"id": "tx_000001", "change": "voided"}]
    assert "Dated 01.12.2026 (moved: moved from 2026-11-24 to 2026-12-01" in stored.html
    assert "the day&#39;s sales changed by -1\u00a0280,00 NOK" in stored.html
    net = {(r["account"], r["vat_type"]): int(Decimal(r["amount"]) * 100) for r in stored.model["net"]}
    assert +Counter(net) == _journal_sums(staging_engine, cfg, day) == _ledger_sums(emulator)
    assert -Counter(net) and sum(net.values()) == 0


def test_a_forced_repost_re_renders_the_report(staging_engine, staged_day, emulator, client) -> None:
    from bookspot_tripletex import pipeline
    from bookspot_tripletex.validation.store import latest_report

    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    since = dt.datetime.now(dt.UTC)
    force_repost(staging_engine, cfg, day, make_client(emulator), "kari", "wrong stripe account")
    assert pipeline.refresh_touched(staging_engine, cfg.tenant, since, "reposted") == [day]
    with staging_engine.connect() as conn:
        stored = latest_report(conn, cfg.tenant, day)
    (repost,) = stored.model["corrections"]
    assert (repost["kind"], repost["status"], repost["version"]) == ("repost", "posted", 2)
    assert "kari" in repost["note"] and repost["tripletex_number"]
    number = repost["tripletex_number"]
    assert (
        f"Forced re-post {repost['external_number']} (version 2, Tripletex voucher {number})" in stored.html
    )


def test_a_reconciliation_that_reverses_a_duplicate_re_renders_the_report(
    staging_engine, staged_day, emulator, client
) -> None:
    from bookspot_tripletex import pipeline
    from bookspot_tripletex.tripletex.payload import voucher_payload
    from bookspot_tripletex.validation.store import latest_report

    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    with staging_engine.connect() as conn:
        voucher = as_voucher(get_voucher(conn, cfg.tenant, day))
    accounts = {
        n: a["id"] for n, a in client.accounts_by_number([p.account for p in voucher.postings]).items()
    }
    vats = {n: v["id"] for n, v in client.vat_types_by_number([p.vat_type for p in voucher.postings]).items()}
    duplicate = client.post_voucher_once(voucher_payload(voucher, accounts, vats))
    since = dt.datetime.now(dt.UTC)
    with pytest.raises(ReconcileMismatch):
        reconcile(
            staging_engine, cfg, make_client(emulator), days=7, today=day + dt.timedelta(days=1), repair=True
        )
    assert pipeline.refresh_touched(staging_engine, cfg.tenant, since, "reconciled") == [day]
    with staging_engine.connect() as conn:
        stored = latest_report(conn, cfg.tenant, day)
    assert stored.run_id.startswith("reconciled-")
    assert stored.model["note"] == f"duplicate voucher {duplicate['id']} reversed by reconciliation"
    assert f"duplicate voucher {duplicate['id']} reversed by reconciliation" in stored.html
