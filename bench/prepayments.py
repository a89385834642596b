"""Revenue on delivery at a season's scale: the journal's cost per day with the option on and off.

One simulated tenant's season (the simulator's bookings, paid up to 90 days ahead, with late updates and
voids) is staged into a SQLite file; every day is then journaled (sql/journal_lines.sql, and with the
option sql/journal_release_days.sql and sql/journal_prepayments.sql) twice: under a mapping without the
option and under one with it. Figures printed: milliseconds per day (median, p95, max) each way, the
deferred and released net of the season, the open prepayments at its end and how long reading them
takes, and a check that every day's VAT-bearing postings are the same with and without the option.

Run: .venv/bin/python bench/prepayments.py [--days 120] [--per-day 150]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devkit")]

from bookspot_devkit.simulator.generator import iter_transactions  # noqa: E402
from bookspot_tripletex.journal.build import build_day  # noqa: E402
from bookspot_tripletex.journal.prepayments import open_prepayments  # noqa: E402
from bookspot_tripletex.staging.db import make_engine, migrate  # noqa: E402
from bookspot_tripletex.staging.stage import stage_records  # noqa: E402
from bookspot_tripletex.tenants.config import parse_tenant  # noqa: E402
from bookspot_tripletex.tenants.store import import_tenant  # noqa: E402

TENANT = "fjord-kayak"
FIRST = dt.date(2026, 3, 1)


def _tenant(on: bool):  # type: ignore[no-untyped-def]
    data = yaml.safe_load((ROOT / "demo" / "fjord-kayak.yaml").read_text(encoding="utf-8"))
    data["start_date"] = FIRST - dt.timedelta(days=1)
    version = copy.deepcopy(data["mappings"][0])
    version["valid_from"] = data["start_date"]
    version["accounts"].update(customer_prepayments=2965, revenue_deferral=3090)
    version["revenue_on_delivery"] = on
    data["mappings"] = [version]
    return parse_tenant(data)


def _journal_days(engine, cfg, days: list[dt.date]):  # type: ignore[no-untyped-def]
    times, vouchers = [], {}
    with engine.connect() as conn:
        for day in days:
            start = time.perf_counter()
            journal = build_day(conn, cfg, day)
            times.append((time.perf_counter() - start) * 1000)
            vouchers[day] = journal
    return times, vouchers


def _figures(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered):6.1f}  p95 {p95:6.1f}  max {ordered[-1]:6.1f} ms/day"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--per-day", type=float, default=150.0)
    args = parser.parse_args()
    last = FIRST + dt.timedelta(days=args.days - 1)
    days = [FIRST + dt.timedelta(days=i) for i in range(args.days)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'staging.db'}")
        migrate(engine)
        off, on = _tenant(False), _tenant(True)
        records = list(
            iter_transactions(
                [TENANT],
                FIRST,
                last,
                seed=7,
                transactions_per_day=args.per_day,
                late_updates=0.02,
                voids=0.01,
            )
        )
        with engine.begin() as conn:
            import_tenant(conn, off)
            staged = stage_records(conn, off, records)
        print(f"{TENANT}: {args.days} days, {staged.staged:,} transactions staged ({len(records):,} records)")
        off_times, off_days = _journal_days(engine, off, days)
        with engine.begin() as conn:
            import_tenant(conn, on)
        on_times, on_days = _journal_days(engine, on, days)
        print(f"journal, option off   {_figures(off_times)}")
        print(f"journal, option on    {_figures(on_times)}")
        deferred = released = 0
        same_vat = True
        for day in days:
            legs = on_days[day].lines
            deferred -= sum(
                x.amount_ore
                for x in legs
                if x.entry == "deferral" and x.account_type == "customer_prepayments"
            )
            released += sum(
                x.amount_ore
                for x in legs
                if x.entry == "release" and x.account_type == "customer_prepayments"
            )
            taxed = [
                {
                    (p.account, p.vat_type): p.amount_ore
                    for p in (j.voucher.postings if j.voucher else ())
                    if p.vat_type
                }
                for j in (off_days[day], on_days[day])
            ]
            same_vat &= taxed[0] == taxed[1]
        with engine.connect() as conn:
            start = time.perf_counter()
            still_open = open_prepayments(conn, TENANT, last)
            read_ms = (time.perf_counter() - start) * 1000
        owed = sum(x.net_ore for x in still_open)
        print(f"deferred {deferred / 100:,.2f} NOK, released {released / 100:,.2f} NOK over the season")
        print(f"open at {last}: {len(still_open):,} lines, {owed / 100:,.2f} NOK (read in {read_ms:.0f} ms)")
        print(f"deferred - released = open prepayments: {deferred - released == owed}")
        print(f"VAT-bearing postings identical with and without the option on every day: {same_vat}")
        engine.dispose()


if __name__ == "__main__":
    main()
