"""Exactly-once posting against the emulator over real HTTP: re-runs, crashes, lost answers, races."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from load_support import TRANSIENT, WithCompany, fast_client, post_until_done
from sqlalchemy import update

from bookspot_tripletex.load.errors import ClaimLost, DayRefused, VoucherBusy, WrongCompany
from bookspot_tripletex.load.post import post_day
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.staging.schema import vouchers
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
    emulator.admin("DELETE", "requests")
    first = post_day(staging_engine, cfg, day, client, "run-1")
    assert first["outcome"] == "posted" and first["status"] == "posted"
    held = vouchers_in(emulator)
    assert len(held) == 1 and vouchers_in(emulator, drafts=True) == held
    assert held[0]["externalVoucherNumber"] == "bookspot:fjord-kayak:2026-11-24:v1"
    assert held[0]["date"] == "2026-11-24"
    assert _user_postings(held[0]) == worked_example_table()
    system = [p for p in held[0]["postings"] if p.get("row") == 0]
    assert {int(p["account"]["number"]) for p in system} == {2700, 2701, 2702}
    assert first["company_id"] == emulator.config.companies[0].id

    again = post_day(staging_engine, cfg, day, make_client(emulator), "run-2")
    assert again["outcome"] == "already_posted"
    assert len(vouchers_in(emulator)) == 1


def test_a_lost_answer_is_settled_by_the_next_attempt(staging_engine, staged_day, emulator, client) -> None:
    cfg, day = staged_day
    emulator.admin(
        "POST",
        "faults",
        {"rules": [{"action": "drop", "method": "POST", "path": "/ledger/voucher", "times": 1}]},
    )
    with pytest.raises(TRANSIENT):
        post_day(staging_engine, cfg, day, client, "run-1")
    assert vouchers_in(emulator) == []
    result = post_day(staging_engine, cfg, day, make_client(emulator), "run-2")
    assert result["status"] == "posted"
    assert len(vouchers_in(emulator, drafts=True)) == 1


@pytest.mark.parametrize("step", ["POST /ledger/voucher", "PUT /ledger/voucher/*/:sendToLedger"])
def test_a_late_commit_and_a_lagging_lookup_give_one_voucher(
    staging_engine, staged_day, emulator, step
) -> None:
    cfg, day = staged_day
    method, path = step.split(" ")
    emulator.admin(
        "POST",
        "faults",
        {
            "lookup_lag_seconds": 600,
            "rules": [{"action": "late_commit", "method": method, "path": path, "seconds": 1.2, "times": 1}],
        },
    )
    outcomes = post_until_done(staging_engine, cfg, day, lambda: fast_client(emulator, timeout=0.5))
    assert outcomes[-1] in ("posted", "found_existing")
    time.sleep(1.5)  # the late request has now run on the emulator's side as well
    assert len(vouchers_in(emulator)) == 1
    post_until_done(staging_engine, cfg, day, lambda: fast_client(emulator))
    assert len(vouchers_in(emulator)) == 1


@pytest.mark.parametrize("slow", ["POST /ledger/voucher", "PUT /ledger/voucher/*/:sendToLedger"])
def test_a_lease_lost_mid_write_cannot_post_twice(
    staging_engine, staged_day, emulator, monkeypatch, slow
) -> None:
    cfg, day = staged_day
    monkeypatch.setenv("BOOKSPOT_CLAIM_HEARTBEAT", "0")
    method, path = slow.split(" ")
    emulator.admin(
        "POST", "faults", {"rules": [{"action": "latency", "method": method, "path": path, "seconds": 1.5}]}
    )
    errors: list[BaseException] = []

    def first_run() -> None:
        try:
            post_day(staging_engine, cfg, day, fast_client(emulator), "slow-run")
        except BaseException as exc:
            errors.append(exc)

    slow_run = threading.Thread(target=first_run)
    slow_run.start()
    column = "draft_requested_at" if method == "POST" else "draft_id"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with staging_engine.connect() as conn:
            if getattr(get_voucher(conn, cfg.tenant, day), column) is not None:
                break
        time.sleep(0.02)
    time.sleep(0.3)  # the slow run's write is in flight; its lease now runs out
    with staging_engine.begin() as conn:
        conn.execute(
            update(vouchers).values(claim_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    outcome = post_until_done(staging_engine, cfg, day, lambda: fast_client(emulator))[-1]
    slow_run.join()
    assert outcome in ("posted", "found_existing")
    assert len(vouchers_in(emulator)) == 1
    assert len(errors) == 1 and isinstance(errors[0], ClaimLost), errors
    with staging_engine.connect() as conn:
        assert get_voucher(conn, cfg.tenant, day).status == "posted"


def test_a_sigkilled_load_is_finished_by_the_next_try(
    staging_engine, staged_day, emulator, staging_url
) -> None:
    from load_support import killed_load

    cfg, day = staged_day
    emulator.admin(
        "POST",
        "faults",
        {"rules": [{"action": "latency", "method": "PUT", "path": "/ledger/voucher/*", "seconds": 5}]},
    )

    def draft_recorded() -> bool:
        with staging_engine.connect() as conn:
            return get_voucher(conn, cfg.tenant, day).draft_id is not None

    killed_load(staging_url, emulator, cfg.tenant, day, when=draft_recorded)
    with staging_engine.connect() as conn:
        row = get_voucher(conn, cfg.tenant, day)
    assert row.status == "posting" and row.claim_token and row.draft_id  # the dead run's claim is still on it
    emulator.admin("DELETE", "faults")
    result = post_day(staging_engine, cfg, day, make_client(emulator), "next-try")
    assert result["status"] == "posted"
    time.sleep(0.5)
    assert len(vouchers_in(emulator)) == 1


def test_a_live_claim_makes_a_second_run_wait_and_names_the_holder(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    with staging_engine.begin() as conn:
        conn.execute(
            update(vouchers).values(
                status="posting",
                claimed_by="other-run@elsewhere:1",
                claim_token="t",
                claim_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
            )
        )
    with pytest.raises(VoucherBusy, match="other-run@elsewhere:1"):
        post_day(staging_engine, cfg, day, client, "run-2")
    assert vouchers_in(emulator, drafts=True) == []


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


def test_a_refusal_raises_day_refused_and_marks_the_day_failed(
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
    with pytest.raises(DayRefused) as info:
        post_day(staging_engine, cfg, day, client, "run-1")
    assert "3000" in str(info.value) and "låst" in str(info.value)
    with staging_engine.connect() as conn:
        row = get_voucher(conn, cfg.tenant, day)
    assert row.status == "failed" and "låst" in (row.error or "")
    assert vouchers_in(emulator, drafts=True) == []


def test_an_account_missing_from_the_chart_is_a_refusal_and_the_day_can_be_rebuilt(
    staging_engine, staged_day, emulator, client
) -> None:
    from bookspot_tripletex.pipeline import journal_day

    cfg, day = staged_day
    with staging_engine.begin() as conn:
        row = get_voucher(conn, cfg.tenant, day)
        postings = [
            dict(p.as_record(), account=1599 if p.account == 1580 else p.account) for p in row.postings
        ]
        conn.execute(update(vouchers).values(postings=postings))
    with pytest.raises(DayRefused, match="account 1599"):
        post_day(staging_engine, cfg, day, client, "run-1")
    assert journal_day(staging_engine, cfg.tenant, day)["status"] == "built"


def test_a_connection_to_the_wrong_company_is_refused_before_posting(
    staging_engine, staged_day, emulator, client
) -> None:
    cfg, day = staged_day
    emulator.admin("DELETE", "requests")
    with pytest.raises(WrongCompany, match="reaches company 1001, but the tenant.s company is 999"):
        post_day(staging_engine, WithCompany(cfg, 999), day, client, "run-1")
    with staging_engine.connect() as conn:
        assert get_voucher(conn, cfg.tenant, day).status == "ready"
    assert [r["method"] for r in emulator.admin("GET", "requests")["values"] if r["method"] != "GET"] == [
        "PUT"  # the session token only
    ]


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


def test_at_most_four_calls_per_day_with_read_back(staging_engine, staged_day, emulator, client) -> None:
    from bookspot_tripletex.load.activation import ensure_activated

    cfg, day = staged_day
    assert ensure_activated(staging_engine, cfg.tenant, day, client)["status"] == "activated"
    emulator.admin("DELETE", "requests")
    post_day(staging_engine, cfg, day, client, "run-1")
    calls = emulator.admin("GET", "requests")["values"]
    assert len(calls) <= 4, calls


def test_posted_day_keeps_its_mapping_after_a_change(
    staging_engine, staged_day, emulator, client, example_tenant_file, tmp_path
) -> None:
    from bookspot_tripletex.pipeline import journal_day
    from bookspot_tripletex.staging.day_mapping import mapping_for_day
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant

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


def test_posting_reads_the_days_journal_only_where_it_is_used(
    staging_engine, staged_day, emulator, client
) -> None:
    """The voucher rows the posting protocol reads again and again leave out the journal, the largest
    column; the voucher posted is the same."""
    from sqlalchemy import event

    from bookspot_tripletex.load.state import ROW_COLUMNS, day_versions, get_voucher_by_id

    cfg, day = staged_day
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(staging_engine, "before_cursor_execute", seen)
    try:
        with staging_engine.connect() as conn:
            row = get_voucher(conn, cfg.tenant, day)
            assert row is not None and get_voucher_by_id(conn, row.id) == row
            assert day_versions(conn, cfg.tenant, day) == [row]
        assert len(statements) == 3
        assert not any("journal" in s.split("FROM")[0] for s in statements), statements
        assert "journal" not in {c.name for c in ROW_COLUMNS}
        statements.clear()
        result = post_day(staging_engine, cfg, day, client, "run-1")
    finally:
        event.remove(staging_engine, "before_cursor_execute", seen)
    assert result["outcome"] == "posted"
    voucher_reads = [s.split("FROM")[0] for s in statements if "FROM vouchers" in s]
    assert voucher_reads and not any("vouchers.journal" in s for s in voucher_reads)
