"""Late data through the extract (simulator over HTTP, SQLite and PostgreSQL staging): a late update or
a void re-stages its day, or, once the day is posted, becomes a pending correction; a corrected record
releases its quarantine."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from bookspot_devkit.simulator.generator import Knobs
from bookspot_devkit.simulator.server import SimulatorServer
from bookspot_tripletex import tasks
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.load.state import get_voucher, record_validation, save_journal
from bookspot_tripletex.staging.raw import raw_records
from bookspot_tripletex.staging.schema import pending_corrections, quarantine, vouchers
from bookspot_tripletex.tenants.config import TenantConfig
from helpers import record, setup_tenant
from simulator_support import (
    bookspot_connection,
    counts,
    fetch_all,
    later_version,
    new_token,
    oslo,
    put_records,
    set_clock,
    simulator,
)

TENANT = "fjord-kayak"
DAY = dt.date(2026, 11, 24)
FIRST_NIGHT = oslo(2026, 11, 25, 1)
SECOND_NIGHT = oslo(2026, 11, 26, 1)
CHANGED_AT = oslo(2026, 11, 25, 10)


class Feed:
    """The simulator and the staging database of one test."""

    def __init__(self, server: SimulatorServer, token: str, engine: Engine, cfg: TenantConfig) -> None:
        self.server, self.token, self.engine, self.cfg = server, token, engine, cfg

    def extract(self, now: dt.datetime) -> dict[str, Any]:
        return tasks.extract(TENANT, DAY, now=now)

    def on_day(self, day: dt.date = DAY) -> list[dict[str, Any]]:
        return [
            r for r in fetch_all(self.server, TENANT, self.token) if r["id"].startswith(f"tx_{day:%Y%m%d}")
        ]

    def journal(self, day: dt.date = DAY):  # type: ignore[no-untyped-def]
        with self.engine.connect() as conn:
            return build_day(conn, self.cfg, day)

    def post(self, day: dt.date = DAY) -> None:
        """Record the day as posted, as validation and the load step do once Tripletex took it."""
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            row = save_journal(conn, build_day(conn, self.cfg, day), now=now)
            record_validation(conn, row.id, True, {"success": True}, "report.html", now)
            conn.execute(
                update(vouchers)
                .where(vouchers.c.id == row.id)
                .values(status="posted", tripletex_voucher_id=9001, tripletex_number="1", posted_at=now)
            )

    def corrections(self) -> list[tuple[str, dt.date, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    pending_corrections.c.transaction_id,
                    pending_corrections.c.local_date,
                    pending_corrections.c.change,
                ).order_by(pending_corrections.c.id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture
def feed(
    staging_url: str,
    monkeypatch: pytest.MonkeyPatch,
    example_tenant_file: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Feed]:
    from bookspot_tripletex.staging.db import make_engine, migrate

    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    engine = make_engine(staging_url)
    migrate(engine)
    cfg = setup_tenant(engine, example_tenant_file)
    token = new_token()
    settings = getattr(request, "param", {})
    settings = {"seed": 7, "date_from": DAY - dt.timedelta(days=1), "date_to": DAY, **settings}
    settings.setdefault("transactions_per_day", 40)
    with simulator({TENANT: token}, **settings) as server:
        bookspot_connection(monkeypatch, cfg.bookspot_conn_id, server.url, token)
        yield Feed(server, token, engine, cfg)
    engine.dispose()


def settlement_total(journal) -> int:  # type: ignore[no-untyped-def]
    return sum(line.amount_ore for line in journal.lines if line.account_type.startswith("settlement."))


def test_a_late_update_before_posting_re_stages_the_day(feed: Feed) -> None:
    feed.extract(FIRST_NIGHT)
    before = feed.journal()
    assert before.status == "ready" and before.transactions > 1
    original = next(r for r in feed.on_day() if r["status"] == "completed" and r["kind"] == "payment")
    changed = later_version(original, CHANGED_AT)
    put_records(feed.server, TENANT, [changed])

    result = feed.extract(SECOND_NIGHT)
    assert (result["staged"], result["corrections"]) == (1, 0)
    after = feed.journal()
    assert after.transactions == before.transactions
    grown = changed["amount_minor"] - original["amount_minor"]
    assert grown > 0 and settlement_total(after) == settlement_total(before) + grown
    assert feed.corrections() == []


def test_a_void_before_posting_drops_the_record_from_the_day(feed: Feed) -> None:
    feed.extract(FIRST_NIGHT)
    before = feed.journal()
    victim = next(r for r in feed.on_day() if r["kind"] == "payment")
    put_records(feed.server, TENANT, [later_version(victim, CHANGED_AT, status="voided")])

    assert feed.extract(SECOND_NIGHT)["staged"] == 1
    after = feed.journal()
    assert after.transactions == before.transactions - 1
    assert victim["id"] in {line.transaction_id for line in before.lines}
    assert victim["id"] not in {line.transaction_id for line in after.lines}
    net = victim["amount_minor"] - victim["provider_fee_minor"]
    assert settlement_total(after) == settlement_total(before) - net
    assert feed.corrections() == []


def test_changes_after_posting_become_pending_corrections_and_leave_the_voucher_alone(feed: Feed) -> None:
    feed.extract(FIRST_NIGHT)
    feed.post()
    with feed.engine.connect() as conn:
        posted = get_voucher(conn, TENANT, DAY)
    assert posted is not None and posted.status == "posted"
    payments = [r for r in feed.on_day() if r["kind"] == "payment"]
    updated = later_version(payments[0], CHANGED_AT)
    voided = later_version(payments[1], CHANGED_AT, status="voided")
    late = record("tx_late_arrival", DAY.isoformat() + "T20:00:00+01:00", updated_at=CHANGED_AT.isoformat())
    put_records(feed.server, TENANT, [updated, voided, late])

    result = feed.extract(SECOND_NIGHT)
    assert (result["staged"], result["corrections"]) == (3, 3)
    assert sorted(feed.corrections()) == sorted(
        [
            (payments[0]["id"], DAY, "update"),
            (payments[1]["id"], DAY, "void"),
            ("tx_late_arrival", DAY, "late"),
        ]
    )
    with feed.engine.connect() as conn:
        raws = dict(
            conn.execute(select(pending_corrections.c.transaction_id, pending_corrections.c.raw)).all()
        )
        after = get_voucher(conn, TENANT, DAY)
    assert json.loads(raws[payments[0]["id"]]) == updated
    assert after == posted

    again = feed.extract(SECOND_NIGHT + dt.timedelta(hours=1))
    assert (again["staged"], again["corrections"]) == (0, 0)
    assert len(feed.corrections()) == 3


def test_a_record_moved_to_another_day_after_posting_is_a_correction_of_the_posted_day(feed: Feed) -> None:
    feed.extract(FIRST_NIGHT)
    feed.post()
    mover = next(r for r in feed.on_day() if r["kind"] == "payment")
    moved = later_version(
        mover, CHANGED_AT, occurred_at=(DAY + dt.timedelta(days=1)).isoformat() + "T09:00:00+01:00"
    )
    put_records(feed.server, TENANT, [moved])
    assert feed.extract(SECOND_NIGHT)["corrections"] == 1
    assert feed.corrections() == [(mover["id"], DAY, "update")]
    next_day = feed.journal(DAY + dt.timedelta(days=1))
    assert mover["id"] in {line.transaction_id for line in next_day.lines}


@pytest.mark.parametrize(
    "feed", [{"knobs": Knobs(line_vat_wrong=0.3, corrections=1.0), "now": FIRST_NIGHT}], indirect=True
)
def test_a_corrected_version_releases_the_quarantine_and_the_day(feed: Feed) -> None:
    first = feed.extract(FIRST_NIGHT)
    held = feed.journal()
    with feed.engine.connect() as conn:
        kept = conn.execute(select(quarantine)).mappings().all()
    on_day = {row["record_id"] for row in kept if row["local_date"] == DAY}
    assert first["quarantined"] == len(kept) and on_day
    assert held.status == "held" and {q["id"] for q in held.quarantined} == on_day
    assert all(list(row["rules"]) == ["line_vat"] for row in kept)
    assert all(json.loads(row["raw"])["id"] == row["record_id"] for row in kept)

    later = oslo(2026, 12, 6)
    set_clock(feed.server, later)
    second = feed.extract(later)
    assert second["released"] == len(kept)
    released = feed.journal()
    assert released.status == "ready" and released.quarantined == []
    assert released.transactions == held.transactions + len(on_day)
    with feed.engine.connect() as conn:
        rows = conn.execute(select(quarantine.c.released_at)).scalars().all()
        staged = raw_records(conn, TENANT)
    assert len(rows) == len(kept) and None not in rows
    for row in kept:
        fixed = dt.datetime.fromisoformat(json.loads(staged[row["record_id"]])["updated_at"])
        assert fixed > dt.datetime.fromisoformat(json.loads(row["raw"])["updated_at"])
    assert counts(feed.engine)["pending_corrections"] == 0
