"""Fault campaign: seeded runs of nightly loads against an emulator that misbehaves like the real world.

Each run stages a few days for several tenants, then loads them through a random mix of faults (429
with and without reset, 5xx before and after commit, timeouts, late commits, a lagging lookup, dropped
answers, SIGKILLed loads, overlapping loads, a lease running out mid-write, vouchers deleted or
reversed in Tripletex, late and voided records). After recovery (next loads + reconciliation) it counts
per tenant-day the vouchers in the ledger against the reference and the ledger sums against the journal.

    python bench/fault_campaign.py --runs 1000 --seed 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys


def child(argv: list[str]) -> int:
    """One load in its own process, so the campaign can SIGKILL it."""
    from bookspot_tripletex.load.post import post_day
    from bookspot_tripletex.staging.db import make_engine
    from bookspot_tripletex.tenants.store import load_tenant
    from bookspot_tripletex.tripletex.client import RetryPolicy, TripletexClient

    staging_url, base_url, tenant_id, day, claimant, timeout = argv
    engine = make_engine(staging_url)
    with engine.connect() as conn:
        tenant = load_tenant(conn, tenant_id)
    client = TripletexClient(
        base_url,
        os.environ["BOOKSPOT_TRIPLETEX_CONSUMER"],
        os.environ["BOOKSPOT_TRIPLETEX_EMPLOYEE"],
        timeout=float(timeout),
        retry=RetryPolicy(
            attempts=2, backoff_initial=0.01, backoff_max=0.05, rate_limit_backoff_initial=0.01
        ),
    )
    try:
        result = post_day(engine, tenant, dt.date.fromisoformat(day), client, claimant)
        print(json.dumps({"outcome": result["outcome"]}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)[:300]}))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return child(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    raise SystemExit(f"not yet: {args}")


if __name__ == "__main__":
    raise SystemExit(main())
