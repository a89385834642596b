"""The bulk paths (executemany on SQLite, COPY on PostgreSQL) store what the row-by-row path stored."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime, func, select

from bookspot_tripletex.feed.model import parse_record
from bookspot_tripletex.staging import stage as stage_module
from bookspot_tripletex.staging.limits import raw_json
from bookspot_tripletex.staging.raw import raw_record, raw_records
from bookspot_tripletex.staging.schema import quarantine, transaction_lines, transactions
from bookspot_tripletex.timeutil import as_utc
from helpers import record, setup_tenant, stage

AWKWARD = 'tab\there, new\nline, cr\r, back\\slash, "quote", \\N, æøå, \u2028, 😀'


def awkward_record(tx_id: str, **changes: Any) -> dict[str, Any]:
    raw = record(tx_id, "2026-11-24T10:00:00+01:00", [("activity", 59500, "25"), ("extra", 500, "15")])
    raw["lines"][0]["product_name"] = AWKWARD
    raw["lines"][1]["product_id"] = "p\\1\t2"
    raw["booking_id"] = "bk\n1"
    raw["gift_card_code"] = ""
    raw.update(changes)
    return raw


def stored(engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The staged transactions (each with its raw text as "raw") and lines."""
    with engine.connect() as conn:
        txs = [dict(r) for r in conn.execute(select(transactions).order_by("transaction_id")).mappings()]
        raws = raw_records(conn, "fjord-kayak")
        lines = conn.execute(select(transaction_lines).order_by("transaction_id", "line_no")).mappings()
        return [{**t, "raw": raws[t["transaction_id"]]} for t in txs], [dict(r) for r in lines]


def test_awkward_text_round_trips(staging_engine, example_tenant_file: Path) -> None:
    cfg = setup_tenant(staging_engine, example_tenant_file)
    raws = [awkward_record("tx\\a\tb"), awkward_record("tx_plain", extra_field=1.5e16)]
    result = stage(staging_engine, cfg, raws)
    assert (result.staged, result.quarantined) == (2, 0)
    txs, lines = stored(staging_engine)
    by_id = {t["transaction_id"]: t for t in txs}
    for raw in raws:
        tx = parse_record(raw)
        row = by_id[tx.id]
        assert json.loads(row["raw"]) == raw
        assert (row["booking_id"], row["gift_card_code"]) == ("bk\n1", "")
        assert as_utc(row["occurred_at"]) == as_utc(tx.occurred_at)
        assert row["local_date"] == dt.date(2026, 11, 24)
    assert [line["product_name"] for line in lines if line["line_no"] == 1] == [AWKWARD, AWKWARD]
    assert {line["product_id"] for line in lines if line["line_no"] == 2} == {"p\\1\t2"}
    assert '"extra_field": 1.5e+16' in by_id["tx_plain"]["raw"]


def test_sqlite_stores_times_as_sqlalchemy_does(tmp_path: Path, example_tenant_file: Path) -> None:
    from bookspot_tripletex.staging.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate(engine)
    cfg = setup_tenant(engine, example_tenant_file)
    now = dt.datetime(2026, 11, 25, 3, 4, 5, tzinfo=dt.UTC)
    raw = record("tx_1", "2026-11-24T23:30:00.5-02:00")
    with engine.begin() as conn:
        stage_module.stage_records(conn, cfg, [raw], now=now)
        query = "SELECT occurred_at, updated_at, local_date, staged_at FROM transactions"
        text = conn.exec_driver_sql(query).one()
    bind = DateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)
    occurred = as_utc(parse_record(raw).occurred_at)
    assert tuple(text) == (bind(occurred), bind(occurred), "2026-11-25", bind(now))
    engine.dispose()


def test_versions_across_chunks(staging_engine, example_tenant_file: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Small chunks: a later chunk replaces a stored version (lines too), releases its quarantined
    version and leaves an older one stale."""
    monkeypatch.setattr(stage_module, "BATCH", 3)
    cfg = setup_tenant(staging_engine, example_tenant_file)
    first = record("tx_1", "2026-11-24T10:00:00+01:00", [("activity", 10000, "25")])
    broken = record("tx_2", "2026-11-24T11:00:00+01:00")
    broken["amount_minor"] += 1
    filler = [record(f"tx_f{i}", "2026-11-24T12:00:00+01:00") for i in range(5)]
    newer = record(
        "tx_1",
        "2026-11-24T10:00:00+01:00",
        [("activity", 20000, "25"), ("extra", 500, "15")],
        updated_at="2026-11-24T13:00:00+01:00",
    )
    fixed = record("tx_2", "2026-11-24T11:00:00+01:00", updated_at="2026-11-24T14:00:00+01:00")
    older = record("tx_1", "2026-11-24T10:00:00+01:00", updated_at="2026-11-24T10:30:00+01:00")
    chunks = [first, broken, *filler[:4], newer, fixed, filler[4], older]
    result = stage(staging_engine, cfg, chunks)
    assert (result.staged, result.quarantined, result.released, result.stale) == (8, 1, 1, 1)
    txs, lines = stored(staging_engine)
    tx1 = next(t for t in txs if t["transaction_id"] == "tx_1")
    assert tx1["amount_ore"] == 20500 and json.loads(tx1["raw"])["updated_at"].endswith("13:00:00+01:00")
    assert [(line["line_no"], line["gross_ore"]) for line in lines if line["transaction_id"] == "tx_1"] == [
        (1, 20000),
        (2, 500),
    ]
    with staging_engine.connect() as conn:
        held = conn.execute(select(func.count()).where(quarantine.c.released_at.is_(None))).scalar_one()
    assert held == 0


@pytest.mark.parametrize("bad", [{"note": "x\x00y"}, {"note": "\ud800"}])
def test_odd_records_take_the_checked_path(staging_engine, example_tenant_file: Path, bad) -> None:  # type: ignore[no-untyped-def]
    """A NUL or a lone surrogate in an unknown field is no storage problem: the record stages through
    check_record and raw_json, exactly as before the fast path."""
    cfg = setup_tenant(staging_engine, example_tenant_file)
    raw = record("tx_odd", "2026-11-24T10:00:00+01:00", **{})
    raw.update(bad)
    result = stage(staging_engine, cfg, [raw])
    txs, _ = stored(staging_engine)
    if result.staged:
        assert txs[0]["raw"] == raw_json(raw)
    else:
        assert result.quarantined == 1


def test_raw_record_is_the_line_as_sent(
    staging_engine, example_tenant_file: Path, example_feed: Path
) -> None:
    from bookspot_tripletex.feed.source import JsonlFileSource

    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, list(JsonlFileSource(example_feed).iter_records()))
    lines = [line for line in example_feed.read_text(encoding="utf-8").splitlines() if line.strip()]
    with staging_engine.connect() as conn:
        for line in lines:
            assert raw_record(conn, cfg.tenant, json.loads(line)["id"]) == line
        assert raw_record(conn, cfg.tenant, "no-such-id") is None


def test_migration_0008_moves_staged_raw_texts_into_batches(
    staging_url: str, example_tenant_file: Path
) -> None:
    from alembic import command
    from sqlalchemy import text

    from bookspot_tripletex.staging.db import alembic_config, make_engine, migrate

    engine = make_engine(staging_url)
    cfg = alembic_config(staging_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    sent = {"tx_1": '{"id": "tx_1", "note": "æøå"}', "tx_2": '{"id": "tx_2"}'}
    with engine.begin() as conn:
        for tx_id, raw in sent.items():
            conn.execute(
                text(
                    "INSERT INTO transactions (tenant_id, transaction_id, kind, status, occurred_at,"
                    " updated_at, local_date, currency, amount_ore, payment_method, provider_fee_ore,"
                    " raw, staged_at)"
                    " VALUES ('t', :id, 'payment', 'completed', '2026-11-24 09:00:00', '2026-11-24 09:00:00',"
                    " '2026-11-24', 'NOK', 100, 'cash', 0, :raw, '2026-11-24 09:00:00')"
                ),
                {"id": tx_id, "raw": raw},
            )
    migrate(engine)
    with engine.connect() as conn:
        assert raw_records(conn, "t") == sent
        assert raw_record(conn, "t", "tx_1") == sent["tx_1"]
    engine.dispose()


def test_migration_0008_downgrades_to_raw_texts_in_transactions(
    staging_url: str, example_tenant_file: Path
) -> None:
    from alembic import command
    from sqlalchemy import text

    from bookspot_tripletex.staging.db import alembic_config, make_engine, migrate

    engine = make_engine(staging_url)
    migrate(engine)
    cfg = setup_tenant(engine, example_tenant_file)
    sent = [awkward_record(f"tx_{i}") for i in range(3)]
    stage(engine, cfg, sent)
    config = alembic_config(staging_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT transaction_id, raw FROM transactions")).all()
    assert {tx_id: json.loads(raw) for tx_id, raw in rows} == {r["id"]: r for r in sent}
    migrate(engine)
    with engine.connect() as conn:
        assert {k: json.loads(v) for k, v in raw_records(conn, cfg.tenant).items()} == {
            r["id"]: r for r in sent
        }
    engine.dispose()
