import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from bookspot_tripletex.feed.source import JsonlFileSource
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.staging.schema import quarantine, transaction_lines, transactions
from helpers import read_jsonl, record, setup_tenant, stage


def counts(engine) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(transactions)).scalar_one(),
            conn.execute(select(func.count()).select_from(transaction_lines)).scalar_one(),
            conn.execute(select(func.count()).select_from(quarantine)).scalar_one(),
        )


def test_staging_the_same_feed_twice_adds_no_rows(
    staging_engine, example_tenant_file: Path, example_feed: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    first = stage(staging_engine, cfg, list(JsonlFileSource(example_feed).iter_records()))
    assert (first.staged, first.quarantined) == (7, 0)
    before = counts(staging_engine)
    second = stage(staging_engine, cfg, list(JsonlFileSource(example_feed).iter_records()))
    assert second.staged == 0 and second.stale == 7
    assert counts(staging_engine) == before == (7, 9, 0)


def test_latest_version_of_an_id_wins(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    old = record("tx_a", "2026-11-24T10:00:00+01:00", [("activity", 10000, "25")])
    new = record(
        "tx_a",
        "2026-11-24T10:00:00+01:00",
        [("activity", 20000, "25"), ("extra", 500, "15")],
        updated_at="2026-11-24T12:00:00+01:00",
    )
    stage(staging_engine, cfg, [new])
    result = stage(staging_engine, cfg, [old])
    assert result.stale == 1
    with staging_engine.connect() as conn:
        amount = conn.execute(select(transactions.c.amount_ore)).scalar_one()
        lines = conn.execute(select(func.count()).select_from(transaction_lines)).scalar_one()
    assert amount == 20500 and lines == 2


def test_bad_record_is_quarantined_whole_and_holds_its_day(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    good = record("tx_good", "2026-11-24T10:00:00+01:00")
    bad = record("tx_bad", "2026-11-24T11:00:00+01:00")
    bad["amount_minor"] += 5
    result = stage(staging_engine, cfg, [good, bad])
    assert (result.staged, result.quarantined) == (1, 1)
    with staging_engine.connect() as conn:
        row = conn.execute(select(quarantine)).mappings().one()
        journal = build_day(conn, cfg, dt.date(2026, 11, 24))
    assert row["record_id"] == "tx_bad" and row["local_date"] == dt.date(2026, 11, 24)
    assert "amount_minor" in row["reason"] and '"amount_minor": 59505' in row["raw"]
    assert journal.status == "held"
    assert [q["id"] for q in journal.quarantined] == ["tx_bad"]
    assert journal.voucher is not None


def test_corrected_record_releases_the_quarantine(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    bad = record("tx_1", "2026-11-24T11:00:00+01:00")
    bad["lines"][0]["vat_minor"] = 1
    stage(staging_engine, cfg, [bad])
    fixed = record("tx_1", "2026-11-24T11:00:00+01:00", updated_at="2026-11-25T08:00:00+01:00")
    result = stage(staging_engine, cfg, [fixed])
    assert result.released == 1
    with staging_engine.connect() as conn:
        released = conn.execute(select(quarantine.c.released_at)).scalar_one()
        journal = build_day(conn, cfg, dt.date(2026, 11, 24))
    assert released is not None
    assert journal.status == "ready" and journal.quarantined == []


def test_undecodable_and_foreign_records_are_quarantined(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    feed = tmp_path / "feed.jsonl"
    other = record("tx_x", "2026-11-24T11:00:00+01:00", account_id="someone-else")
    import json

    feed.write_text('{"id": "broken", \n' + json.dumps(other) + "\n[1, 2]\n")
    result = stage(staging_engine, cfg, list(JsonlFileSource(feed).iter_records()))
    assert result.quarantined == 3 and result.staged == 0
    with staging_engine.connect() as conn:
        reasons = sorted(conn.execute(select(quarantine.c.reason)).scalars())
    assert any("not JSON" in r and "line 1" in r for r in reasons)
    assert any("someone-else" in r and "account_id" in r for r in reasons)
    assert any("must be a JSON object" in r for r in reasons)


def test_records_before_the_start_date_are_not_staged(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    result = stage(staging_engine, cfg, [record("tx_old", "2025-12-31T23:59:59+01:00")])
    assert result.before_start == 1 and result.staged == 0


def test_local_day_follows_oslo_time_across_dst(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    cases = {
        "a": ("2026-03-28T23:30:00Z", dt.date(2026, 3, 29)),  # 00:30 CET, spring-forward day
        "b": ("2026-03-29T21:59:59Z", dt.date(2026, 3, 29)),  # 23:59:59 CEST
        "c": ("2026-03-29T22:00:00Z", dt.date(2026, 3, 30)),
        "d": ("2026-10-24T22:00:00Z", dt.date(2026, 10, 25)),  # 00:00 CEST, fall-back day
        "e": ("2026-10-25T22:59:59Z", dt.date(2026, 10, 25)),  # 23:59:59 CET
        "f": ("2026-10-25T23:00:00Z", dt.date(2026, 10, 26)),
        "g": ("2026-11-24T23:00:00Z", dt.date(2026, 11, 25)),  # a Z time after 23:00 UTC
        "h": ("2026-11-24T18:30:00-05:00", dt.date(2026, 11, 25)),
        "i": ("2026-07-01T01:59:00+02:00", dt.date(2026, 7, 1)),
    }
    stage(staging_engine, cfg, [record(k, ts) for k, (ts, _) in cases.items()])
    with staging_engine.connect() as conn:
        got = dict(conn.execute(select(transactions.c.transaction_id, transactions.c.local_date)).all())
    assert got == {k: day for k, (_, day) in cases.items()}


def test_example_days(staging_engine, example_tenant_file: Path, example_feed: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    with staging_engine.connect() as conn:
        days = dict(conn.execute(select(transactions.c.transaction_id, transactions.c.local_date)).all())
    assert days["tx_000006"] == dt.date(2026, 11, 24)
    assert days["tx_000007"] == dt.date(2026, 11, 25)


def test_bytes_that_are_not_utf8_or_json_numbers_too_long_are_quarantined(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b'{"id": "tx_\xff"}\n' + b'{"amount_minor": ' + b"9" * 5000 + b"}\n")
    result = stage(staging_engine, cfg, list(JsonlFileSource(feed).iter_records()))
    assert result.quarantined == 2 and result.staged == 0
    with staging_engine.connect() as conn:
        reasons = sorted(conn.execute(select(quarantine.c.reason)).scalars())
    assert "line 1" in reasons[0] and "not UTF-8" in reasons[0]
    assert "line 2" in reasons[1]


def test_a_byte_range_of_a_joint_export_is_one_tenants_part(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    ours = [record(f"tx_{i}", "2026-11-24T10:00:00+01:00") for i in range(3)]
    theirs = [record(f"tx_{i}", "2026-11-24T10:00:00+01:00", account_id="someone-else") for i in range(2)]
    import json

    head = "".join(json.dumps(r) + "\n" for r in theirs[:1]).encode()
    body = "".join(json.dumps(r) + "\n" for r in ours).encode()
    feed = tmp_path / "joint.jsonl"
    feed.write_bytes(head + body + (json.dumps(theirs[1]) + "\n").encode())
    items = list(JsonlFileSource(feed, len(head), len(head) + len(body)).iter_records())
    assert [item.line_no for item in items] == [1, 2, 3]
    result = stage(staging_engine, cfg, items)
    assert (result.staged, result.quarantined) == (3, 0)
