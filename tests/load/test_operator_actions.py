"""What people do by hand (force-repost, release-day, re-runs) against the emulator over real HTTP: a
tenant-day keeps at most one effective voucher chain whose sums equal the journal of its records."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import pipeline
from bookspot_tripletex.load.corrections import force_repost
from bookspot_tripletex.load.errors import ActionRefused
from bookspot_tripletex.load.state import day_versions
from bookspot_tripletex.staging.release import release_day
from bookspot_tripletex.tenants.store import load_tenant
from helpers import read_jsonl, record, setup_tenant
from simulator_support import tripletex_connection
from tripletex_support import make_client, vouchers_in

DAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 25, 1, tzinfo=dt.UTC)


def ledger_of_day(server: EmulatorServer, tenant: str, day: dt.date) -> tuple[int, Counter[tuple[int, int]]]:
    """Live vouchers of ours for the day (neither reversed nor reversals) and the øre per (account, VAT
    type) of all of them together, reversals included."""
    prefix = f"bookspot:{tenant}:{day.isoformat()}:"
    ours = [v for v in vouchers_in(server) if (v.get("externalVoucherNumber") or "").startswith(prefix)]
    sums: Counter[tuple[int, int]] = Counter()
    for v in ours:
        for p in v["postings"]:
            if p.get("row", 0) >= 1:
                key = (int(p["account"]["number"]), int(p["vatType"]["number"]))
                sums[key] += int(Decimal(str(p["amountGross"])) * 100)
    live = [v for v in ours if not v.get("reverseVoucher")]
    return len(live), +sums


def journal_of_day(engine, tenant: str, day: dt.date) -> Counter[tuple[int, int]]:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.journal.build import build_day

    with engine.connect() as conn:
        journal = build_day(conn, load_tenant(conn, tenant), day)
    sums: Counter[tuple[int, int]] = Counter()
    for p in journal.voucher.postings if journal.voucher else ():
        sums[(p.account, p.vat_type)] += p.amount_ore
    return +sums


@pytest.fixture
def held_tenant(  # type: ignore[no-untyped-def]
    staging_engine, emulator, example_tenant_file: Path, example_feed: Path, tmp_path, monkeypatch
):
    """fjord-kayak from DAY on, its feed the worked example plus a record without a payment method."""
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text().replace("start_date: 2026-01-01", f"start_date: {DAY}")
    )
    cfg = setup_tenant(staging_engine, tenant_file)
    no_method = record("tx_nomethod", "2026-11-24T12:00:00+01:00", method=None)  # type: ignore[arg-type]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in [*read_jsonl(example_feed), no_method]))
    bookspot = {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}", json.dumps(bookspot))
    tripletex_connection(monkeypatch, cfg.tripletex_conn_id, emulator.url, emulator.config.companies[0])
    return cfg


def night(engine, run_id: str, rerun: bool = False) -> pipeline.NightResult:  # type: ignore[no-untyped-def]
    """A night of the tenant up to DAY; with `rerun`, a re-run (or backfill) of DAY alone."""
    days = (DAY,) if rerun else None
    return pipeline.run_night(engine, ["fjord-kayak"], pipeline.Night(run_id, DAY, days=days, now=NOW))


def test_a_held_day_forced_then_released_is_posted_once(staging_engine, emulator, held_tenant) -> None:
    cfg = held_tenant
    [first] = night(staging_engine, "night-1").outcomes
    assert first.outcome.value == "held" and first.counts["quarantined"] == 1
    with pytest.raises(ActionRefused) as refused:
        force_repost(staging_engine, cfg, DAY, make_client(emulator), "kari", "post it anyway")
    assert "held" in str(refused.value) and "release-day" in str(refused.value)
    assert vouchers_in(emulator) == []
    with staging_engine.begin() as conn:
        assert release_day(conn, cfg.tenant, DAY, "kari", "the record is a test booking") == 1
    [second] = night(staging_engine, "night-2").outcomes
    assert second.outcome.value == "posted"
    live, sums = ledger_of_day(emulator, cfg.tenant, DAY)
    assert live == 1
    assert sums == journal_of_day(staging_engine, cfg.tenant, DAY)
    assert night(staging_engine, "night-3").outcomes == []
    [rerun] = night(staging_engine, "rerun-1", rerun=True).outcomes
    assert rerun.outcome.value == "already_posted"
    assert ledger_of_day(emulator, cfg.tenant, DAY)[0] == 1
    with staging_engine.connect() as conn:
        assert [(r.version, r.status) for r in day_versions(conn, cfg.tenant, DAY)] == [(1, "posted")]
