"""Two nights of fjord-kayak in staging for the review tests: 2026-11-24 posted into the emulator,
2026-11-25 held by a quarantined record; and an Airflow user's bearer token."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import pipeline
from helpers import read_jsonl, record, setup_tenant, stage
from tripletex_support import make_client

POSTED_DAY, HELD_DAY = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
HELD_REASON_FIELD = "currency"
TENANT = "fjord-kayak"


def held_day_records() -> list[dict[str, Any]]:
    """One good sale and one in euros (the feed contract allows NOK only): the day is held."""
    bad = record("tx_eur", "2026-11-25T11:00:00+01:00")
    bad["currency"] = "EUR"
    return [record("tx_nok", "2026-11-25T10:00:00+01:00"), bad]


def write_feed(example_feed: Path, path: Path) -> Path:
    """Both nights' records as one JSON Lines file (what the tenant's BookSpot connection reads)."""
    rows = read_jsonl(example_feed) + held_day_records()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def seed_two_nights(
    engine: Engine, tenant_file: Path, feed: Path, tripletex: EmulatorServer, reports: Path
) -> None:
    cfg = setup_tenant(engine, tenant_file)
    stage(engine, cfg, read_jsonl(feed))
    for day in (POSTED_DAY, HELD_DAY):
        pipeline.journal_day(engine, TENANT, day)
        pipeline.validate_day(engine, TENANT, day, reports)
    posted = pipeline.load_day(engine, TENANT, POSTED_DAY, make_client(tripletex), "seed")
    assert posted["outcome"] == "posted", posted


def airflow_token(client: Any, user: str, passwords_file: Path) -> str:
    password = json.loads(passwords_file.read_text(encoding="utf-8"))[user]
    response = client.post("/auth/token", json={"username": user, "password": password})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["access_token"])
