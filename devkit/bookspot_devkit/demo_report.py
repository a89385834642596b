"""After the demo night: print the voucher staging recorded, what the emulator holds, and the report."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import requests

from bookspot_devkit.demo import DEMO_COMPANY_ID, company_ids
from bookspot_tripletex import settings
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.staging.db import make_engine
from bookspot_tripletex.staging.schema import vouchers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, action="append", help="repeat for several tenants")
    parser.add_argument("--date", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--since", required=True, help="when this demo run started (UTC ISO)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    day = dt.date.fromisoformat(args.date)
    since = dt.datetime.fromisoformat(args.since)
    companies = company_ids(settings.data_dir())
    codes = [
        report(tenant, day, args.emulator, since, companies.get(tenant, DEMO_COMPANY_ID))
        for tenant in args.tenant
    ]
    if len(args.tenant) > 1:
        posted = sum(1 for code in codes if code == 0)
        print(f"\n{day}: {posted} of {len(codes)} tenants posted ({', '.join(args.tenant)}).")
    return max(codes)


def report(tenant: str, day: dt.date, emulator: str, since: dt.datetime, company_id: int) -> int:
    """Print one tenant's voucher for the day: staging's record, the emulator's copy, the report."""
    with make_engine().connect() as conn:
        row = get_voucher(conn, tenant, day)
        posted_at = (
            conn.execute(
                vouchers.select().with_only_columns(vouchers.c.posted_at).where(vouchers.c.id == row.id)
            ).scalar()
            if row
            else None
        )
    if row is None:
        print(f"{tenant} {day}: no voucher was built", file=sys.stderr)
        return 1
    print(f"\n{tenant} {day}: status {row.status}, voucher {row.external_number}")
    if row.status != "posted":
        print(f"NOT POSTED ({row.error or row.status}); report: {row.report_path}")
        return 1
    if posted_at is not None and posted_at.replace(tzinfo=dt.UTC) < since:
        print(
            f"Already posted (Tripletex voucher {row.tripletex_number}, id {row.tripletex_voucher_id}) "
            f"at {posted_at:%Y-%m-%d %H:%M:%S} UTC: nothing new was posted."
        )
    else:
        print(f"Posted now as Tripletex voucher {row.tripletex_number} (id {row.tripletex_voucher_id}).")
    held = requests.get(f"{emulator}/_emulator/companies/{company_id}/vouchers", timeout=10).json()
    matching = [v for v in held.get("values", held) if v.get("externalVoucherNumber") == row.external_number]
    print(f"The emulator holds {len(matching)} voucher(s) with that externalVoucherNumber.")
    for voucher in matching:
        print(f"\nVoucher {voucher.get('number')} dated {voucher.get('date')}: {voucher.get('description')}")
        print(f"  {'row':>3}  {'account':>7}  {'VAT':>4}  {'amountGross':>12}  {'net':>12}")
        for p in sorted(voucher.get("postings", []), key=lambda p: p.get("row", 0)):
            account = p.get("account", {}).get("number", p.get("account", {}).get("id"))
            vat = (p.get("vatType") or {}).get("number", "")
            gross, net = p.get("amountGross"), p.get("amount")
            print(f"  {p.get('row'):>3}  {account:>7}  {vat:>4}  {gross:>12}  {net:>12}")
    total = sum(p.amount_ore for p in row.postings)
    print(f"\nStaged postings: {len(row.postings)}, sum {format_nok(total)} NOK")
    print(f"Validation report: {row.report_path}")
    return 0
