"""Staging a JSON Lines file with child processes preparing its chunks (SQLite, `staging.children`): the
same rows, raw texts, quarantine rows and reasons, releases, stale versions and pending corrections as
staging it in one process; a child that fails makes the pass raise and nothing of it stays staged."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text

from bookspot_tripletex import pipeline
from bookspot_tripletex.feed.source import JsonlFileSource
from bookspot_tripletex.staging import children, stage
from bookspot_tripletex.staging.db import make_engine, migrate
from bookspot_tripletex.staging.schema import raw_batches, transactions, vouchers
from bookspot_tripletex.tenants.config import TenantConfig
from helpers import record, setup_tenant

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="staging uses child processes only where more than one CPU may run it",
)
NOW = dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC)
TABLES = ("transactions", "transaction_lines", "raw_batches", "quarantine", "pending_corrections")
POSTED = dt.date(2026, 11, 20)


def feed(path: Path) -> Path:
    """Valid records over several days, later versions and stale ones in later chunks, and bad lines:
    not JSON, a wrong amount, a wrong type, another account, a deep line, blank lines, a record the
    strict checker accepts (a key in another order), a corrected record releasing its quarantine."""
    lines: list[str] = []
    for n in range(60):
        day = 18 + n % 7
        lines.append(json.dumps(record(f"tx_{n:03d}", f"2026-11-{day}T{8 + n % 9:02d}:00:00+01:00")))
        if n % 11 == 3:
            lines.append("")
        if n % 13 == 5:
            lines.append('{"id": "tx_broken", "account_id": ')
    bad = record("tx_bad_amount", "2026-11-24T09:00:00+01:00")
    bad["amount_minor"] += 7
    wrong_type = record("tx_wrong_type", "2026-11-23T09:00:00+01:00")
    wrong_type["lines"][0]["quantity"] = "one"
    other = record("tx_other", "2026-11-23T10:00:00+01:00", account_id="someone-else")
    reordered = dict(reversed(list(record("tx_reordered", "2026-11-22T10:00:00+01:00").items())))
    lines += [json.dumps(bad), json.dumps(wrong_type), json.dumps(other), json.dumps(reordered)]
    lines.append("[" * 100 + "]" * 100)
    later = record(
        "tx_005", "2026-11-23T10:00:00+01:00", [("activity", 30000, "25")], updated_at="2026-11-25T01:00:00Z"
    )
    stale = record("tx_010", "2026-11-18T10:00:00+01:00", updated_at="2026-11-01T00:00:00Z")
    fixed = dict(bad, amount_minor=bad["amount_minor"] - 7, updated_at="2026-11-25T01:30:00Z")
    voided = record("tx_002", "2026-11-20T10:00:00+01:00", status="voided", updated_at="2026-11-25T01:00:00Z")
    lines += [json.dumps(later), json.dumps(stale), json.dumps(fixed), json.dumps(voided)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT * FROM {t} ORDER BY rowid")).all() for t in TABLES}


def staged_twice(tmp_path: Path, name: str, path: Path, tenant_file: Path) -> tuple[list[Any], Engine]:
    """The file staged once as a whole (with a posted day), then again with its later versions."""
    engine = make_engine(f"sqlite:///{tmp_path / f'{name}.db'}")
    migrate(engine)
    cfg = setup_tenant(engine, tenant_file)
    results = [_stage(engine, cfg, path)]
    with engine.begin() as conn:
        conn.execute(
            insert(vouchers).values(
                tenant_id=cfg.tenant, local_date=POSTED, version=1, external_number=f"{name}-1",
                status="posted", updated_at=NOW,
            )
        )  # fmt: skip
    again = path.with_name(f"{path.stem}-again.jsonl")
    text_lines = path.read_text(encoding="utf-8").splitlines()
    changed = record(
        "tx_002", "2026-11-20T10:00:00+01:00", [("activity", 1000, "25")], updated_at="2026-11-26T00:00:00Z"
    )
    again.write_text("\n".join([*text_lines[:40], json.dumps(changed)]) + "\n", encoding="utf-8")
    results.append(_stage(engine, cfg, again))
    return results, engine


def _stage(engine: Engine, cfg: TenantConfig, path: Path) -> dict[str, Any]:
    with engine.begin() as conn:
        return stage.stage_records(conn, cfg, JsonlFileSource(path).iter_records(), NOW).as_dict()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 records (so a file has many, dealt to the children in turn), any file size."""
    monkeypatch.setattr(stage, "BATCH", 7)
    monkeypatch.setenv("BOOKSPOT_STAGE_MIN_BYTES", "0")


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_children_stage_exactly_what_one_process_stages(
    tmp_path: Path,
    example_tenant_file: Path,
    small_chunks: None,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    path = feed(tmp_path / "feed.jsonl")
    monkeypatch.setenv("BOOKSPOT_STAGE_WORKERS", "0")
    alone, alone_engine = staged_twice(tmp_path, "alone", path, example_tenant_file)
    monkeypatch.setenv("BOOKSPOT_STAGE_WORKERS", str(workers))
    used: list[int] = []
    real = children.prepared_in_children

    def spy(records, tenant, now, count):  # type: ignore[no-untyped-def]
        used.append(count)
        return real(records, tenant, now, count)

    monkeypatch.setattr(children, "prepared_in_children", spy)
    forked, forked_engine = staged_twice(tmp_path, "forked", path, example_tenant_file)
    assert used == [workers, workers]
    assert forked == alone
    first, second = alone
    assert first["quarantined"] >= 6 and first["released"] == 1 and first["stale"] == 1
    assert second["corrections"] >= 1 and second["stale"] > 0
    assert snapshot(forked_engine) == snapshot(alone_engine)
    alone_engine.dispose()
    forked_engine.dispose()


def test_small_files_and_other_sources_stage_in_this_process(
    tmp_path: Path, example_tenant_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = feed(tmp_path / "feed.jsonl")
    monkeypatch.setenv("BOOKSPOT_STAGE_WORKERS", "1")
    records = JsonlFileSource(path).iter_records()
    assert children.children_for(records) == 0  # under BOOKSPOT_STAGE_MIN_BYTES
    monkeypatch.setenv("BOOKSPOT_STAGE_MIN_BYTES", "0")
    assert children.children_for(records) == 1
    assert children.children_for(list(JsonlFileSource(path).iter_records())) == 0
    next(records)
    assert children.children_for(records) == 0  # partly read: the rest is staged here
    monkeypatch.setenv("BOOKSPOT_STAGE_WORKERS", "0")
    assert children.children_for(JsonlFileSource(path).iter_records()) == 0


def _tenant_rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(transactions)).scalar_one(),
            conn.execute(select(func.count()).select_from(raw_batches)).scalar_one(),
        )


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_failing_child_fails_the_pass_and_nothing_stays_staged(
    tmp_path: Path,
    example_tenant_file: Path,
    small_chunks: None,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    path = feed(tmp_path / "feed.jsonl")
    monkeypatch.setenv("BOOKSPOT_STAGE_WORKERS", "2")
    engine = make_engine(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    cfg = setup_tenant(engine, example_tenant_file)
    parent = os.getpid()
    real = stage._prepare
    calls = {"n": 0}

    def prepare(tenant, chunk, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if os.getpid() != parent and calls["n"] == 3:
            if how == "dies":
                os._exit(9)
            raise ValueError("disk on fire")
        return real(tenant, chunk, now)

    monkeypatch.setattr(stage, "_prepare", prepare)
    with pytest.raises(children.StagingWorkerError) as failure:
        pipeline.stage_tenant(engine, cfg.tenant, JsonlFileSource(path), NOW, NOW)
    if how == "raises":
        assert "ValueError: disk on fire" in str(failure.value)
    else:
        assert "exit code 9" in str(failure.value)
    assert _tenant_rows(engine) == (0, 0)
    assert [p for p in multiprocessing.active_children() if p.name.startswith("stage-")] == []
    monkeypatch.setattr(stage, "_prepare", real)
    staged = pipeline.stage_tenant(engine, cfg.tenant, JsonlFileSource(path), NOW, NOW)
    assert staged["staged"] > 0 and _tenant_rows(engine)[0] > 0
    engine.dispose()


def test_a_failing_write_stops_the_children(
    tmp_path: Path, example_tenant_file: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = feed(tmp_path / "feed.jsonl")
    monkeypatch.setenv("BOOKSPOT_STAGE_WORKERS", "1")
    engine = make_engine(f"sqlite:///{tmp_path / 'staging.db'}")
    migrate(engine)
    cfg = setup_tenant(engine, example_tenant_file)
    real = stage._apply
    calls = {"n": 0}

    def apply(*args):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("database gone")
        return real(*args)

    monkeypatch.setattr(stage, "_apply", apply)
    with pytest.raises(RuntimeError, match="database gone"):
        pipeline.stage_tenant(engine, cfg.tenant, JsonlFileSource(path), NOW, NOW)
    assert _tenant_rows(engine) == (0, 0)
    assert [p for p in multiprocessing.active_children() if p.name.startswith("stage-")] == []
    engine.dispose()
