"""Tripletex HTTP calls per tenant-day: one summed voucher vs a voucher per transaction, on the emulator.

Run: .venv/bin/python bench/tripletex_calls.py [--transactions 300] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime
import random
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("plugins", "devkit")]

from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig  # noqa: E402
from bookspot_devkit.emulator.server import EmulatorServer  # noqa: E402
from bookspot_tripletex.tripletex.client import TripletexClient  # noqa: E402
from bookspot_tripletex.tripletex.payload import voucher_payload  # noqa: E402

TODAY = datetime.date(2026, 11, 25)
DAY = datetime.date(2026, 11, 24)
CONSUMER = f"bench-consumer-{secrets.token_hex(8)}"
EMPLOYEE = f"bench-employee-{secrets.token_hex(8)}"
SALES = {25: (3000, 3), 15: (3001, 31), 12: (3002, 33)}
SETTLEMENT = {"stripe": 1580, "vipps": 1581, "card_terminal": 1920}
FEE_PERMILLE = {"stripe": 24, "vipps": 17, "card_terminal": 0}
FEES = 7770
ONCE_PER_RUN = ("/token/session/:create", "/token/session/>whoAmI", "/ledger/account", "/ledger/vatType")


@dataclass(frozen=True)
class Line:
    row: int
    account: int
    vat_type: int
    amount_ore: int
    description: str


@dataclass(frozen=True)
class DayVoucher:
    date: datetime.date
    description: str
    external_number: str
    postings: list[Line]


def transactions(count: int, seed: int) -> list[list[tuple[int, int, int]]]:
    """Balanced (account, VAT number, øre) postings per synthetic transaction."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        method = rng.choice(list(SETTLEMENT))
        postings = []
        total = 0
        for _ in range(rng.randint(1, 3)):
            account, vat = SALES[rng.choice(list(SALES))]
            gross = rng.randrange(4_900, 250_000, 100)
            postings.append((account, vat, -gross))
            total += gross
        postings.append((SETTLEMENT[method], 0, total))
        fee = total * FEE_PERMILLE[method] // 1000
        if fee:
            postings += [(FEES, 0, fee), (SETTLEMENT[method], 0, -fee)]
        out.append(postings)
    return out


def summed(txs: list[list[tuple[int, int, int]]]) -> DayVoucher:
    sums: Counter[tuple[int, int]] = Counter()
    for postings in txs:
        for account, vat, ore in postings:
            sums[(account, vat)] += ore
    lines = [
        Line(row, account, vat, ore, f"BookSpot {DAY}")
        for row, ((account, vat), ore) in enumerate(sorted(sums.items()), start=1)
        if ore
    ]
    return DayVoucher(DAY, f"BookSpot sales {DAY}", f"bookspot:bench:{DAY}", lines)


def per_transaction(txs: list[list[tuple[int, int, int]]]) -> list[DayVoucher]:
    return [
        DayVoucher(
            DAY,
            f"BookSpot transaction {i}",
            f"bookspot:bench:{DAY}:tx{i:05d}",
            [Line(row, a, v, ore, f"tx {i}") for row, (a, v, ore) in enumerate(postings, start=1)],
        )
        for i, postings in enumerate(txs, start=1)
    ]


def run(server: EmulatorServer, vouchers: list[DayVoucher]) -> tuple[Counter[str], float]:
    """Post `vouchers` the way the pipeline does; returns calls by kind and the wall time."""
    seen: Counter[str] = Counter()
    session = requests.Session()

    def count(response: requests.Response, *args: object, **kwargs: object) -> None:
        path = urlsplit(response.request.url).path.removeprefix("/v2").replace("%3E", ">")
        seen["once" if path in ONCE_PER_RUN else "day"] += 1
        seen[f"{response.request.method} {path}"] += 1

    session.hooks["response"].append(count)
    started = time.perf_counter()
    with TripletexClient(server.url, CONSUMER, EMPLOYEE, session=session, clock=lambda: TODAY) as client:
        client.who_am_i()
        numbers = {line.account for v in vouchers for line in v.postings}
        accounts = {n: a["id"] for n, a in client.accounts_by_number(numbers).items()}
        vat_numbers = {line.vat_type for v in vouchers for line in v.postings}
        vat_types = {n: t["id"] for n, t in client.vat_types_by_number(vat_numbers).items()}
        for voucher in vouchers:
            client.ensure_voucher(voucher_payload(voucher, accounts, vat_types))
    return seen, time.perf_counter() - started


def booked(server: EmulatorServer) -> Counter[int]:
    company = server.state.companies[1]
    out: Counter[int] = Counter()
    for voucher in company.vouchers.values():
        for posting in voucher.postings:
            if posting.row > 0:
                out[company.accounts[posting.account_id].spec.number] += posting.amount_gross
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    txs = transactions(args.transactions, args.seed)
    company = CompanyConfig(
        id=1,
        name="Bench AS",
        consumer_token=CONSUMER,
        employee_token=EMPLOYEE,
        extra_accounts=[AccountSpec(1580, "Stripe clearing"), AccountSpec(1581, "Vipps clearing")],
    )
    results = {}
    with EmulatorServer(EmulatorConfig(companies=[company], today=TODAY)) as server:
        for name, vouchers in (
            ("summed voucher (ours)", [summed(txs)]),
            ("voucher per transaction", per_transaction(txs)),
        ):
            server.reset()
            seen, seconds = run(server, vouchers)
            logged = len(server.state.request_log)
            assert logged == seen["once"] + seen["day"], (logged, seen)
            results[name] = (seen, seconds, booked(server))
    ours, base = results["summed voucher (ours)"], results["voucher per transaction"]
    assert ours[2] == base[2], "both approaches must book the same amounts per account"

    print(f"Tripletex HTTP calls per tenant-day, {args.transactions} transactions, emulator over real HTTP")
    print(f"{'approach':<26}{'once per run':>14}{'per tenant-day':>16}{'total':>8}{'wall':>9}")
    for name, (seen, seconds, _) in results.items():
        total = seen["once"] + seen["day"]
        print(f"{name:<26}{seen['once']:>14}{seen['day']:>16}{total:>8}{seconds:>8.2f}s")
    kinds = [k for k in sorted(ours[0]) if " " in k]
    print("  once per run: " + ", ".join(f"{k} x{ours[0][k]}" for k in kinds if k.endswith(ONCE_PER_RUN)))
    for name, (seen, _, _) in results.items():
        day = [f"{k} x{v}" for k, v in sorted(seen.items()) if " " in k and not k.endswith(ONCE_PER_RUN)]
        print(f"  {name}, per day: " + ", ".join(day))
    day_ratio = base[0]["day"] / ours[0]["day"]
    total_ratio = (base[0]["day"] + base[0]["once"]) / (ours[0]["day"] + ours[0]["once"])
    print(
        f"ratio per tenant-day: {day_ratio:.1f}x fewer calls; with once-per-run lookups: {total_ratio:.1f}x"
    )


if __name__ == "__main__":
    main()
