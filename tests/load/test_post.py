"""Exactly-once posting against the emulator over real HTTP: re-runs, crashes, lost responses, races."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import update

from bookspot_tripletex.load.post import VoucherBusy, post_day
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.staging.schema import vouchers
from bookspot_tripletex.tripletex.errors import ValidationError
from tripletex_support import make_client, vouchers_in


def _user_postings(voucher: dict) -> dict[tuple[int, int], Decimal]:
    return {
        (int(p["account"]["number"]), int(p["vatType"]["number"])): Decimal(str(p["amountGross"]))
        for p in voucher["postings"]
        if p.get("row", 0) >= 1
    }


def test_posts_the_worked_example_once(staging_engine, staged_day, emulator, client) -> None:
    from helpers import worked_example_table

    cfg, day = staged_day
    first = post_day(staging_engine, cfg, day, client, "run-1")
    assert first["outcome"] == "posted" and first["status"] == "posted"
    held = vouchers_in(emulator)
    assert len(held) == 1
    assert held[0]["externalVoucherNumber"] == "bookspot:fjord-kayak:2026-11-24:v1"
    assert held[0]["date"] == "2026-11-24"
    assert _user_postings(held[0]) == worked_example_table()
    system = [p for p in held[0]["postings"] if p.get("row") == 0]
    assert {int(p["account"]["number"]) for p in system} == {2700, 2701, 2702}

    again = post_day(staging_engine, cfg, day, make_client(emulator), "run-2")
    assert again["outcome"] == "already_posted"
    assert len(vouchers_in(emulator)) == 1


def test_lost_response_after_commit_leaves_one_voucher(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    emulator.admin(
        "POST",
        "faults",
        {"rules": [{"action": "drop", "method": "POST", "path": "/ledger/voucher", "times": 1}]},
    )
    result = post_day(staging_engine, cfg, day, client, "run-1")
    assert result["status"] == "posted"
    assert len(vouchers_in(emulator)) == 1


def test_crash_after_posting_before_recording_is_healed_by_lookup(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "run-1")
    with staging_engine.begin() as conn:  # staging lost the outcome: as if the worker died after the POST
        conn.execute(
            update(vouchers).values(
                status="posting",
                claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                tripletex_voucher_id=None,
            )
        )
    result = post_day(staging_engine, cfg, day, make_client(emulator), "run-2")
    assert result["outcome"] == "found_existing" and result["status"] == "posted"
    assert len(vouchers_in(emulator)) == 1


def test_a_live_claim_makes_a_second_run_wait(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    with staging_engine.begin() as conn:
        conn.execute(
            update(vouchers).values(status="posting", claimed_by="other", claimed_at=dt.datetime.now(dt.UTC))
        )
    with pytest.raises(VoucherBusy):
        post_day(staging_engine, cfg, day, client, "run-2")
    assert vouchers_in(emulator) == []


def test_overlapping_runs_post_one_voucher(staging_engine, staged_day, emulator) -> None:
    cfg, day = staged_day
    emulator.admin("POST", "faults", {"latency_seconds": 0.2})
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            outcomes.append(post_day(staging_engine, cfg, day, make_client(emulator), name)["outcome"])
        except VoucherBusy as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(vouchers_in(emulator)) == 1
    assert outcomes.count("posted") == 1
    assert len(outcomes) + len(errors) == 3


def test_a_refusal_marks_the_day_failed_and_posts_nothing(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    with staging_engine.begin() as conn:
        row = get_voucher(conn, cfg.tenant, day)
        postings = [p.as_record() for p in row.postings]
        for p in postings:
            if p["account"] == 3001:
                p["account"] = 3000  # 3000 is locked to VAT type 3; this posting carries 31
        conn.execute(update(vouchers).values(postings=postings))
    with pytest.raises(ValidationError) as info:
        post_day(staging_engine, cfg, day, client, "run-1")
    assert "3000" in str(info.value) and "låst" in str(info.value)
    with staging_engine.connect() as conn:
        row = get_voucher(conn, cfg.tenant, day)
    assert row.status == "failed" and "låst" in (row.error or "")
    assert vouchers_in(emulator) == []


def test_unvalidated_voucher_is_not_posted(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    with staging_engine.begin() as conn:
        conn.execute(update(vouchers).values(status="built"))
    assert post_day(staging_engine, cfg, day, client, "run-1")["outcome"] == "held"
    assert vouchers_in(emulator) == []


def test_dry_run_posts_nothing(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    assert post_day(staging_engine, cfg, day, client, "run-1", dry_run=True)["outcome"] == "dry_run"
    assert vouchers_in(emulator) == []


def test_posted_day_keeps_its_mapping_after_a_change(
    staging_engine, staged_day, emulator, client, example_tenant_file, tmp_path
) -> None:
    from bookspot_tripletex.pipeline import journal_day
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant, mapping_for_day

    cfg, day = staged_day
    post_day(staging_engine, cfg, day, client, "run-1")
    changed = tmp_path / "t.yaml"
    changed.write_text(
        example_tenant_file.read_text().replace("settlement.stripe: 1580", "settlement.stripe: 1582")
    )
    with staging_engine.begin() as conn:
        result = import_tenant(conn, load_tenant_file(changed))
        assert result.new_versions == [(dt.date(2026, 1, 1), 2)]
        assert mapping_for_day(conn, cfg.tenant, day).revision == 1
        assert mapping_for_day(conn, cfg.tenant, day + dt.timedelta(days=1)).revision == 2
    assert journal_day(staging_engine, cfg.tenant, day)["status"] == "posted"
    with staging_engine.connect() as conn:
        assert 1580 in {p.account for p in get_voucher(conn, cfg.tenant, day).postings}
