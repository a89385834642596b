"""A seeded sample of the hostile-feed bench (`bench/hostile_feed.py`): mutated lines through staging,
validation, release and posting into the emulator: nothing crashes, every quarantine row has its reason,
no record the money oracle refuses is staged or posted. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_devkit.hostile import MUTATIONS, example_records, fit_to_post, mutate, run_feed
from tripletex_support import make_client

DAYS = [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]


def test_the_oracle_refuses_what_must_never_be_posted(example_feed: Path) -> None:
    good = example_records(example_feed)[0]
    assert fit_to_post(json.dumps(good).encode(), "fjord-kayak")
    assert not fit_to_post(json.dumps(good | {"account_id": "tenant-001"}).encode(), "fjord-kayak")
    assert not fit_to_post(
        json.dumps(good | {"amount_minor": good["amount_minor"] + 1}).encode(), "fjord-kayak"
    )


def test_a_seeded_hostile_feed_crashes_nothing_and_posts_nothing_bad(
    staging_engine, tripletex: EmulatorServer, example_feed: Path, example_tenant_file: Path, tmp_path: Path
) -> None:
    tripletex.reset()
    lines = list(mutate(example_records(example_feed), 300, seed=7, days=DAYS))
    assert {line.mutation for line in lines} >= set(MUTATIONS) - {"repeated_id"}
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text().replace("start_date: 2026-01-01", "start_date: 2026-11-23")
    )
    figures = run_feed(staging_engine, tenant_file, lines, make_client(tripletex), tmp_path)
    assert figures.crashes == 0, figures.crash
    assert figures.staged > 0 and figures.quarantined > 0
    assert figures.staged + figures.quarantined + figures.superseded == len(lines)
    assert figures.rows_without_reason == 0
    assert figures.days_posted == len(DAYS)
    assert figures.bad_staged == 0 and figures.bad_posted == 0
