"""One shard's night in-process: N tenants × D days through every step into the Tripletex emulator over
HTTP, timed (wall, and the CPU of the night's own thread: the emulator runs in other threads); and how
many Airflow task instances the night needs at a given shard size.

Run: .venv/bin/python bench/night_shard.py [--tenants 100] [--days 1] [--shard-size 25]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / d) for d in ("plugins", "devkit", "tests")]
LAST_DAY = dt.date(2026, 11, 24)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--shard-size", type=int, default=25)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-night-"))
    os.environ.update(BOOKSPOT_REPORTS_DIR=str(work / "reports"), AIRFLOW_HOME=str(work / "airflow"))

    from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
    from bookspot_devkit.emulator.server import EmulatorServer
    from bookspot_tripletex import pipeline
    from bookspot_tripletex.staging.db import make_engine, migrate
    from helpers import data_path, setup_tenant
    from simulator_support import tenant_file

    first_day = LAST_DAY - dt.timedelta(days=args.days - 1)
    example = data_path("bookspot-transactions.example.jsonl").read_text(encoding="utf-8").splitlines()
    engine = make_engine(f"sqlite:///{work / 'staging.db'}")
    migrate(engine)
    tenants = [f"tenant-{i:04d}" for i in range(args.tenants)]
    clearing = [AccountSpec(number=n, name=f"clearing {n}") for n in (1580, 1581, 1582)]
    companies = [
        CompanyConfig(id=20_000 + i, name=f"{t} AS", consumer_token=f"c-{t}", employee_token=f"e-{t}",
                      extra_accounts=clearing)
        for i, t in enumerate(tenants)
    ]  # fmt: skip
    with EmulatorServer(EmulatorConfig(companies=companies, today=LAST_DAY + dt.timedelta(days=1))) as server:
        for tenant, firm in zip(tenants, companies, strict=True):
            tripletex = {
                "conn_type": "tripletex",
                "host": server.url,
                "password": firm.employee_token,
                "extra": {"consumer_token": firm.consumer_token, "company_id": 0},
            }
            feed = work / f"{tenant}.jsonl"
            lines = []
            for offset in range(args.days):
                day = (first_day + dt.timedelta(days=offset)).isoformat()
                for line in example:
                    lines.append(
                        line.replace("fjord-kayak", tenant)
                        .replace("2026-11-24", day)
                        .replace('"id": "tx_', f'"id": "tx_{day}_')
                    )
            feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
            example_file = data_path("fjord-kayak.example.yaml")
            path = tenant_file(example_file, work / f"{tenant}.yaml", tenant, firm.id, start_date=first_day)
            cfg = setup_tenant(engine, path)
            os.environ[f"AIRFLOW_CONN_{cfg.bookspot_conn_id.upper()}"] = json.dumps(
                {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
            )
            os.environ[f"AIRFLOW_CONN_{cfg.tripletex_conn_id.upper()}"] = json.dumps(tripletex)
        night = pipeline.Night("bench", LAST_DAY, now=dt.datetime(2026, 11, 25, 1, tzinfo=dt.UTC))
        started, cpu = time.perf_counter(), time.thread_time()
        result = pipeline.run_night(engine, tenants, night, progress=lambda line: None)
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
    days = len(result.outcomes)
    shards = math.ceil(args.tenants / args.shard_size)
    print(f"{args.tenants} tenant(s) x {args.days} day(s): {result.tally()}")
    print(
        f"  one process: {elapsed:.1f} s, {1000 * elapsed / max(days, 1):.0f} ms per tenant-day; CPU of the "
        f"night's thread (the emulator apart) {cpu:.1f} s, {1000 * cpu / max(days, 1):.0f} ms per tenant-day"
    )
    print(
        f"  Airflow task instances at shard size {args.shard_size}: {1 + shards} (plan + {shards} shards),"
        f" was {1 + 5 * args.tenants} with a mapped task group per tenant"
    )


if __name__ == "__main__":
    main()
