"""Reconciliation against the emulator over real HTTP: the ledger checked against the journal per day,
listings that lag, late and stray drafts, repairs by the one protocol, and the days it covers."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest
from load_support import fast_client, post_until_done
from sqlalchemy import select

from bookspot_tripletex.load.errors import ReconcileMismatch
from bookspot_tripletex.load.post import as_voucher, post_day
from bookspot_tripletex.load.reconcile import reconcile
from bookspot_tripletex.load.state import day_versions, get_voucher
from bookspot_tripletex.staging.schema import reconcile_marks
from bookspot_tripletex.tripletex.payload import voucher_payload
from tripletex_support import COMPANY_ID, make_client, vouchers_in

LAG = 120


def _live(emulator) -> list[dict]:  # type: ignore[no-untyped-def]
    return [v for v in vouchers_in(emulator) if not v.get("reverseVoucher")]


def _drafts(emulator) -> list[dict]:  # type: ignore[no-untyped-def]
    return [v for v in vouchers_in(emulator, drafts=True) if not v["number"]]


def _ledger_sums(emulator) -> Counter[tuple[int, int]]:  # type: ignore[no-untyped-def]
    sums: Counter[tuple[int, int]] = Counter()
    for v in _live(emulator):
        for p in v["postings"]:
            if p.get("row", 0) >= 1:
                key = (int(p["account"]["number"]), int(p["vatType"]["number"]))
                sums[key] += int(Decimal(str(p["amountGross"])) * 100)
    return sums


def _payload(engine, cfg, day, client, ext: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """The day's voucher as the protocol sends it, optionally under another externalVoucherNumber."""
    with engine.connect() as conn:
        row = get_voucher(conn, cfg.tenant, day)
    voucher = as_voucher(row)
    if ext is not None:
        voucher = replace(voucher, external_number=ext)
    accounts = client.accounts_by_number([p.account for p in voucher.postings])
    vats = client.vat_types_by_number([p.vat_type for p in voucher.postings])
    accounts = {n: a["id"] for n, a in accounts.items()}
    vats = {n: v["id"] for n, v in vats.items()}
    return voucher_payload(voucher, accounts, vats)


def _lagging(emulator, **more) -> None:  # type: ignore[no-untyped-def]
    emulator.admin("POST", "faults", {"listing_lag_seconds": LAG, **more})


def _advance(emulator, seconds: float) -> None:  # type: ignore[no-untyped-def]
    emulator.admin("POST", "clock", {"advance_seconds": seconds})


def _mark(engine, tenant: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(reconcile_marks).where(reconcile_marks.c.tenant_id == tenant)).first()


TODAY = dt.date(2026, 11, 25)


def test_a_second_voucher_behind_our_back_holds_the_day_until_repaired(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "night-1")
    duplicate = client.post_voucher_once(_payload(staging_engine, cfg, day, client))
    for _ in range(2):  # a held state: the next reconciliation says it again, never "match"
        with pytest.raises(ReconcileMismatch) as caught:
            reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
        assert list(caught.value.days) == [day]
        text = " ".join(caught.value.days[day])
        assert "2 live vouchers" in text and str(duplicate["id"]) in text
        assert "journal 2 times" in text
        assert len(_live(emulator)) == 2
    assert _mark(staging_engine, cfg.tenant) is None

    with pytest.raises(ReconcileMismatch, match=f"duplicate voucher {duplicate['id']} reversed"):
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY, repair=True)
    assert [v["id"] for v in _live(emulator)] == [first["tripletex_voucher_id"]]
    result = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert result["problems"] == [] and result["days"] == 1
    assert _mark(staging_engine, cfg.tenant).days == 1


def test_a_voucher_of_ours_that_staging_never_posted_is_a_second_chain(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    stranger = "bookspot:fjord-kayak:2026-11-24:v7"
    client.post_voucher_once(_payload(staging_engine, cfg, day, client, ext=stranger))
    with pytest.raises(ReconcileMismatch) as caught:
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY, repair=True)
    assert f"{stranger}: live voucher(s)" in caught.value.days[day][0]
    assert len(_live(emulator)) == 2  # nobody guesses which one to take back: a person decides


def test_a_lagging_listing_is_no_evidence_of_a_deletion(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    _lagging(emulator)
    post_day(staging_engine, cfg, day, client, "night-1")
    listed = make_client(emulator).list_vouchers(day, day + dt.timedelta(days=1))
    assert listed == []  # the listing has not caught up
    result = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY, repair=True)
    assert result["problems"] == [] and result["confirmed_by_id"] == 1
    with staging_engine.connect() as conn:
        assert [r.status for r in day_versions(conn, cfg.tenant, day)] == ["posted"]
    assert len(_live(emulator)) == 1


def test_repair_posts_a_deleted_day_again_once(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "night-1")
    _lagging(emulator)
    emulator.admin("DELETE", f"companies/{COMPANY_ID}/vouchers/{first['tripletex_voucher_id']}")
    with pytest.raises(ReconcileMismatch, match="gone from Tripletex") as caught:
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY, repair=True)
    assert "posted again (posted)" in " ".join(caught.value.days[day])
    with staging_engine.connect() as conn:
        rows = day_versions(conn, cfg.tenant, day)
    assert [(r.status, r.kind) for r in rows] == [("reversed", "day"), ("posted", "repost")]
    assert "deleted in Tripletex" in rows[0].note
    assert len(_live(emulator)) == 1
    assert post_day(staging_engine, cfg, day, make_client(emulator), "night-2")["outcome"] == "already_posted"
    assert reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)["problems"] == []
    assert len(_live(emulator)) == 1


def test_repair_posts_a_day_reversed_behind_our_back_again(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "night-1")
    emulator.admin("POST", f"companies/{COMPANY_ID}/vouchers/{first['tripletex_voucher_id']}/reverse")
    with pytest.raises(ReconcileMismatch, match="reversed in Tripletex by someone else") as caught:
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert "no live voucher" in " ".join(caught.value.days[day])
    with staging_engine.connect() as conn:
        assert [r.status for r in day_versions(conn, cfg.tenant, day)] == ["posted"]  # no repair asked
    with pytest.raises(ReconcileMismatch, match="posted again"):
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY, repair=True)
    assert len(_live(emulator)) == 1
    assert reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)["problems"] == []


def test_a_repost_the_repair_could_not_finish_is_posted_by_the_next_run(
    staging_engine, staged_day, emulator, client
) -> None:
    from bookspot_tripletex.staging.due import correction_days

    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "night-1")
    emulator.admin("DELETE", f"companies/{COMPANY_ID}/vouchers/{first['tripletex_voucher_id']}")
    rule = {"action": "error", "method": "POST", "path": "/ledger/voucher", "status": 503, "times": 1}
    emulator.admin("POST", "faults", {"rules": [rule]})
    with pytest.raises(ReconcileMismatch, match="the next run posts it"):
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY, repair=True)
    assert _live(emulator) == []
    with staging_engine.connect() as conn:
        assert correction_days(conn, [cfg.tenant], TODAY)[cfg.tenant] == {day}
        [_, repost] = day_versions(conn, cfg.tenant, day)
    assert repost.status == "posting" and repost.kind == "repost"
    [again] = post_day(staging_engine, cfg, day, make_client(emulator), "night-2")["corrections"]
    assert again["outcome"] == "posted"
    assert len(_live(emulator)) == 1
    assert reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)["problems"] == []


def _doubt(engine, tenant: str, day: dt.date) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.load.doubts import add_doubt
    from bookspot_tripletex.load.state import get_voucher

    with engine.begin() as conn:
        add_doubt(conn, get_voucher(conn, tenant, day), day, "draft_post")


def test_a_day_without_a_doubt_about_a_draft_lists_no_drafts(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    emulator.admin("DELETE", "requests")
    result = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert result["problems"] == [] and "non_posted_vouchers" not in result["calls_by_kind"]


def test_our_stray_drafts_go_once_the_day_is_posted(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    stray = client.post_draft(_payload(staging_engine, cfg, day, client))
    _doubt(staging_engine, cfg.tenant, day)  # what a draft POST whose answer was lost leaves
    theirs = {**_payload(staging_engine, cfg, day, client), "externalVoucherNumber": "theirs"}
    other = client.post_draft(theirs)
    result = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert result["drafts_deleted"] == 1 and result["drafts_deleted_by_day"] == {day.isoformat(): 1}
    assert [d["id"] for d in _drafts(emulator)] == [other["id"]]
    assert stray["id"] not in {d["id"] for d in _drafts(emulator)}
    assert _mark(staging_engine, cfg.tenant).drafts_deleted == 1


def test_with_listings_lagging_a_late_draft_is_gone_after_the_next_night(
    staging_engine, staged_day, emulator
) -> None:
    cfg, day = staged_day
    late = {"action": "late_commit", "method": "POST", "path": "/ledger/voucher", "seconds": 1.5, "times": 1}
    _lagging(emulator, rules=[late])
    outcomes = post_until_done(staging_engine, cfg, day, lambda: fast_client(emulator, timeout=0.5))
    assert outcomes[0] == "OutcomeUnclear" and outcomes[-1] == "posted"
    time.sleep(2)  # the first draft lands after the client gave up
    assert len(_drafts(emulator)) == 1 and len(_live(emulator)) == 1
    night_1 = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert night_1["problems"] == [] and night_1["drafts_deleted"] == 0  # still hidden by the lag
    _advance(emulator, LAG + 1)
    night_2 = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert night_2["problems"] == [] and night_2["drafts_deleted"] == 1
    assert _drafts(emulator) == [] and len(_live(emulator)) == 1


def test_a_correction_40_days_back_is_read_back_by_the_next_reconciliation(
    staging_engine, staged_day, emulator, client, example_feed, monkeypatch
) -> None:
    from helpers import read_jsonl, stage

    monkeypatch.setenv("BOOKSPOT_RECONCILE_ROLLING_DAYS", "0")
    monkeypatch.setenv("BOOKSPOT_RECONCILE_SETTLE_SECONDS", "0")
    cfg, day = staged_day
    later = day + dt.timedelta(days=40)
    post_day(staging_engine, cfg, day, client, "night-1")
    assert reconcile(staging_engine, cfg, client, today=day)["days"] == 1
    quiet = reconcile(staging_engine, cfg, client, today=later)
    assert quiet["days"] == 0 and quiet["calls"] == 0  # nothing touched: nothing read

    first = read_jsonl(example_feed)[0]
    first.update(status="voided", updated_at="2027-01-02T08:00:00+01:00")
    stage(staging_engine, cfg, [first])
    [correction] = post_day(staging_engine, cfg, day, make_client(emulator), "night-40")["corrections"]
    emulator.admin("DELETE", f"companies/{COMPANY_ID}/vouchers/{correction['tripletex_voucher_id']}")
    with pytest.raises(ReconcileMismatch) as caught:
        reconcile(staging_engine, cfg, make_client(emulator), today=later)
    assert list(caught.value.days) == [day]
    assert "v2: voucher" in caught.value.days[day][0] and "gone from Tripletex" in caught.value.days[day][0]
    assert caught.value.result["touched"] == 1


def test_the_rolling_pass_reads_untouched_days_of_open_periods(
    staging_engine, staged_day, emulator, client, monkeypatch
) -> None:
    monkeypatch.setenv("BOOKSPOT_RECONCILE_SETTLE_SECONDS", "0")
    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "night-1")
    reconcile(staging_engine, cfg, client, today=TODAY)
    emulator.admin("DELETE", f"companies/{COMPANY_ID}/vouchers/{first['tripletex_voucher_id']}")

    monkeypatch.setenv("BOOKSPOT_RECONCILE_ROLLING_DAYS", "0")
    assert reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)["days"] == 0
    monkeypatch.setenv("BOOKSPOT_RECONCILE_ROLLING_DAYS", "7")
    november = [{"start": "2026-11-01", "end": "2026-12-01"}]
    emulator.admin("PUT", f"companies/{COMPANY_ID}/closed_periods", november)
    closed = reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert closed["days"] == 0 and closed["calls_by_kind"] == {"accounting_periods": 1}
    emulator.admin("PUT", f"companies/{COMPANY_ID}/closed_periods", [])
    # the periods are kept in staging for the re-check schedule; 0 reads them again at once
    monkeypatch.setenv("BOOKSPOT_TRIPLETEX_RECHECK_DAYS", "0")
    with pytest.raises(ReconcileMismatch, match="gone from Tripletex") as caught:
        reconcile(staging_engine, cfg, make_client(emulator), today=TODAY)
    assert caught.value.result["rolling"] == 1 and caught.value.result["touched"] == 0


def test_ranges_join_nearby_days_into_one_listing() -> None:
    from bookspot_tripletex.load.reconcile import day_of, ranges

    d = dt.date(2026, 11, 1)
    days = {d, d + dt.timedelta(days=3), d + dt.timedelta(days=40)}
    far = d + dt.timedelta(days=40)
    assert ranges(days) == [(d, d + dt.timedelta(days=4)), (far, far + dt.timedelta(days=1))]
    assert day_of("fjord-kayak", "bookspot:fjord-kayak:2026-11-24:v2") == dt.date(2026, 11, 24)
    assert day_of("fjord-kayak", "bookspot:fjord-kayakx:2026-11-24:v2") is None
    assert day_of("fjord-kayak", None) is None


@pytest.fixture
def night_tenant(staging_engine, emulator, example_tenant_file, example_feed, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The worked example as a night sees it: its feed and Tripletex connections, three days due."""
    import json

    from helpers import setup_tenant
    from simulator_support import tripletex_connection

    feed = {"conn_type": "bookspot", "extra": {"feed_file": str(example_feed)}}
    monkeypatch.setenv("AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK", json.dumps(feed))
    tripletex_connection(monkeypatch, "tripletex_fjord_kayak", emulator.url, emulator.config.companies[0])
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text().replace("start_date: 2026-01-01", "start_date: 2026-11-22")
    )
    return setup_tenant(staging_engine, tenant_file)


def _night(engine, run_id: str) -> dict[dt.date, tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    from bookspot_tripletex import pipeline

    night = pipeline.Night(run_id, dt.date(2026, 11, 24), now=dt.datetime(2026, 11, 25, 1, tzinfo=dt.UTC))
    result = pipeline.run_night(engine, ["fjord-kayak"], night)
    return {o.day: (o.step, o.outcome.value, o.reason) for o in result.outcomes}


def test_a_night_holds_the_day_reconciliation_finds_twice_and_a_repair_settles_it(
    staging_engine, night_tenant, emulator
) -> None:
    from bookspot_tripletex.staging.outcomes import latest_outcomes

    cfg, day = night_tenant, dt.date(2026, 11, 24)
    assert _night(staging_engine, "run-1")[day][:2] == ("load", "posted")
    client = make_client(emulator)
    client.post_voucher_once(_payload(staging_engine, cfg, day, client))
    step, outcome, reason = _night(staging_engine, "run-2")[day]
    assert (step, outcome) == ("reconcile", "held") and "2 live vouchers" in reason
    with staging_engine.connect() as conn:
        latest = {(r.local_date, r.outcome) for r in latest_outcomes(conn) if r.tenant_id == cfg.tenant}
    assert (day, "held") in latest

    with pytest.raises(ReconcileMismatch):
        reconcile(staging_engine, cfg, make_client(emulator), repair=True)
    assert _night(staging_engine, "run-3")[day][:2] == ("reconcile", "already_posted")
    assert len(_live(emulator)) == 1
    with staging_engine.connect() as conn:
        latest = {(r.local_date, r.outcome) for r in latest_outcomes(conn) if r.tenant_id == cfg.tenant}
    assert (day, "already_posted") in latest


def test_after_a_repair_of_a_deleted_voucher_the_next_run_leaves_one_voucher(
    staging_engine, night_tenant, emulator
) -> None:
    cfg, day = night_tenant, dt.date(2026, 11, 24)
    assert _night(staging_engine, "run-1")[day][:2] == ("load", "posted")
    [voucher] = _live(emulator)
    emulator.admin("DELETE", f"companies/{COMPANY_ID}/vouchers/{voucher['id']}")
    step, outcome, reason = _night(staging_engine, "run-2")[day]
    assert (step, outcome) == ("reconcile", "held") and "gone from Tripletex" in reason
    assert _live(emulator) == []  # nothing is posted again without a person asking
    with pytest.raises(ReconcileMismatch, match="posted again"):
        reconcile(staging_engine, cfg, make_client(emulator), repair=True)
    assert _night(staging_engine, "run-3")[day][:2] == ("reconcile", "already_posted")
    assert len(_live(emulator)) == 1
    assert _ledger_sums(emulator) == _journal_sums(staging_engine, cfg, day)


def _journal_sums(engine, cfg, day) -> Counter[tuple[int, int]]:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.journal.build import build_day

    with engine.connect() as conn:
        journal = build_day(conn, cfg, day)
    sums: Counter[tuple[int, int]] = Counter()
    for p in journal.voucher.postings:
        sums[(p.account, p.vat_type)] += p.amount_ore
    return sums


def test_the_command_line_names_each_held_day_and_exits_non_zero(
    staging_engine, staging_url, night_tenant, emulator
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(root / "plugins")}
        command = [sys.executable, "-m", "bookspot_tripletex", "reconcile", "--tenant", "fjord-kayak"]
        return subprocess.run(
            [*command, "--staging-url", staging_url, *args], capture_output=True, text=True, env=env
        )

    cfg, day = night_tenant, dt.date(2026, 11, 24)
    _night(staging_engine, "run-1")
    client = make_client(emulator)
    duplicate = client.post_voucher_once(_payload(staging_engine, cfg, day, client))
    held = cli()
    assert held.returncode == 1, held.stderr
    assert f"HELD fjord-kayak {day}: " in held.stderr and "2 live vouchers" in held.stderr
    assert "Traceback" not in held.stderr
    repaired = cli("--repair")
    assert repaired.returncode == 1 and f"duplicate voucher {duplicate['id']} reversed" in repaired.stderr
    clean = cli()
    assert clean.returncode == 0, clean.stderr
    assert "each day in the ledger once" in clean.stdout and "0 stray draft(s) deleted" in clean.stdout


def test_the_night_after_a_correction_40_days_back_reads_that_day_back(
    staging_engine, night_tenant, emulator, example_feed, tmp_path, monkeypatch
) -> None:
    import json
    from urllib.parse import parse_qs

    from bookspot_tripletex import pipeline

    monkeypatch.setenv("BOOKSPOT_RECONCILE_ROLLING_DAYS", "0")
    day = dt.date(2026, 11, 24)
    assert _night(staging_engine, "run-1")[day][:2] == ("load", "posted")
    lines = example_feed.read_text().splitlines()
    voided = {**json.loads(lines[0]), "status": "voided", "updated_at": "2027-01-02T08:00:00+01:00"}
    feed = tmp_path / "later.jsonl"
    feed.write_text("\n".join([*lines, json.dumps(voided)]) + "\n")
    connection = {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
    monkeypatch.setenv("AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK", json.dumps(connection))
    emulator.admin("DELETE", "requests")
    until = day + dt.timedelta(days=40)
    night = pipeline.Night("run-2", until, now=dt.datetime(2027, 1, 4, 1, tzinfo=dt.UTC))
    result = pipeline.run_night(staging_engine, ["fjord-kayak"], night)
    assert not result.needs_person, result.problems()
    with staging_engine.connect() as conn:
        assert [r.status for r in day_versions(conn, "fjord-kayak", day)] == ["posted", "posted"]
    calls = emulator.admin("GET", "requests")["values"]
    sent = max(i for i, c in enumerate(calls) if c["path"].endswith("/:sendToLedger"))
    listings = [c["query"] for c in calls[sent:] if (c["method"], c["path"]) == ("GET", "/v2/ledger/voucher")]
    spans = [(q["dateFrom"][0], q["dateTo"][0]) for q in map(parse_qs, listings)]
    assert any(start <= day.isoformat() < end for start, end in spans), spans
