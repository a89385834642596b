"""The approval gate's rules, through `pipeline.run_night` into the emulator over HTTP: the first day
under a new mapping version waits (the next one under it does not), a day whose records change while it
waits is put up again, and a decision is refused when it does not apply."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import pipeline
from bookspot_tripletex.load.approval import DecisionRefused, decide, requests_of
from bookspot_tripletex.staging.schema import vouchers
from helpers import record, setup_tenant
from simulator_support import oslo, tripletex_connection
from tripletex_support import vouchers_in

TENANT = "fjord-kayak"
DAYS = [dt.date(2026, 11, d) for d in (20, 21, 22, 23)]


def write_feed(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def sale(day: dt.date, gross: int = 59500, updated: str | None = None) -> dict[str, Any]:
    return record(f"tx-{day}", f"{day}T10:00:00+01:00", [("activity", gross, "25")], updated_at=updated)


def tenant_yaml(example: Path, target: Path, **changes: Any) -> Path:
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    data.update(start_date=DAYS[0].isoformat(), **changes)
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture
def tenant(
    staging_engine: Engine,
    tripletex: EmulatorServer,
    example_tenant_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The example tenant from DAYS[0], its feed a JSON Lines file (returned), Tripletex the emulator."""
    tripletex.reset()
    cfg = setup_tenant(staging_engine, tenant_yaml(example_tenant_file, tmp_path / "t.yaml"))
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, [sale(d) for d in DAYS])
    conn = {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}", json.dumps(conn))
    tripletex_connection(monkeypatch, cfg.tripletex_conn_id, tripletex.url, tripletex.config.companies[0])
    return feed


def night(engine: Engine, until: dt.date, now: dt.datetime, run_id: str) -> dict[dt.date, Any]:
    result = pipeline.run_night(engine, [TENANT], pipeline.Night(run_id=run_id, until=until, now=now))
    return {o.day: o for o in result.outcomes}


def status(engine: Engine, day: dt.date) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(vouchers.c.status).where(
                vouchers.c.tenant_id == TENANT, vouchers.c.local_date == day, vouchers.c.version == 1
            )
        ).scalar_one()


def test_the_first_day_under_a_new_mapping_version_waits(
    staging_engine: Engine, tenant: Path, tripletex: EmulatorServer, example_tenant_file: Path, tmp_path: Path
) -> None:
    first = night(staging_engine, DAYS[1], oslo(2026, 11, 22, 1), "n1")
    assert {d: o.outcome.value for d, o in first.items()} == {DAYS[0]: "posted", DAYS[1]: "posted"}
    data = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    second_version = {**data["mappings"][0], "valid_from": DAYS[2]}
    second_version["accounts"] = {**second_version["accounts"], "settlement.card_terminal": 1900}
    changed = tenant_yaml(
        example_tenant_file,
        tmp_path / "v2.yaml",
        approval_new_mapping=True,
        mappings=[data["mappings"][0], second_version],
    )
    setup_tenant(staging_engine, changed)
    later = night(staging_engine, DAYS[3], oslo(2026, 11, 24, 1), "n2")
    waiting = later[DAYS[2]]
    assert waiting.outcome.value == "awaiting_approval" and waiting.alert == "new"
    assert "the first day posted under mapping version" in (waiting.reason or "")
    assert later[DAYS[3]].outcome.value == "posted", "only the first day under the version waits"
    assert status(staging_engine, DAYS[2]) == "awaiting_approval"
    assert [v["date"] for v in vouchers_in(tripletex)] == [str(d) for d in (DAYS[0], DAYS[1], DAYS[3])]


def test_a_day_changed_while_waiting_is_put_up_again(
    staging_engine: Engine, tenant: Path, tripletex: EmulatorServer, example_tenant_file: Path, tmp_path: Path
) -> None:
    setup_tenant(staging_engine, tenant_yaml(example_tenant_file, tmp_path / "gated.yaml", approval_days=1))
    first = night(staging_engine, DAYS[0], oslo(2026, 11, 21, 1), "n1")
    assert first[DAYS[0]].outcome.value == "awaiting_approval"
    with staging_engine.begin() as conn, pytest.raises(DecisionRefused, match="say why"):
        decide(conn, TENANT, DAYS[0], "kari", approve=False, reason=" ")
    with staging_engine.begin() as conn, pytest.raises(DecisionRefused, match="not waiting"):
        decide(conn, TENANT, DAYS[1], "kari", approve=True)

    write_feed(tenant, [sale(DAYS[0], 69500, "2026-11-21T08:00:00+01:00"), *(sale(d) for d in DAYS[1:])])
    again = night(staging_engine, DAYS[0], oslo(2026, 11, 21, 9), "n2")
    assert again[DAYS[0]].outcome.value == "awaiting_approval" and again[DAYS[0]].alert == "new"
    with staging_engine.connect() as conn:
        assert [r.status for r in requests_of(conn, TENANT, DAYS[0])] == ["superseded", "awaiting"]
    with staging_engine.begin() as conn:
        assert decide(conn, TENANT, DAYS[0], "kari", approve=True).status == "approved"
    assert status(staging_engine, DAYS[0]) == "ready"
    later = night(staging_engine, DAYS[1], oslo(2026, 11, 22, 1), "n3")
    assert later[DAYS[0]].outcome.value == "posted" and later[DAYS[1]].outcome.value == "posted"
    (posted,) = [v for v in vouchers_in(tripletex) if v["date"] == str(DAYS[0])]
    debits = [Decimal(str(p["amountGross"])) for p in posted["postings"]]
    assert sum(d for d in debits if d > 0) == Decimal("695.00"), "the changed day, as approved, is posted"
