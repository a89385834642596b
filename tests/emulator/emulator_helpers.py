"""Helpers for the emulator tests: the test companies and a small client of one emulated company."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal
from typing import Any

import requests

from bookspot_devkit.contract import ContractChecker, ContractCheckingAdapter
from bookspot_devkit.emulator.config import AccountSpec, ClosedPeriod, CompanyConfig
from bookspot_devkit.emulator.errors import dumps
from bookspot_devkit.emulator.server import EmulatorServer

TODAY = date(2026, 11, 25)
DAY = "2026-11-24"
JSON = {"Content-Type": "application/json; charset=utf-8"}


def company_a() -> CompanyConfig:
    return CompanyConfig(
        id=1001,
        name="Fjord Kayak AS",
        consumer_token="test-c-" + secrets.token_hex(8),
        employee_token="test-e-" + secrets.token_hex(8),
        employee_tokens=["test-e2-" + secrets.token_hex(8)],
        extra_accounts=[
            AccountSpec(number=1580, name="Stripe clearing"),
            AccountSpec(number=1581, name="Vipps clearing"),
            AccountSpec(number=1599, name="Gammel klaringskonto", is_inactive=True),
        ],
        closed_periods=[ClosedPeriod(date(2026, 1, 1), date(2026, 2, 1))],
    )


def company_b() -> CompanyConfig:
    return CompanyConfig(
        id=2002,
        name="Nordlys Yoga AS",
        consumer_token="test-c-" + secrets.token_hex(8),
        employee_token="test-e-" + secrets.token_hex(8),
        disabled_vat_numbers=["33"],
    )


class Api:
    """A logged-in (or not yet) client of one emulated company, over a contract-checked session."""

    def __init__(self, server: EmulatorServer, company: CompanyConfig, checker: ContractChecker) -> None:
        self.server = server
        self.company = company
        self.session = requests.Session()
        self.session.mount("http://127.0.0.1:", ContractCheckingAdapter(checker))
        self.token: str | None = None

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 10)
        return self.session.request(method, self.server.url + path, **kw)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, params=params)

    def post_json(self, path: str, body: Any, **params: Any) -> requests.Response:
        return self.request("POST", path, params=params, data=dumps(body), headers=JSON)

    def login(self, employee_token: str | None = None, username: str = "0") -> Api:
        response = self.request(
            "PUT",
            "/token/session/:create",
            params={
                "consumerToken": self.company.consumer_token,
                "employeeToken": employee_token or self.company.employee_token,
                "expirationDate": "2026-11-27",
            },
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["value"]["token"]
        self.session.auth = (username, self.token)
        return self

    def accounts(self, *numbers: int) -> dict[int, int]:
        response = self.get("/ledger/account", number=",".join(map(str, numbers)), fields="id,number")
        assert response.status_code == 200, response.text
        return {a["number"]: a["id"] for a in response.json()["values"]}

    def vat_id(self, number: str) -> int:
        values = self.get("/ledger/vatType", number=number).json()["values"]
        assert len(values) == 1
        return values[0]["id"]

    def voucher_body(self, lines: list[tuple[int, str, str | None]], **extra: Any) -> dict[str, Any]:
        """lines: (account number, gross NOK as string, VAT number or None)."""
        ids = self.accounts(*{n for n, _, _ in lines})
        postings = []
        for row, (number, gross, vat) in enumerate(lines, start=1):
            posting: dict[str, Any] = {
                "row": row,
                "date": extra.get("date", DAY),
                "account": {"id": ids[number]},
                "amountGross": Decimal(gross),
                "amountGrossCurrency": Decimal(gross),
            }
            if vat is not None:
                posting["vatType"] = {"id": self.vat_id(vat)}
            postings.append(posting)
        body: dict[str, Any] = {"date": DAY, "description": "BookSpot salg " + DAY, "postings": postings}
        body.update(extra)
        return body

    def post_voucher(self, body: Any, **params: Any) -> requests.Response:
        return self.post_json("/ledger/voucher", body, **params)

    def full_voucher(self, voucher_id: int) -> dict[str, Any]:
        response = self.get(f"/ledger/voucher/{voucher_id}", fields="*,postings(*,account(*),vatType(*))")
        assert response.status_code == 200, response.text
        return response.json()["value"]
