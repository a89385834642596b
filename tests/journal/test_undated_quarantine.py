"""A quarantined record whose day cannot be read holds every unposted day of its tenant until released."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.staging.release import release_day, release_record
from bookspot_tripletex.staging.schema import quarantine
from helpers import read_jsonl, record, setup_tenant, stage

DAY = dt.date(2026, 11, 24)
NEXT = DAY + dt.timedelta(days=1)


@pytest.fixture
def undated(staging_engine, example_tenant_file: Path, example_feed: Path):  # type: ignore[no-untyped-def]
    """The worked example's day, the next day with one sale, and a 1,280 NOK sale without a UTC offset."""
    cfg = setup_tenant(staging_engine, example_tenant_file)
    sale = record("tx_no_offset", "2026-11-24T12:00:00", [("activity", 128000, "25")])
    result = stage(
        staging_engine,
        cfg,
        [*read_jsonl(example_feed), record("tx_next", "2026-11-25T10:00:00+01:00"), sale],
    )
    assert result.quarantined == 1
    with staging_engine.connect() as conn:
        assert conn.execute(select(quarantine.c.local_date)).scalar_one() is None
    return cfg


def statuses(engine, cfg, *days: dt.date) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [build_day(conn, cfg, day).status for day in days]


def test_it_holds_every_unposted_day_naming_the_record(staging_engine, undated) -> None:  # type: ignore[no-untyped-def]
    with staging_engine.connect() as conn:
        journal = build_day(conn, undated, DAY)
    assert journal.status == "held" and journal.voucher is not None
    [held] = journal.quarantined
    assert held["id"] == "tx_no_offset" and "128000" in held["raw"]
    assert "occurred_at" in held["reason"] and "every unposted day" in held["reason"]
    assert statuses(staging_engine, undated, NEXT, NEXT + dt.timedelta(days=30)) == ["held", "held"]


def test_releasing_a_day_releases_it_for_every_day(staging_engine, undated) -> None:  # type: ignore[no-untyped-def]
    with staging_engine.begin() as conn:
        assert release_day(conn, "fjord-kayak", DAY, "kari") == 1
    assert statuses(staging_engine, undated, DAY, NEXT) == ["ready", "ready"]
    with staging_engine.connect() as conn:
        note = conn.execute(select(quarantine.c.released_by)).scalar_one()
    assert note == "day 2026-11-24 released by kari"


def test_releasing_the_record_by_its_id(staging_engine, undated) -> None:  # type: ignore[no-untyped-def]
    with staging_engine.begin() as conn:
        assert release_record(conn, "fjord-kayak", "tx_other", "kari") == 0
    assert statuses(staging_engine, undated, DAY) == ["held"]
    with staging_engine.begin() as conn:
        assert release_record(conn, "fjord-kayak", "tx_no_offset", "kari") == 1
    assert statuses(staging_engine, undated, DAY, NEXT) == ["ready", "ready"]
    with staging_engine.begin() as conn, pytest.raises(ValueError, match="who releases"):
        release_record(conn, "fjord-kayak", "tx_no_offset", " ")
