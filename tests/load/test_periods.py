"""Closed periods read, not guessed: with the emulator closing months, a correction into them goes to
the first open date that Tripletex's accounting periods name, with the error-text match switched off;
the periods are read once per client; its stored report says where it went and why."""

from __future__ import annotations

import datetime as dt

import pytest

from bookspot_tripletex.load.periods import Period, first_open
from bookspot_tripletex.load.post import post_day
from bookspot_tripletex.validation.store import refresh_report
from tripletex_support import COMPANY_ID, make_client, vouchers_in

PERIODS_PATH = "/v2/ledger/accountingPeriod"


def _void_first_record(engine, cfg, example_feed) -> None:  # type: ignore[no-untyped-def]
    from helpers import read_jsonl, stage

    first = read_jsonl(example_feed)[0]
    first.update(status="voided", updated_at="2026-11-26T08:00:00+01:00")
    stage(engine, cfg, [first])


def test_a_correction_into_closed_months_goes_to_the_first_open_date(
    staging_engine, staged_day, emulator, client, example_feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH", "0")
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    emulator.admin(
        "PUT", f"companies/{COMPANY_ID}/closed_periods", [{"start": "2026-11-01", "end": "2027-01-01"}]
    )
    _void_first_record(staging_engine, cfg, example_feed)
    emulator.admin("DELETE", "requests")
    night = make_client(emulator)
    [correction] = post_day(staging_engine, cfg, day, night, "night-2")["corrections"]
    assert correction["status"] == "posted" and correction["posting_date"] == "2027-01-01"
    assert correction["note"] == (
        "moved from 2026-11-24 to 2027-01-01: the accounting period 2026-11-01 to 2027-01-01 is closed "
        "in Tripletex"
    )
    assert [v["date"] for v in vouchers_in(emulator, "bookspot:fjord-kayak:2026-11-24:v2")] == ["2027-01-01"]
    calls = [r for r in emulator.admin("GET", "requests")["values"] if r["path"] == PERIODS_PATH]
    assert len(calls) == 1
    refused_posts = [
        r
        for r in emulator.admin("GET", "requests")["values"]
        if r["path"].startswith("/v2/ledger/voucher") and int(r.get("status") or 0) >= 400
    ]
    assert refused_posts == [], "nothing was sent into the closed months"

    with staging_engine.begin() as conn:
        stored = refresh_report(conn, cfg.tenant, day, "night-2", "corrected")
    [reported] = stored.model["corrections"]
    assert reported["posting_date"] == "2027-01-01" and "is closed in Tripletex" in reported["note"]
    assert "moved from 2026-11-24 to 2027-01-01" in stored.html

    from bookspot_tripletex.load.periods import open_date

    assert open_date(night, dt.date(2026, 12, 5)).day == dt.date(2027, 1, 1)  # type: ignore[union-attr]
    calls = [r for r in emulator.admin("GET", "requests")["values"] if r["path"] == PERIODS_PATH]
    assert len(calls) == 1, "the periods are read once per client (one a tenant and night)"


def test_without_the_periods_and_the_text_match_a_closed_month_refuses(
    staging_engine, staged_day, emulator, client, example_feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback is what it says: switched off, and with periods that cannot be read, a refusal is a
    refusal (the day's voucher is never moved on a guess)."""
    from bookspot_tripletex.load.errors import DayRefused
    from bookspot_tripletex.load.protocol import ClosedPeriod
    from bookspot_tripletex.tripletex.client import TripletexClient

    monkeypatch.setenv("BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH", "0")
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "night-1")
    emulator.admin(
        "PUT", f"companies/{COMPANY_ID}/closed_periods", [{"start": "2026-11-01", "end": "2026-12-01"}]
    )
    _void_first_record(staging_engine, cfg, example_feed)

    def unreadable(self, start_from, start_to):  # type: ignore[no-untyped-def]
        raise PermissionError("no access to accounting periods")

    monkeypatch.setattr(TripletexClient, "accounting_periods", unreadable)
    with pytest.raises(DayRefused, match="stengt") as refused:
        post_day(staging_engine, cfg, day, make_client(emulator), "night-2")
    assert not isinstance(refused.value, ClosedPeriod)
    assert vouchers_in(emulator, "bookspot:fjord-kayak:2026-11-24:v2") == []


def test_first_open_reads_the_periods() -> None:
    months = [
        Period(dt.date(2026, m, 1), dt.date(2026, m + 1, 1) if m < 12 else dt.date(2027, 1, 1), m in (10, 11))
        for m in range(1, 13)
    ]
    assert first_open(months, dt.date(2026, 9, 30)).day == dt.date(2026, 9, 30)  # type: ignore[union-attr]
    moved = first_open(months, dt.date(2026, 10, 15))
    assert moved is not None and moved.day == dt.date(2026, 12, 1) and moved.moved
    assert first_open(months, dt.date(2027, 3, 1)) is None, "a date the periods do not cover is not decided"
    all_closed = [Period(p.start, p.end, True) for p in months]
    assert first_open(all_closed, dt.date(2026, 5, 5)) is None
