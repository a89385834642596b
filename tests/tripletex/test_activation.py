"""check_activation's rules on a stub client: VAT acceptance, overrides, refusals and the API key."""

from __future__ import annotations

import pytest

from bookspot_tripletex.tripletex import errors
from bookspot_tripletex.tripletex.activation import check_activation

VAT = [
    {"id": 1, "number": "0"},
    {"id": 3, "number": "3"},
    {"id": 31, "number": "31"},
    {"id": 32, "number": "33"},
]
RATES = {"25": 3, "15": 31, "12": 33}


def account(number, name="Konto", vat_id=1, locked=False, legal=(1, 3, 31, 32), **extra) -> dict:
    return {
        "id": 10_000 + number,
        "number": number,
        "name": name,
        "vatType": {"id": vat_id},
        "vatLocked": locked,
        "legalVatTypes": [{"id": i} for i in legal],
        "ledgerType": "GENERAL",
        **extra,
    }


BACKGROUND = account(3400, name="Offentlig tilskudd")


class Stub:
    """The rest of a chart (3400) accepts every VAT code the company has switched on."""

    def __init__(
        self, accounts: list[dict], vat_types: list[dict] = VAT, who: Exception | None = None
    ) -> None:
        self.accounts = [*accounts, BACKGROUND]
        self.vat_types = vat_types
        self.who = who
        self.read_error: Exception | None = None

    def who_am_i(self, fields=None):
        if self.who:
            raise self.who
        return {"companyId": 7, "company": {"id": 7, "name": "Test AS"}}

    def iter_vat_types(self):
        if self.read_error:
            raise self.read_error
        return iter(self.vat_types)

    def iter_accounts(self, numbers=None, fields=None):
        return iter(self.accounts)

    def accounts_by_number(self, numbers, fields=None):
        return {a["number"]: a for a in self.accounts if a["number"] in set(numbers)}


def test_clean_mapping_resolves_ids():
    stub = Stub([account(3000, vat_id=3, locked=True, legal=(3,)), account(1920, locked=True, legal=(1,))])
    report = check_activation(stub, {"sales.25": 3000, "settlement.card_terminal": 1920}, RATES)
    assert report.ok, str(report)
    assert report.account_ids == {3000: 13000, 1920: 11920}
    assert report.vat_type_ids == {0: 1, 3: 3, 31: 31, 33: 32}
    assert str(report).endswith("Ready to post.")


def test_legal_vat_list_refusal_is_explained():
    stub = Stub([account(3001, vat_id=31, legal=(3, 32)), account(1920, legal=(1,))])
    report = check_activation(stub, {"sales.15": 3001, "settlement.cash": 1920}, RATES)
    assert [p.message for p in report.errors] == [
        "Account 3001 'Konto' only allows VAT codes 3, 33 but sales.15 needs VAT code 31; "
        "choose another account or change the lock in Tripletex."
    ]


def test_settlement_account_locked_to_a_vat_code_is_refused():
    stub = Stub([account(1920, name="Bank", vat_id=3, locked=True, legal=(3,))])
    report = check_activation(stub, {"settlement.stripe": 1920}, RATES)
    assert report.messages == [
        "Account 1920 'Bank' is locked to VAT code 3 but settlement.stripe needs VAT code 0 (no VAT); "
        "choose another account or change the lock in Tripletex."
    ]


def test_override_accounts_warn_when_locked_and_fail_when_nothing_fits():
    stub = Stub(
        [account(3005, vat_id=3, locked=True, legal=(3,)), account(3900, vat_id=1, locked=True, legal=(1,))]
    )
    report = check_activation(stub, {"product.kayak": 3005, "category.cafe": 3900}, RATES)
    [warning] = report.warnings
    assert warning.account_types == ("product.kayak",)
    assert "lines of product.kayak sold at VAT code 31, 33 would be refused" in warning.message
    [error] = report.errors
    assert (
        error.account_types == ("category.cafe",) and "accepts none of the sales VAT codes" in error.message
    )


def test_department_and_project_requirements_and_subledgers():
    stub = Stub(
        [
            account(7100, requiresDepartment=True),
            account(7350, requiresProject=True),
            account(2400, name="Leverandørgjeld", ledgerType="VENDOR"),
        ]
    )
    report = check_activation(
        stub, {"provider_fees": 7100, "gift_card_liability": 7350, "settlement.x": 2400}, RATES
    )
    text = "\n".join(report.messages)
    assert "Account 7100 'Konto' (provider_fees) requires a department on every posting" in text
    assert "Account 7350 'Konto' (gift_card_liability) requires a project on every posting" in text
    assert "Account 2400 'Leverandørgjeld' (settlement.x) requires a supplier on every posting" in text


def test_accounts_shared_by_types_are_reported_once():
    report = check_activation(Stub([]), {"settlement.stripe": 1234, "settlement.vipps": 1234}, RATES)
    assert report.messages == [
        "Account 1234 (settlement.stripe, settlement.vipps) does not exist in your Tripletex chart; "
        "create it in Tripletex or choose another account."
    ]


def test_a_sales_rate_without_vat_mapping():
    report = check_activation(Stub([account(3000, vat_id=3)]), {"sales.25": 3000}, {"15": 31})
    assert "No VAT code is mapped for the 25 rate, so sales.25 cannot be posted" in report.errors[0].message


def test_vat_code_no_account_accepts_counts_as_switched_off():
    stub = Stub([account(3002, vat_id=32, locked=True, legal=())])
    stub.accounts[-1] = account(3400, legal=(1, 3, 31))
    report = check_activation(stub, {"sales.12": 3002}, RATES)
    assert [p.message for p in report.errors] == [
        "VAT code 33 is not switched on in your Tripletex company, but sales.12 needs it; "
        "switch it on in Tripletex (VAT settings) or change the VAT mapping."
    ]


def test_vat_code_missing_from_the_company_list():
    stub = Stub([account(3002, vat_id=32)], vat_types=[v for v in VAT if v["number"] != "33"])
    report = check_activation(stub, {"sales.12": 3002}, RATES)
    assert report.errors[0].message.startswith("VAT code 33 is not switched on in your Tripletex company")


@pytest.mark.parametrize(
    ("exc", "start"),
    [
        (errors.AuthError("Unauthorized", status=401), "Tripletex did not accept the API key"),
        (errors.ServerError("boom", status=500, request_id="r-1"), "Could not check the API key"),
    ],
)
def test_api_key_problems_stop_the_check(exc, start):
    report = check_activation(Stub([], who=exc), {"sales.25": 3000}, RATES)
    assert not report.api_key_ok and len(report.problems) == 1
    assert report.messages[0].startswith(start)
    assert str(report).startswith("The API key does not work.")


def test_missing_read_permission():
    stub = Stub([])
    stub.read_error = errors.PermissionDenied("Forbidden", status=403, code=9000)
    report = check_activation(stub, {"sales.25": 3000}, RATES)
    assert report.api_key_ok and not report.ok
    assert "may not read the chart of accounts" in report.messages[0]


def test_revenue_on_delivery_needs_vat_free_legs_on_its_accounts():
    locked = account(3000, name="Salgsinntekt", vat_id=3, locked=True, legal=(3,))
    chart = [locked, account(2965, name="Forskuddsbetalt inntekt", legal=(1,)), account(3090, legal=(1, 3))]
    accounts = {"sales.25": 3000, "customer_prepayments": 2965}
    assert check_activation(Stub(chart), accounts, RATES).ok
    [error] = check_activation(Stub(chart), accounts, RATES, revenue_on_delivery=True).errors
    assert error.account_types == ("sales.25",) and error.message.startswith(
        "Account 3000 'Salgsinntekt' is locked to VAT code 3, but with revenue on delivery sales.25 also "
        "takes the VAT-free deferral and release of prepaid revenue (VAT code 0); map revenue_deferral"
    )
    with_deferral = {**accounts, "revenue_deferral": 3090}
    assert check_activation(Stub(chart), with_deferral, RATES, revenue_on_delivery=True).ok
    taxed = [locked, account(2965, vat_id=3, locked=True, legal=(3,)), account(3090, legal=(3,))]
    report = check_activation(Stub(taxed), with_deferral, RATES, revenue_on_delivery=True)
    assert sorted(p.account_types for p in report.errors) == [
        ("customer_prepayments",),
        ("revenue_deferral",),
    ]
