"""No feed line stops a tenant: lines over the nesting and size limits, and lines whose checking fails in
a way nobody foresaw, are quarantined with their reason while the rest of the feed is staged; the night
then completes and its report lists them. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bookspot_tripletex import pipeline
from bookspot_tripletex.feed.source import KEPT_BYTES, JsonlFileSource
from bookspot_tripletex.staging.schema import quarantine, transactions
from helpers import record, setup_tenant, stage

DAY = dt.date(2026, 11, 24)
DEEP = 200_000
BIG = 5 << 20


def hostile_feed(path: Path) -> Path:
    """Two good records around a 200,000-deep line, a 5 MiB line and a record nesting deep in a key the
    contract does not know (a decoder skipping that key recurses just the same)."""
    good = [
        record("tx_good_1", "2026-11-24T10:00:00+01:00"),
        record("tx_good_2", "2026-11-24T12:00:00+01:00"),
    ]
    huge = record("tx_huge", "2026-11-24T11:00:00+01:00")
    huge["lines"][0]["product_name"] = "x" * BIG
    hidden = json.dumps(record("tx_hidden", "2026-11-24T11:30:00+01:00"))[:-1] + ', "note": ' + "[" * DEEP
    hidden += "]" * DEEP + "}"
    with path.open("wb") as fh:
        fh.write(json.dumps(good[0]).encode() + b"\n")
        fh.write(b"[" * DEEP + b"]" * DEEP + b"\n")
        fh.write(json.dumps(huge).encode() + b"\n")
        fh.write(hidden.encode() + b"\n")
        fh.write(json.dumps(good[1]).encode() + b"\n")
    return path


def quarantined(engine) -> dict[str, tuple[str, list[str], int]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine.c.reason, quarantine.c.rules, quarantine.c.raw)).all()
    return {reason.split(": ")[1]: (reason, list(rules), len(raw)) for reason, rules, raw in rows}


def test_lines_over_the_limits_are_quarantined_with_field_limit_and_size(
    staging_engine, example_tenant_file: Path, tmp_path: Path
) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    feed = hostile_feed(tmp_path / "feed.jsonl")
    result = stage(staging_engine, cfg, list(JsonlFileSource(feed).iter_records()))
    assert (result.staged, result.quarantined) == (2, 3)
    with staging_engine.connect() as conn:
        staged = sorted(conn.execute(select(transactions.c.transaction_id)).scalars())
    assert staged == ["tx_good_1", "tx_good_2"]
    bad = quarantined(staging_engine)
    assert sorted(bad) == ["line 2", "line 3", "line 4"]
    reason, rules, _ = bad["line 2"]
    assert rules == ["too_deep"]
    assert f"nests {DEEP:,} arrays or objects deep, over the limit of 32 (BOOKSPOT_FEED_MAX_DEPTH)" in reason
    reason, rules, kept = bad["line 3"]
    assert rules == ["too_large"] and kept == KEPT_BYTES
    assert f"is {feed.read_bytes().splitlines()[2].__len__():,} bytes" in reason
    assert "over the limit of 1,048,576 (BOOKSPOT_FEED_MAX_LINE_BYTES)" in reason
    assert bad["line 4"][1] == ["too_deep"]


def test_the_limits_come_from_the_settings(
    staging_engine, example_tenant_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKSPOT_FEED_MAX_DEPTH", "4")
    monkeypatch.setenv("BOOKSPOT_FEED_MAX_LINE_BYTES", "2000")
    cfg = setup_tenant(staging_engine, example_tenant_file)
    wide = record("tx_wide", "2026-11-24T10:00:00+01:00")
    wide["lines"][0]["product_name"] = "y" * 3000
    deep = record("tx_deep", "2026-11-24T10:00:00+01:00") | {"note": [[[[1]]]]}
    fine = record("tx_fine", "2026-11-24T10:00:00+01:00") | {"note": [[1]]}
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in (wide, deep, fine)) + "\n")
    result = stage(staging_engine, cfg, list(JsonlFileSource(feed).iter_records()))
    assert (result.staged, result.quarantined) == (1, 2)
    bad = quarantined(staging_engine)
    assert "over the limit of 2,000 (BOOKSPOT_FEED_MAX_LINE_BYTES)" in bad["line 1"][0]
    assert "nests 5 arrays or objects deep, over the limit of 4" in bad["line 2"][0]


def test_an_unforeseen_failure_checking_one_record_quarantines_that_record_only(
    staging_engine, example_tenant_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookspot_tripletex.staging import stage as staging

    cfg = setup_tenant(staging_engine, example_tenant_file)
    real = staging.parse_record

    def fragile(raw, currency):  # type: ignore[no-untyped-def]
        if raw.get("id") == "tx_trap":
            raise MemoryError("the checker ran out of room")
        return real(raw, currency)

    monkeypatch.setattr(staging, "parse_record", fragile)
    trap = record("tx_trap", "2026-11-24T10:00:00+01:00", method="no-such-method")
    result = stage(staging_engine, cfg, [trap, record("tx_fine", "2026-11-24T11:00:00+01:00")])
    assert (result.staged, result.quarantined) == (1, 1)
    with staging_engine.connect() as conn:
        row = conn.execute(select(quarantine.c.record_id, quarantine.c.reason, quarantine.c.local_date)).one()
    assert row.record_id == "tx_trap" and row.local_date == DAY
    assert "could not be checked: MemoryError: the checker ran out of room" in row.reason


def test_the_night_completes_and_its_report_lists_the_hostile_lines(
    staging_engine, example_tenant_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = hostile_feed(tmp_path / "feed.jsonl")
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK",
        json.dumps({"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}),
    )
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text().replace("start_date: 2026-01-01", "start_date: 2026-11-24")
    )
    setup_tenant(staging_engine, tenant_file)
    night = pipeline.Night("run-1", DAY, dry_run=True, now=dt.datetime(2026, 11, 25, 1, tzinfo=dt.UTC))
    result = pipeline.run_night(staging_engine, ["fjord-kayak"], night)
    (outcome,) = result.outcomes
    assert (outcome.day, outcome.outcome.value) == (DAY, "held")
    assert outcome.counts["quarantined"] == 3
    (html,) = (tmp_path / "reports").rglob("*.html")
    text = html.read_text(encoding="utf-8")
    for where in ("line 2", "line 3", "line 4"):
        assert where in text
    assert "BOOKSPOT_FEED_MAX_DEPTH" in text and "BOOKSPOT_FEED_MAX_LINE_BYTES" in text
