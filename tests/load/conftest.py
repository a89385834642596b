"""An emulator company shaped like the demo tenant's Tripletex, and a client for it, over real HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.tripletex.client import TripletexClient
from tripletex_support import make_client


@pytest.fixture
def emulator(tripletex: EmulatorServer) -> EmulatorServer:
    tripletex.reset()
    tripletex.admin("DELETE", "faults")
    return tripletex


@pytest.fixture
def client(emulator: EmulatorServer) -> TripletexClient:
    return make_client(emulator)


@pytest.fixture
def staged_day(staging_engine, example_tenant_file: Path, example_feed: Path):  # type: ignore[no-untyped-def]
    """The worked example staged, journaled and marked valid: `ready` to post."""
    from bookspot_tripletex.load.state import record_validation
    from bookspot_tripletex.pipeline import journal_day
    from helpers import read_jsonl, setup_tenant, stage

    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, read_jsonl(example_feed))
    day = dt.date(2026, 11, 24)
    journal_day(staging_engine, cfg.tenant, day)
    from bookspot_tripletex.load.state import get_voucher

    with staging_engine.begin() as conn:
        row = get_voucher(conn, cfg.tenant, day)
        record_validation(conn, row.id, True, {"success": True}, "report.html", dt.datetime.now(dt.UTC))
    return cfg, day
