"""After the demo night: print the voucher staging recorded, what the emulator holds, and the report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

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
    parser.add_argument(
        "--expect",
        type=Path,
        help="a JSON file with the expected net postings per (account, VAT type): exit 1 unless the "
        "emulator holds exactly one such voucher for the tenant and day",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    day = dt.date.fromisoformat(args.date)
    since = dt.datetime.fromisoformat(args.since)
    companies = company_ids(settings.data_dir())
    expected = json.loads(args.expect.read_text(encoding="utf-8")) if args.expect else None
    codes = [
        report(tenant, day, args.emulator, since, companies.get(tenant, DEMO_COMPANY_ID), expected)
        for tenant in args.tenant
    ]
    if len(args.tenant) > 1:
        posted = sum(1 for code in codes if code == 0)
        print(f"\n{day}: {posted} of {len(codes)} tenants posted ({', '.join(args.tenant)}).")
    return max(codes)


def net_postings(postings: list[dict]) -> dict[tuple[int, int], Decimal]:
    """Gross NOK per (account number, VAT type number) of the rows we posted, zero sums dropped.

    Row 0 holds the VAT lines Tripletex books itself from the VAT types; they are not ours to compare.
    """
    sums: dict[tuple[int, int], Decimal] = {}
    for p in postings:
        if p.get("row", 1) == 0 or p.get("systemGenerated"):
            continue
        key = (int(p["account"]["number"]), int((p.get("vatType") or {}).get("number") or 0))
        sums[key] = sums.get(key, Decimal(0)) + Decimal(str(p.get("amountGross", p["amount"])))
    return {key: amount for key, amount in sums.items() if amount}


def matches_expected(tenant: str, day: dt.date, held: list[dict], expected: dict) -> bool:
    """Whether the emulator holds exactly one voucher for the day, with the expected net postings."""
    if expected["tenant"] != tenant or expected["date"] != day.isoformat():
        return True
    want = {(e["account"], e["vat_type"]): Decimal(e["amount"]) for e in expected["postings"]}
    if len(held) != 1:
        print(f"EXPECTED one voucher of the worked example, the emulator holds {len(held)}", file=sys.stderr)
        return False
    got = net_postings(held[0].get("postings", []))
    if got != want:
        print(f"DIFFERS from the worked example: expected {want}, posted {got}", file=sys.stderr)
        return False
    print("The posted voucher matches the worked example to the øre.")
    return True


def report(
    tenant: str,
    day: dt.date,
    emulator: str,
    since: dt.datetime,
    company_id: int,
    expected: dict | None = None,
) -> int:
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
    if expected is not None and not matches_expected(tenant, day, matching, expected):
        return 1
    return 0
