"""The extract task against the BookSpot simulator over real HTTP, into SQLite and PostgreSQL staging:
paging, the watermark and its overlap, the start date, 429/5xx, a refused token, malformed records."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from random import Random

import pytest
from airflow.sdk.exceptions import AirflowFailException
from sqlalchemy import Engine, select

from bookspot_devkit.simulator.generator import Knobs, TenantGenerator
from bookspot_tripletex import tasks
from bookspot_tripletex.feed import client as feed_client
from bookspot_tripletex.feed.client import MAX_LIMIT, BookSpotServerError
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.retry import RetryPolicy
from bookspot_tripletex.staging.raw import raw_records
from bookspot_tripletex.staging.schema import quarantine, transactions
from bookspot_tripletex.staging.watermark import get_watermark
from bookspot_tripletex.tenants.config import TenantConfig
from helpers import record, setup_tenant
from simulator_support import (
    bookspot_connection,
    counts,
    fetch_all,
    new_token,
    oslo,
    put_raw,
    put_records,
    set_faults,
    set_page,
    simulator,
    stats,
    tenant_file,
)

TENANT = "fjord-kayak"
DAY = dt.date(2026, 7, 3)
KNOB_RULES = {
    "lines_sum_mismatch": "amount_mismatch",
    "line_vat_wrong": "line_vat",
    "gift_card_vat": "gift_card_vat",
    "fee_exceeds_amount": "provider_fee",
    "offline_fee": "provider_fee",
    "wrong_currency": "currency",
    "missing_field": "missing_field",
    "wrong_type": "wrong_type",
}


def _staging(url: str, monkeypatch: pytest.MonkeyPatch, tenant_yaml: Path) -> tuple[Engine, TenantConfig]:
    from bookspot_tripletex.staging.db import make_engine, migrate

    monkeypatch.setenv("BOOKSPOT_STAGING_URL", url)
    engine = make_engine(url)
    migrate(engine)
    return engine, setup_tenant(engine, tenant_yaml)


@pytest.fixture
def staged(
    staging_url: str, monkeypatch: pytest.MonkeyPatch, example_tenant_file: Path
) -> Iterator[tuple[Engine, TenantConfig]]:
    """Staging on SQLite and on PostgreSQL, with the example tenant."""
    engine, cfg = _staging(staging_url, monkeypatch, example_tenant_file)
    yield engine, cfg
    engine.dispose()


@pytest.fixture
def on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_tenant_file: Path
) -> Iterator[tuple[Engine, TenantConfig]]:
    """For what does not depend on the database: how the extract talks HTTP."""
    engine, cfg = _staging(f"sqlite:///{tmp_path / 'staging.db'}", monkeypatch, example_tenant_file)
    yield engine, cfg
    engine.dispose()


def watermark(engine: Engine, tenant: str = TENANT) -> dt.datetime | None:
    with engine.connect() as conn:
        return get_watermark(conn, tenant)


def test_pages_through_every_record_then_rereads_only_the_overlap(
    staged: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = staged
    token = new_token()
    settings = {"seed": 3, "date_from": dt.date(2026, 7, 1), "date_to": DAY, "transactions_per_day": 300}
    with simulator({TENANT: token}, **settings) as server:
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        total = server.simulation.count(TENANT)
        assert total > 4 * MAX_LIMIT
        night = oslo(2026, 7, 4, 1)
        first = tasks.extract(TENANT, DAY, now=night)
        assert stats(server) == {"200": math.ceil(total / MAX_LIMIT)}
        assert (first["staged"], first["quarantined"], first["stale"]) == (total, 0, 0)
        assert first["window"] == ["2025-12-31T23:00:00+00:00", "2026-07-03T23:00:00+00:00"]
        assert counts(engine)["transactions"] == total
        assert watermark(engine) == night

        server.simulation.reset_stats()
        second = tasks.extract(TENANT, DAY, now=night + dt.timedelta(days=1))
    overlap_from = night - dt.timedelta(days=2)
    assert dt.datetime.fromisoformat(second["window"][0]) == overlap_from
    in_overlap = sum(1 for r in records_of(engine) if dt.datetime.fromisoformat(r) >= overlap_from)
    assert (second["staged"], second["stale"]) == (0, in_overlap)
    assert counts(engine)["transactions"] == total
    assert watermark(engine) == night + dt.timedelta(days=1)


def records_of(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [json.loads(raw)["updated_at"] for raw in raw_records(conn, TENANT).values()]


def test_the_first_extract_starts_at_the_start_date_and_stages_nothing_before_it(
    staging_url: str, monkeypatch: pytest.MonkeyPatch, example_tenant_file: Path, tmp_path: Path
) -> None:
    path = tenant_file(example_tenant_file, tmp_path / "late.yaml", "late-starter", start_date="2026-07-02")
    engine, _ = _staging(staging_url, monkeypatch, path)
    token = new_token()
    settings = {"seed": 4, "date_from": dt.date(2026, 7, 1), "date_to": DAY, "transactions_per_day": 60}
    with simulator({"late-starter": token}, **settings) as server:
        bookspot_connection(monkeypatch, "bookspot_late_starter", server.url, token)
        early = [r for r in fetch_all(server, "late-starter", token) if r["id"].startswith("tx_20260701")]
        assert early
        changed = {**early[0], "updated_at": oslo(2026, 7, 2, 12).isoformat()}
        put_records(server, "late-starter", [changed])
        result = tasks.extract("late-starter", DAY, now=oslo(2026, 7, 4, 1))
    assert result["window"][0] == "2026-07-01T22:00:00+00:00"
    assert result["before_start"] == 1 and result["quarantined"] == 0
    with engine.connect() as conn:
        days = set(conn.execute(select(transactions.c.local_date)).scalars())
    assert days == {dt.date(2026, 7, 2), dt.date(2026, 7, 3)}
    engine.dispose()


def test_a_429_is_waited_out_for_its_retry_after(
    on_sqlite: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = on_sqlite
    token = new_token()
    settings = {"seed": 5, "date_from": DAY, "date_to": DAY, "transactions_per_day": 120}
    with simulator({TENANT: token}, **settings) as server:
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        set_faults(server, rate_limit_burst=1, retry_after=1)
        started = time.monotonic()
        result = tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))
        elapsed = time.monotonic() - started
        assert stats(server) == {"200": 1, "429": 1}
        total = server.simulation.count(TENANT)
    assert elapsed >= 1.0
    assert result["staged"] == total == counts(engine)["transactions"]


def test_a_5xx_burst_is_retried_with_backoff(
    on_sqlite: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = on_sqlite
    waits: list[float] = []

    class Recorded(RetryPolicy):
        def call(self, fn, **kwargs):  # type: ignore[no-untyped-def]
            return super().call(fn, **{**kwargs, "sleep": waits.append})

    monkeypatch.setattr(feed_client, "RetryPolicy", Recorded)
    token = new_token()
    settings = {"seed": 6, "date_from": DAY, "date_to": DAY, "transactions_per_day": 120}
    with simulator({TENANT: token}, **settings) as server:
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        set_faults(server, server_error_burst=3, server_error_status=502)
        result = tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))
        assert stats(server) == {"200": 1, "502": 3}
        total = server.simulation.count(TENANT)
    assert len(waits) == 3 and all(wait >= 2**i for i, wait in enumerate(waits))
    assert result["staged"] == total == counts(engine)["transactions"]


def test_a_failure_in_the_middle_of_paging_stages_nothing_and_keeps_the_watermark(
    staged: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = staged
    token = new_token()
    rate = 0.5
    seed = next(s for s in range(1000) if (r := Random(s)).random() >= rate and r.random() < rate)
    settings = {"seed": 3, "date_from": DAY, "date_to": DAY, "transactions_per_day": 300, "fault_seed": seed}
    with simulator({TENANT: token}, **settings) as server:
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token, max_retries=0)
        assert server.simulation.count(TENANT) > MAX_LIMIT
        set_faults(server, server_error_rate=rate)
        with pytest.raises(BookSpotServerError, match=TENANT):
            tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))
        assert stats(server) == {"200": 1, "503": 1}
    assert counts(engine)["transactions"] == 0 and watermark(engine) is None


def test_a_refused_token_fails_at_once_naming_the_tenant_and_connection(
    on_sqlite: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = on_sqlite
    token, wrong = new_token(), new_token()
    with simulator({TENANT: token}, seed=1, date_from=DAY, date_to=DAY) as server:
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, wrong)
        with pytest.raises(AirflowFailException) as failure:
            tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))
        assert stats(server) == {"401": 1}
    message = str(failure.value)
    assert "refused the token" in message and repr(TENANT) in message
    assert repr(cfg.bookspot_conn_id) in message and wrong not in message and token not in message
    assert counts(engine)["transactions"] == 0 and watermark(engine) is None


def test_a_connection_without_a_token_fails_naming_it(
    on_sqlite: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cfg = on_sqlite
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}",
        json.dumps({"conn_type": "bookspot", "host": "http://127.0.0.1:9"}),
    )
    with pytest.raises(AirflowFailException, match=f"{TENANT}.*{cfg.bookspot_conn_id}.*token as password"):
        tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))


def test_each_broken_invariant_is_quarantined_whole_with_its_rule(
    staged: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = staged
    token = new_token()
    days = {knob: dt.date(2026, 11, 2) + dt.timedelta(days=i) for i, knob in enumerate(KNOB_RULES)}
    served: dict[str, tuple[str, dict]] = {}
    with simulator({TENANT: token}) as server:
        for knob, day in days.items():
            generator = TenantGenerator(TENANT, 9, transactions_per_day=40, knobs=Knobs(**{knob: 1.0}))
            versions = list(generator.iter_versions(day, day))
            assert versions, knob
            server.simulation.load(TENANT, versions)
            served.update({r["id"]: (knob, r) for _, r in versions})
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        result = tasks.extract(TENANT, DAY, now=oslo(2026, 11, 11))
    assert (result["staged"], result["quarantined"]) == (0, len(served))
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine)).mappings().all()
        held = build_day(conn, cfg, days["line_vat_wrong"])
    assert len(rows) == len(served)
    for row in rows:
        knob, sent = served[row["record_id"]]
        assert list(row["rules"]) == [KNOB_RULES[knob]], (knob, row["reason"])
        assert json.loads(row["raw"]) == sent
        assert row["reason"].startswith(f"record {row['record_id']}: ")
        if isinstance(sent.get("occurred_at"), str):
            assert row["local_date"] == days[knob]
    assert held.status == "held" and held.lines == []
    undated = {row["record_id"] for row in rows if row["local_date"] is None}
    assert undated, "a record whose day cannot be read holds every unposted day"
    on_day = {i for i, (k, _) in served.items() if k == "line_vat_wrong"}
    assert {q["id"] for q in held.quarantined} == on_day | undated


def test_garbage_from_the_api_is_quarantined_and_the_rest_staged(
    staged: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = staged
    token = new_token()
    updated = oslo(2026, 7, 3, 12).isoformat()
    good = record("tx_good", updated)
    garbage = [
        {"id": "g_empty", "updated_at": updated},
        {"id": "g_types", "updated_at": updated, "lines": {"a": [1, None, {"b": 2.5}]}, "amount_minor": "12"},
        {**record("g_nul\u0000id", updated)},
        {**record("g_" + "x" * 300, updated)},
        {**record("g_name", updated), "lines": [{**good["lines"][0], "product_name": "a\u0000b"}]},
        {**record("g_year", updated), "occurred_at": "0001-01-01T00:30:00+01:00"},
        {**record("g_huge", updated, [("activity", 10**18, "0")])},
    ]
    with simulator({TENANT: token}) as server:
        put_records(server, TENANT, [good, *garbage])
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        result = tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))
    assert (result["staged"], result["quarantined"]) == (1, len(garbage))
    with engine.connect() as conn:
        rules = {
            json.loads(row.raw)["id"]: list(row.rules)
            for row in conn.execute(select(quarantine.c.raw, quarantine.c.rules))
        }
        staged_ids = list(conn.execute(select(transactions.c.transaction_id)).scalars())
    assert staged_ids == ["tx_good"]
    assert rules["g_nul\u0000id"] == ["bad_text"] and rules["g_" + "x" * 300] == ["too_long"]
    assert rules["g_name"] == ["bad_text"] and rules["g_year"] == ["bad_timestamp"]
    assert rules["g_huge"] == ["out_of_range", "out_of_range"]
    assert "missing_field" in rules["g_empty"] and "no_lines" in rules["g_types"]


def test_a_hostile_record_in_a_page_is_quarantined_naming_page_and_record(
    staged: tuple[Engine, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, cfg = staged
    token = new_token()
    updated = oslo(2026, 7, 3, 12)
    with simulator({TENANT: token}) as server:
        put_records(server, TENANT, [record("tx_good", updated.isoformat())])
        later = [(updated + dt.timedelta(seconds=s)).isoformat() for s in (1, 2, 3)]
        put_raw(server, TENANT, "deep", later[0], "[" * 200_000 + "]" * 200_000)
        put_raw(server, TENANT, "big", later[1], json.dumps({"id": "big", "pad": "x" * (5 << 20)}))
        put_raw(server, TENANT, "broken", later[2], '{"id": "broken" oops}')
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        result = tasks.extract(TENANT, DAY, now=oslo(2026, 7, 4, 1))
    assert (result["staged"], result["quarantined"]) == (1, 3)
    with engine.connect() as conn:
        reasons = sorted(conn.execute(select(quarantine.c.reason)).scalars())
    assert any("page 1, record 2: nests 200,000 arrays or objects deep" in r for r in reasons)
    assert any("page 1, record 3: is 5,242,904 bytes, over the limit of 1,048,576" in r for r in reasons)
    assert any("page 1, record 4: is not JSON" in r for r in reasons)


NOT_PAGES = {
    "an HTML error page": (
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "text/html",
        "is not a page",
    ),
    "a truncated body": ('{"data": [{"id": "tx_1", "amount_minor": 12', "application/json", "is not a page"),
    "a page over the size limit": (
        '{"data": [], "pad": "' + "z" * 70_000 + '"}',
        "application/json",
        "larger than",
    ),
}


@pytest.mark.parametrize("body, content_type, said", NOT_PAGES.values(), ids=list(NOT_PAGES))
def test_a_page_that_is_not_a_page_fails_that_tenant_naming_tenant_and_page(
    staged: tuple[Engine, TenantConfig],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    example_tenant_file: Path,
    body: str,
    content_type: str,
    said: str,
) -> None:
    from bookspot_tripletex import pipeline

    engine, cfg = staged
    monkeypatch.setenv("BOOKSPOT_FEED_MAX_PAGE_BYTES", "65536")
    other = setup_tenant(engine, tenant_file(example_tenant_file, tmp_path / "o.yaml", "other-shop"))
    tokens = {TENANT: new_token(), "other-shop": new_token()}
    updated = oslo(2026, 7, 3, 12).isoformat()
    with simulator(tokens) as server:
        put_records(server, TENANT, [record("tx_a", updated)])
        put_records(server, "other-shop", [record("tx_b", updated, account_id="other-shop")])
        set_page(server, TENANT, body, content_type)
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, tokens[TENANT])
        bookspot_connection(monkeypatch, other.bookspot_conn_id, server.url, tokens["other-shop"])
        night = pipeline.Night("run-1", DAY, dry_run=True, now=oslo(2026, 7, 4, 1))
        result = pipeline.run_night(engine, [TENANT, "other-shop"], night)
    by_tenant = {o.tenant: o for o in result.outcomes if o.day == DAY}
    assert by_tenant["other-shop"].outcome.value == "dry_run"
    failed = by_tenant[TENANT]
    assert failed.outcome.value == "refused" and failed.step == "extract"
    assert f"BookSpot sent page 1 for tenant {TENANT!r}" in failed.reason and said in failed.reason
    assert counts(engine, TENANT)["transactions"] == 0 and watermark(engine) is None
    assert counts(engine, "other-shop")["transactions"] == 1
