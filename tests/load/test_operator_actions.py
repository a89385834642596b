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
from bookspot_tripletex.tenants.config import TenantConfig
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
def tenant_with(
    staging_engine, emulator, example_tenant_file: Path, example_feed: Path, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    """fjord-kayak from DAY on, its feed the worked example plus the records given, connections to the
    emulator; returns its config."""

    def make(*extra: dict, start: dt.date = DAY) -> TenantConfig:
        tenant_file = tmp_path / "t.yaml"
        tenant_file.write_text(
            example_tenant_file.read_text().replace("start_date: 2026-01-01", f"start_date: {start}")
        )
        cfg = setup_tenant(staging_engine, tenant_file)
        feed = tmp_path / "feed.jsonl"
        feed.write_text("".join(json.dumps(r) + "\n" for r in [*read_jsonl(example_feed), *extra]))
        bookspot = {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}", json.dumps(bookspot))
        tripletex_connection(monkeypatch, cfg.tripletex_conn_id, emulator.url, emulator.config.companies[0])
        return cfg

    return make


@pytest.fixture
def held_tenant(tenant_with):  # type: ignore[no-untyped-def]
    """A record without a payment method holds DAY."""
    return tenant_with(record("tx_nomethod", "2026-11-24T12:00:00+01:00", method=None))


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


def import_mapping(engine, cfg: TenantConfig, valid_from: dt.date, accounts: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """A new mapping version of the tenant, valid from `valid_from`, with some accounts changed."""
    import dataclasses

    from bookspot_tripletex.tenants.config import MappingVersion
    from bookspot_tripletex.tenants.store import import_tenant

    base = cfg.mappings[0]
    new = MappingVersion(
        valid_from=valid_from, accounts={**base.accounts, **accounts}, vat_types=base.vat_types
    )
    with engine.begin() as conn:
        import_tenant(conn, dataclasses.replace(cfg, mappings=(*cfg.mappings, new)))


def accounts_of(row) -> set[int]:  # type: ignore[no-untyped-def]
    return {p.account for p in row.postings}


def test_a_forced_repost_keeps_the_days_mapping_unless_asked_for_the_current_one(
    staging_engine, emulator, tenant_with
) -> None:
    from bookspot_tripletex.validation.store import latest_report

    cfg = tenant_with()
    [posted] = night(staging_engine, "night-1").outcomes
    assert posted.outcome.value == "posted"
    import_mapping(staging_engine, cfg, dt.date(2026, 11, 1), {"settlement.stripe": 1582})
    client = make_client(emulator)
    kept = pipeline.force_repost_day(staging_engine, cfg.tenant, DAY, client, "kari", "stripe account")
    assert (
        kept["mapping"]["used"] == "posted" and kept["mapping"]["current"] != kept["mapping"]["posted_with"]
    )
    assert {"key": "settlement.stripe", "old": 1580, "new": 1582} in [
        {k: c[k] for k in ("key", "old", "new")} for c in kept["mapping"]["changes"]
    ]
    assert "as posted" in kept["note"] and "--use-current-mapping" in kept["note"]
    with staging_engine.connect() as conn:
        v1, v2 = day_versions(conn, cfg.tenant, DAY)
    assert v2.mapping_version_id == v1.mapping_version_id
    assert sorted((p.account, p.vat_type, p.amount_ore) for p in v2.postings) == sorted(
        (p.account, p.vat_type, p.amount_ore) for p in v1.postings
    )

    current = pipeline.force_repost_day(
        staging_engine, cfg.tenant, DAY, make_client(emulator), "kari", "new sales account", True
    )
    assert current["mapping"]["used"] == "current"
    assert (
        "with the current mapping version" in current["note"]
        and "settlement.stripe 1580 -> 1582" in current["note"]
    )
    with staging_engine.connect() as conn:
        rows = day_versions(conn, cfg.tenant, DAY)
        report = latest_report(conn, cfg.tenant, DAY)
    assert [(r.version, r.status) for r in rows] == [(1, "reversed"), (2, "reversed"), (3, "posted")]
    assert rows[2].mapping_version_id == current["mapping"]["current"]
    assert 1580 in accounts_of(rows[1]) and 1580 not in accounts_of(rows[2])
    assert any(
        "with the current mapping version" in (c.get("note") or "") for c in report.model["corrections"]
    )
    live, sums = ledger_of_day(emulator, cfg.tenant, DAY)
    assert live == 1 and sums == journal_of_day(staging_engine, cfg.tenant, DAY)
    assert 1580 not in {account for account, _ in sums}

    import_mapping(staging_engine, cfg, dt.date(2026, 11, 10), {"sales.25": 3001})  # 3001 takes VAT 31 only
    with pytest.raises(ActionRefused, match="fails Tripletex's activation check, so nothing was reversed"):
        force_repost(
            staging_engine, cfg, DAY, make_client(emulator), "kari", "again", use_current_mapping=True
        )
    assert ledger_of_day(emulator, cfg.tenant, DAY) == (live, sums)


def test_a_repost_whose_answer_was_lost_is_finished_by_the_next_run(
    staging_engine, emulator, tenant_with
) -> None:
    from bookspot_tripletex.tripletex.errors import TripletexError

    cfg = tenant_with()
    night(staging_engine, "night-1")
    reverse = {"action": "error_after", "method": "PUT", "path": "/ledger/voucher/*/:reverse", "status": 502}
    read = {"action": "error", "method": "GET", "path": "/ledger/voucher/*", "status": 503, "times": 50}
    emulator.admin("POST", "faults", {"rules": [reverse, read]})  # reversed, and then nothing heard
    with pytest.raises(TripletexError):
        force_repost(staging_engine, cfg, DAY, make_client(emulator), "kari", "wrong account")
    emulator.admin("DELETE", "faults")
    assert ledger_of_day(emulator, cfg.tenant, DAY)[0] == 0  # reversed in Tripletex; staging did not hear
    [finished] = night(staging_engine, "night-2").outcomes
    assert finished.outcome.value == "corrected" and finished.counts["corrections"] == 1
    live, sums = ledger_of_day(emulator, cfg.tenant, DAY)
    assert live == 1 and sums == journal_of_day(staging_engine, cfg.tenant, DAY)
    with staging_engine.connect() as conn:
        rows = day_versions(conn, cfg.tenant, DAY)
    assert [(r.version, r.kind, r.status) for r in rows] == [(1, "day", "reversed"), (2, "repost", "posted")]
    assert "kari" in (rows[1].note or "")
    assert night(staging_engine, "night-3", rerun=True).outcomes[0].outcome.value == "already_posted"
    assert ledger_of_day(emulator, cfg.tenant, DAY)[0] == 1


def test_a_version_of_a_never_posted_day_is_never_sent(staging_engine, emulator, held_tenant) -> None:
    from sqlalchemy import update

    from bookspot_tripletex.load.corrections import build_correction
    from bookspot_tripletex.load.errors import DayRefused
    from bookspot_tripletex.load.post import post_row
    from bookspot_tripletex.staging.schema import vouchers

    cfg = held_tenant
    night(staging_engine, "night-1")
    with staging_engine.begin() as conn:
        assert build_correction(conn, cfg, DAY, kind="repost") is None
        v1 = day_versions(conn, cfg.tenant, DAY)[0]
        conn.execute(
            vouchers.insert().values(
                tenant_id=cfg.tenant,
                local_date=DAY,
                version=2,
                external_number=f"{v1.external_number[:-1]}2",
                mapping_version_id=v1.mapping_version_id,
                status="ready",
                kind="repost",
                postings=[p.as_record() for p in v1.postings],
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
        conn.execute(update(vouchers).where(vouchers.c.id == v1.id).values(status="ready"))
        rows = day_versions(conn, cfg.tenant, DAY)
    for row in rows:
        with pytest.raises(DayRefused, match="never posted|ever posted"):
            post_row(staging_engine, cfg, row, make_client(emulator), "someone")
    assert vouchers_in(emulator, drafts=True) == []


def test_a_correction_whose_answer_was_lost_is_posted_by_the_next_night(
    staging_engine, emulator, tenant_with
) -> None:
    from helpers import stage

    cfg = tenant_with()
    night(staging_engine, "night-1")
    late = record("tx_late", "2026-11-24T15:00:00+01:00", updated_at="2026-11-25T01:00:00+01:00")
    stage(staging_engine, cfg, [late])
    drop = {"action": "drop", "method": "POST", "path": "/ledger/voucher", "times": 1}
    emulator.admin("POST", "faults", {"rules": [drop]})
    [unclear] = night(staging_engine, "night-2").outcomes
    assert unclear.outcome.value == "retry"
    emulator.admin("DELETE", "faults")
    with staging_engine.connect() as conn:
        assert [(r.version, r.status) for r in day_versions(conn, cfg.tenant, DAY)] == [
            (1, "posted"),
            (2, "posting"),
        ]
    [done] = night(staging_engine, "night-3").outcomes
    assert done.outcome.value == "corrected" and done.counts["corrections"] == 1
    with staging_engine.connect() as conn:
        assert [(r.version, r.status) for r in day_versions(conn, cfg.tenant, DAY)] == [
            (1, "posted"),
            (2, "posted"),
        ]
    live, sums = ledger_of_day(emulator, cfg.tenant, DAY)
    assert live == 2 and sums == journal_of_day(staging_engine, cfg.tenant, DAY)


def test_a_record_staged_by_a_backfill_of_other_days_is_posted_by_the_next_night(
    staging_engine, emulator, tenant_with, tmp_path
) -> None:
    before = DAY - dt.timedelta(days=1)
    cfg = tenant_with(start=before)
    assert sorted(o.outcome.value for o in night(staging_engine, "night-1").outcomes) == ["empty", "posted"]
    late = record("tx_late", "2026-11-23T15:00:00+01:00", updated_at="2026-11-25T01:00:00+01:00")
    with (tmp_path / "feed.jsonl").open("a") as feed:
        feed.write(json.dumps(late) + "\n")
    [rerun] = night(staging_engine, "backfill-1", rerun=True).outcomes  # DAY only; stages the record
    assert rerun.day == DAY
    [filled] = night(staging_engine, "night-2").outcomes
    assert (filled.day, filled.outcome.value) == (before, "posted")
    live, sums = ledger_of_day(emulator, cfg.tenant, before)
    assert live == 1 and sums == journal_of_day(staging_engine, cfg.tenant, before)


def test_two_operators_forcing_one_day_at_once_leave_one_chain(staging_engine, emulator, tenant_with) -> None:
    import threading

    cfg = tenant_with()
    night(staging_engine, "night-1")
    for round_ in range(3):
        both = [
            threading.Thread(
                target=lambda who: _force_quietly(staging_engine, cfg, make_client(emulator), who),
                args=(who,),
            )
            for who in (f"kari-{round_}", f"ola-{round_}")
        ]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
        night(staging_engine, f"night-{round_ + 2}")
        live, sums = ledger_of_day(emulator, cfg.tenant, DAY)
        assert live == 1, round_
        assert sums == journal_of_day(staging_engine, cfg.tenant, DAY)


def _force_quietly(engine, cfg, client, who: str) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.load.errors import VoucherBusy

    try:
        force_repost(engine, cfg, DAY, client, who, "at the same time")
    except (ActionRefused, VoucherBusy):
        pass
