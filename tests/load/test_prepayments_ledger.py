"""Revenue on delivery through every step into the Tripletex emulator (real HTTP, its VAT locks on): the
worked example's season, night by night, for a tenant with the option and the same data without it."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bookspot_devkit.demo import organization_number
from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.journal.prepayments import by_service_month, check_ledger, open_prepayments
from bookspot_tripletex.pipeline import activate_day, journal_day, load_day, validate_days
from bookspot_tripletex.retry import RetryPolicy
from bookspot_tripletex.staging.due import correction_days
from bookspot_tripletex.tenants.config import parse_tenant
from bookspot_tripletex.tenants.store import import_tenant, load_tenant
from bookspot_tripletex.tripletex.client import TripletexClient
from helpers import stage
from prepaid_support import season, tenant_data

ON, OFF = ("kayak-on", 2001), ("kayak-off", 2002)
REVENUE_VAT = ["0", "3", "31", "33", "5", "6"]
YEAR = (dt.date(2026, 1, 1), dt.date(2027, 1, 1))


def _company(company_id: int) -> CompanyConfig:
    return CompanyConfig(
        id=company_id,
        name=f"Kayak {company_id} AS",
        organization_number=organization_number(company_id),
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
        extra_accounts=[
            AccountSpec(number=1580, name="Stripe clearing"),
            AccountSpec(number=2960, name="Forskudd fra kunder, sesong", legal_vat_numbers=["0"]),
            AccountSpec(
                number=3090, name="Periodisering forskuddsbetalt salg", legal_vat_numbers=REVENUE_VAT
            ),
            AccountSpec(number=3095, name="Periodisering forskudd, ny serie", legal_vat_numbers=REVENUE_VAT),
        ],
    )


@pytest.fixture(scope="module")
def ledger() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(companies=[_company(ON[1]), _company(OFF[1])], today=dt.date(2026, 11, 25))
    with EmulatorServer(config) as server:
        yield server


def _client(server: EmulatorServer, company_id: int) -> TripletexClient:
    company = next(c for c in server.config.companies if c.id == company_id)
    return TripletexClient(
        server.url,
        company.consumer_token,
        company.employee_token,
        timeout=5,
        clock=lambda: dt.date(2026, 11, 25),
        retry=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
        post_settle=0.01,
    )


def _night(engine, tenant: str, night: dt.date, records: list[dict], client: TripletexClient) -> None:  # type: ignore[no-untyped-def]
    """What the nightly run does for one tenant: stage what arrived, then the day and every day to correct."""
    with engine.connect() as conn:
        cfg = load_tenant(conn, tenant)
    if records:
        stage(engine, cfg, records)
    with engine.connect() as conn:
        days = sorted({night} | correction_days(conn, [tenant], night)[tenant])
    for day in days:
        journal_day(engine, tenant, day)
    for day, validated in zip(
        days, validate_days(engine, [(tenant, d) for d in days], f"n{night}"), strict=True
    ):
        assert validated["status"] in ("ready", "empty", "posted"), (day, validated)
        if validated["status"] == "ready":
            activate_day(engine, tenant, day, client)
        loaded = load_day(engine, tenant, day, client, f"n{night}/{tenant}")
        assert loaded["outcome"] in ("posted", "empty", "already_posted"), (day, loaded)


def _vouchers(server: EmulatorServer, company_id: int) -> dict[str, dict[tuple[int, int], int]]:
    out = {}
    for v in server.admin("GET", f"companies/{company_id}/vouchers")["values"]:
        sums: Counter[tuple[int, int]] = Counter()
        for p in v["postings"]:
            if p["row"] >= 1:
                sums[(int(p["account"]["number"]), int(p["vatType"]["number"]))] += _ore(p["amountGross"])
        out[v["externalVoucherNumber"]] = dict(sums)
    return out


def _ore(value: Any) -> int:
    return int(Decimal(str(value)) * 100)


def _postings(client: TripletexClient) -> list[dict]:
    return client.postings(*YEAR, fields="date,row,amount,account(number),vatType(number)")


def _vat_by_month(postings: list[dict]) -> dict[tuple[str, int, str], int]:
    """Per (month, VAT type, 'vat' | 'basis'): the VAT Tripletex booked (row 0) and its basis."""
    sums: Counter[tuple[str, int, str]] = Counter()
    for p in postings:
        number = int(p["vatType"]["number"]) if p.get("vatType") else 0
        if number:
            sums[(p["date"][:7], number, "vat" if p["row"] == 0 else "basis")] += _ore(p["amount"])
    return {k: v for k, v in sums.items() if v}


def _balances(postings: list[dict], as_of: dt.date) -> dict[int, int]:
    sums: Counter[int] = Counter()
    for p in postings:
        if dt.date.fromisoformat(p["date"]) <= as_of and int(p["account"]["number"]) in (2960, 2965):
            sums[int(p["account"]["number"])] += _ore(p["amount"])
    return {k: v for k, v in sums.items() if v}


def _owed(engine, tenant: str, as_of: dt.date) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """The open prepayments in staging per account, as the ledger books them (credit, negative)."""
    with engine.connect() as conn:
        rows = by_service_month(open_prepayments(conn, tenant, as_of))
    sums: Counter[int] = Counter()
    for row in rows:
        sums[row["account"]] -= row["net_ore"]
    return {k: v for k, v in sums.items() if v}


EXPECTED = {
    "2026-02-10:v1": {
        (1580, 0): 126_055,  # 1 279.00 received - 18.45 fee
        (7770, 0): 1_845,
        (3000, 3): -102_900,  # trip 1 000.00 + booking fee 29.00, with its VAT, as without the option
        (3001, 31): -25_000,  # lunch
        (3090, 0): 101_739,  # deferral: 1 000.00 - 200.00 + 250.00 - 32.61
        (2965, 0): -101_739,
    },
    "2026-03-15:v1": {(1580, 0): -25_000, (3001, 31): 25_000, (3090, 0): -21_739, (2965, 0): 21_739},
    "2026-04-02:v1": {(1920, 0): 59_500, (3000, 3): -59_500, (3090, 0): 47_600, (2965, 0): -47_600},
    "2026-06-05:v1": {(1920, 0): 59_500, (3000, 3): -59_500, (3095, 0): 47_600, (2960, 0): -47_600},
    "2026-06-12:v1": {(2965, 0): 47_600, (3090, 0): -47_600, (2960, 0): 47_600, (3095, 0): -47_600},
    "2026-04-02:v2": {(1920, 0): -59_500, (3000, 3): 59_500, (3090, 0): -47_600, (2965, 0): 47_600},
    "2026-06-12:v2": {(2965, 0): -47_600, (3090, 0): 47_600},
    "2026-07-18:v1": {(2965, 0): 80_000, (3090, 0): -80_000},
}
EXPECTED_OFF = {
    "2026-02-10:v1": {(1580, 0): 126_055, (7770, 0): 1_845, (3000, 3): -102_900, (3001, 31): -25_000},
    "2026-03-15:v1": {(1580, 0): -25_000, (3001, 31): 25_000},
    "2026-04-02:v1": {(1920, 0): 59_500, (3000, 3): -59_500},
    "2026-06-05:v1": {(1920, 0): 59_500, (3000, 3): -59_500},
    "2026-04-02:v2": {(1920, 0): -59_500, (3000, 3): 59_500},
}
VAT_BY_MONTH = {
    ("2026-02", 3, "vat"): -20_580,
    ("2026-02", 3, "basis"): -82_320,
    ("2026-02", 31, "vat"): -3_261,
    ("2026-02", 31, "basis"): -21_739,
    ("2026-03", 31, "vat"): 3_261,
    ("2026-03", 31, "basis"): 21_739,
    ("2026-06", 3, "vat"): -11_900,
    ("2026-06", 3, "basis"): -47_600,
}
OWED = {
    dt.date(2026, 2, 10): {2965: -101_739},
    dt.date(2026, 3, 15): {2965: -80_000},
    dt.date(2026, 6, 5): {2965: -80_000, 2960: -47_600},
    dt.date(2026, 6, 12): {2965: -80_000},
    dt.date(2026, 7, 17): {2965: -80_000},
    dt.date(2026, 7, 18): {},
}


def test_a_season_with_revenue_on_delivery_against_the_ledger(
    staging_engine, ledger: EmulatorServer, example_tenant_file: Path
) -> None:
    ledger.reset()
    example = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    clients = {}
    for (tenant, company_id), on in ((ON, True), (OFF, False)):
        cfg = parse_tenant(tenant_data(example, tenant, company_id, organization_number(company_id), on))
        with staging_engine.begin() as conn:
            import_tenant(conn, cfg)
        clients[tenant] = _client(ledger, company_id)
    seasons = {tenant: season(tenant) for tenant in clients}
    for night in sorted(seasons[ON[0]]):
        for tenant, client in clients.items():
            _night(staging_engine, tenant, night, seasons[tenant][night], client)
        on_ledger = _postings(clients[ON[0]])
        assert _balances(on_ledger, night) == _owed(staging_engine, ON[0], night), night

    prefix = "bookspot:{}:"
    on_vouchers = {k.removeprefix(prefix.format(ON[0])): v for k, v in _vouchers(ledger, ON[1]).items()}
    off_vouchers = {k.removeprefix(prefix.format(OFF[0])): v for k, v in _vouchers(ledger, OFF[1]).items()}
    assert on_vouchers == EXPECTED
    assert off_vouchers == EXPECTED_OFF

    on_ledger, off_ledger = _postings(clients[ON[0]]), _postings(clients[OFF[0]])
    assert _vat_by_month(on_ledger) == _vat_by_month(off_ledger) == VAT_BY_MONTH
    for as_of, owed in OWED.items():
        assert _balances(on_ledger, as_of) == _owed(staging_engine, ON[0], as_of) == owed, as_of
        assert _balances(off_ledger, as_of) == _owed(staging_engine, OFF[0], as_of) == {}
    revenue = Counter[str]()
    for p in on_ledger:
        if 3000 <= int(p["account"]["number"]) < 4000:
            revenue[p["date"][:7]] -= _ore(p["amount"])
    assert +revenue == {"2026-02": 2_320, "2026-06": 47_600, "2026-07": 80_000}

    with staging_engine.connect() as conn:
        tenant = load_tenant(conn, ON[0])
        checked = check_ledger(conn, tenant, clients[ON[0]], dt.date(2026, 6, 30))
        assert checked == {"ledger": {"2960": "0.00", "2965": "-800.00"}, "match": True}
        by_hand = {n: a["id"] for n, a in clients[ON[0]].accounts_by_number([2965, 1920]).items()}
        clients[ON[0]].post_voucher_once(
            {
                "date": "2026-06-30",
                "description": "moved by hand",
                "postings": [
                    {
                        "row": 1,
                        "account": {"id": by_hand[2965]},
                        "amountGross": Decimal("100.00"),
                        "date": "2026-06-30",
                    },
                    {
                        "row": 2,
                        "account": {"id": by_hand[1920]},
                        "amountGross": Decimal("-100.00"),
                        "date": "2026-06-30",
                    },
                ],
            }
        )
        moved = check_ledger(conn, tenant, clients[ON[0]], dt.date(2026, 6, 30))
    assert moved == {"ledger": {"2960": "0.00", "2965": "-700.00"}, "match": False}


def test_vat_free_legs_on_a_locked_sales_account_are_refused(
    staging_engine, ledger: EmulatorServer, example_tenant_file: Path
) -> None:
    """Without revenue_deferral the legs would go on 3000, locked to VAT type 3: activation names it, and
    Tripletex (the emulator) refuses the voucher should it be posted anyway."""
    from bookspot_tripletex.load.activation import ActivationFailed
    from bookspot_tripletex.load.errors import DayRefused

    ledger.reset()
    example = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    tenant, company_id = ON
    data = tenant_data(example, tenant, company_id, organization_number(company_id), True, deferral=False)
    with staging_engine.begin() as conn:
        import_tenant(conn, parse_tenant(data))
    day = min(season(tenant))
    with staging_engine.connect() as conn:
        stage(staging_engine, load_tenant(conn, tenant), season(tenant)[day])
    journal_day(staging_engine, tenant, day)
    [validated] = validate_days(staging_engine, [(tenant, day)], "locked")
    assert validated["status"] == "ready"
    client = _client(ledger, company_id)
    with pytest.raises(ActivationFailed, match="Account 3000 .* is locked to VAT code 3, but with revenue"):
        activate_day(staging_engine, tenant, day, client)
    with pytest.raises(DayRefused, match="Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til mva-kode 3"):
        load_day(staging_engine, tenant, day, client, "locked")
    assert ledger.admin("GET", f"companies/{company_id}/vouchers")["values"] == []
