"""The demo-shaped emulator company and a fast-retrying client for it (shared by load and DAG tests)."""

from __future__ import annotations

import datetime as dt
import secrets

from bookspot_devkit.demo import DEMO_COMPANY_ID, organization_number
from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.retry import RetryPolicy
from bookspot_tripletex.tripletex.client import TripletexClient

COMPANY_ID = DEMO_COMPANY_ID
"""The example tenant file's company (`tripletex_company_id`)."""


def fjord_company() -> CompanyConfig:
    return CompanyConfig(
        id=COMPANY_ID,
        name="Fjord Kayak AS",
        organization_number=organization_number(COMPANY_ID),
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
        extra_accounts=[
            AccountSpec(number=1580, name="Stripe clearing"),
            AccountSpec(number=1581, name="Vipps clearing"),
            AccountSpec(number=1582, name="Dintero clearing"),
        ],
    )


def make_client(server: EmulatorServer) -> TripletexClient:
    company = server.config.companies[0]
    return TripletexClient(
        server.url,
        company.consumer_token,
        company.employee_token,
        timeout=5,
        clock=lambda: dt.date(2026, 11, 25),
        retry=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
        post_settle=0.01,
    )


def vouchers_in(server: EmulatorServer, external: str | None = None, drafts: bool = False) -> list[dict]:
    """The company's vouchers in the ledger (with `drafts`, the drafts too)."""
    path = f"companies/{COMPANY_ID}/vouchers" + (f"?externalVoucherNumber={external}" if external else "")
    return [v for v in server.admin("GET", path)["values"] if drafts or v["number"]]


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(companies=[fjord_company()], today=dt.date(2026, 11, 25))
