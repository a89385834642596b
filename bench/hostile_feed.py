"""Hostile feed: lines mutated from the contract's example records (byte flips, truncation, type swaps,
huge and negative numbers, deep nesting, duplicate keys, odd Unicode, other tenants' ids, reordered and
repeated ids, floats, lines that are not JSON) through the production staging path on SQLite and
PostgreSQL, then journal, validation, release of the held days and posting into the Tripletex emulator
over HTTP. Prints what became of the lines; crashes and bad records posted must be 0.

Run: .venv/bin/python bench/hostile_feed.py [--lines 10000] [--seed 1] [--databases sqlite,postgresql]
     [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
EXAMPLES = ROOT / "tests" / "data" / "bookspot-transactions.example.jsonl"
DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(28)]


def tenant_file(work: Path) -> Path:
    path = work / "fjord-kayak.yaml"
    text = (ROOT / "demo" / "fjord-kayak.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("start_date: 2026-01-01", "start_date: 2026-11-01"), encoding="utf-8")
    return path


def database(kind: str, pg_url: str, work: Path) -> tuple[str, object]:
    """A URL of a fresh staging database, and what drops it (None for SQLite)."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'staging.db'}", None
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = f"bench_hostile_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()

    from bookspot_devkit.demo import demo_emulator_config
    from bookspot_devkit.emulator.config import EmulatorConfig
    from bookspot_devkit.emulator.server import EmulatorServer
    from bookspot_devkit.hostile import example_records, mutate, run_feed
    from bookspot_tripletex.staging.db import make_engine
    from bookspot_tripletex.tripletex.client import TripletexClient

    lines = list(mutate(example_records(EXAMPLES), args.lines, args.seed, DAYS))
    kinds = Counter(line.mutation for line in lines)
    print(
        f"{len(lines):,} lines, seed {args.seed}: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    )
    failed = False
    today = DAYS[-1] + dt.timedelta(days=1)
    config = EmulatorConfig(companies=demo_emulator_config().companies, today=today)
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory() as tmp, EmulatorServer(config) as emulator:
            work = Path(tmp)
            company = emulator.config.companies[0]
            client = TripletexClient(
                emulator.url, company.consumer_token, company.employee_token, clock=lambda: today
            )
            url, drop = database(kind, args.pg_url, work)
            engine = make_engine(url)
            try:
                figures = run_feed(engine, tenant_file(work), lines, client, work)
            finally:
                engine.dispose()
                if drop is not None:
                    drop()
        print(f"\n{kind}:")
        for name, value in dataclasses.asdict(figures).items():
            if name == "crash" and not value:
                continue
            shown = (
                f"{value:.2f} s" if name == "seconds" else f"{value:,}" if isinstance(value, int) else value
            )
            print(f"  {name.replace('_', ' '):18s} {shown}")
        failed |= figures.crashes > 0 or figures.bad_posted > 0 or figures.rows_without_reason > 0
    print(
        "\nverdict: "
        + (
            "FAILED (a crash, a bad record posted or a quarantine without reason)"
            if failed
            else "0 crashes, 0 bad records posted"
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
