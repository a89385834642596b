"""POST /ledger/voucher: Tripletex's refusals, VAT derivation with row-0 system postings, numbering."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests
from emulator_helpers import DAY, JSON, Api

from bookspot_devkit.emulator.ledger import net_of

WORKED_EXAMPLE = [
    (1580, "1646.27", "0"),
    (1581, "1038.10", "0"),
    (1920, "349.00", "0"),
    (2900, "-405.00", "0"),
    (3000, "-1329.00", "3"),
    (3001, "-300.00", "31"),
    (3002, "-1050.00", "33"),
    (7770, "50.63", "0"),
]


def refused(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == 18000
    assert body["message"] == "Validering feilet."
    assert body["requestId"] == response.headers["x-tlx-request-id"]
    return body["validationMessages"]


def messages(response: Any) -> list[str]:
    return [m["message"] for m in refused(response)]


def test_worked_example_derives_vat_on_row_zero(api_a: Api) -> None:
    response = api_a.post_voucher(
        api_a.voucher_body(WORKED_EXAMPLE, externalVoucherNumber="bs-fk-2026-11-24")
    )
    assert response.status_code == 201, response.text
    voucher = api_a.full_voucher(response.json()["value"]["id"])
    assert voucher["number"] == 1 and voucher["year"] == 2026 and voucher["date"] == DAY
    assert voucher["externalVoucherNumber"] == "bs-fk-2026-11-24"
    user = {p["account"]["number"]: p for p in voucher["postings"] if not p["systemGenerated"]}
    system = {p["account"]["number"]: p for p in voucher["postings"] if p["systemGenerated"]}
    assert all(p["row"] == 0 for p in system.values())
    assert all(p["row"] >= 1 for p in user.values())
    amounts = {n: (Decimal(str(p["amount"])), Decimal(str(p["amountGross"]))) for n, p in user.items()}
    assert amounts[3000] == (Decimal("-1063.20"), Decimal("-1329.00"))
    assert amounts[3001] == (Decimal("-260.87"), Decimal("-300.00"))
    assert amounts[3002] == (Decimal("-937.50"), Decimal("-1050.00"))
    assert amounts[1580] == (Decimal("1646.27"), Decimal("1646.27"))
    vat = {n: Decimal(str(p["amount"])) for n, p in system.items()}
    assert vat == {2700: Decimal("-265.80"), 2701: Decimal("-39.13"), 2702: Decimal("-112.50")}
    assert {system[2700]["vatType"]["number"], system[2702]["vatType"]["number"]} == {"3", "33"}
    assert sum(Decimal(str(p["amount"])) for p in voucher["postings"]) == 0


def test_net_rounds_half_up_in_ore() -> None:
    assert net_of(Decimal("0.14"), Decimal("12")) == Decimal("0.13")
    assert net_of(Decimal("-0.14"), Decimal("12")) == Decimal("-0.13")
    assert net_of(Decimal("100.00"), Decimal("15")) == Decimal("86.96")
    assert net_of(Decimal("1.00"), Decimal("25")) == Decimal("0.80")


def test_half_ore_vat_case_over_http(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body([(1920, "0.14", "0"), (3002, "-0.14", "33")]))
    voucher = api_a.full_voucher(response.json()["value"]["id"])
    by_number = {p["account"]["number"]: Decimal(str(p["amount"])) for p in voucher["postings"]}
    assert by_number[3002] == Decimal("-0.13") and by_number[2702] == Decimal("-0.01")


def test_vouchers_are_numbered_per_year_and_drafts_get_temp_numbers(api_a: Api) -> None:
    lines = [(1920, "100.00", "0"), (2990, "-100.00", "0")]
    first = api_a.post_voucher(api_a.voucher_body(lines)).json()["value"]
    second = api_a.post_voucher(api_a.voucher_body(lines)).json()["value"]
    draft = api_a.post_voucher(api_a.voucher_body(lines), sendToLedger="false").json()["value"]
    next_year = api_a.post_voucher(api_a.voucher_body(lines, date="2027-01-04")).json()["value"]
    assert (first["number"], second["number"]) == (1, 2)
    assert draft["number"] == 0 and draft["tempNumber"] == 1
    assert (next_year["number"], next_year["year"]) == (1, 2027)


def test_external_voucher_number_is_not_unique(api_a: Api) -> None:
    lines = [(1920, "10.00", "0"), (2990, "-10.00", "0")]
    for _ in range(2):
        assert api_a.post_voucher(api_a.voucher_body(lines, externalVoucherNumber="dup")).status_code == 201
    found = api_a.get("/ledger/voucher/>externalVoucherNumber", externalVoucherNumber="dup").json()
    assert len(found["values"]) == 2
    none = api_a.get("/ledger/voucher/>externalVoucherNumber", externalVoucherNumber="other").json()
    assert none["values"] == [] and none["fullResultSize"] == 0


def test_unbalanced_voucher_is_refused_per_date(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body([(1920, "100.00", "0"), (2990, "-99.99", "0")]))
    assert messages(response) == [f"Summen av posteringene for {DAY} er ikke lik 0."]
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])
    body["postings"][1]["date"] = "2026-11-23"
    assert sorted(messages(api_a.post_voucher(body))) == [
        "Summen av posteringene for 2026-11-23 er ikke lik 0.",
        f"Summen av posteringene for {DAY} er ikke lik 0.",
    ]


@pytest.mark.parametrize("row", [0, None])
def test_row_must_be_given_and_not_zero(api_a: Api, row: int | None) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])
    if row is None:
        del body["postings"][0]["row"]
    else:
        body["postings"][0]["row"] = row
    found = refused(api_a.post_voucher(body))
    assert found[0]["field"] == "postings.row" and found[0]["path"] == "postings[0].row"
    if row == 0:
        assert "systemgenererte" in found[0]["message"]


def test_account_given_by_number_only_is_refused(api_a: Api) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])
    body["postings"][1]["account"] = {"number": 2990}
    found = refused(api_a.post_voucher(body))
    assert found == [
        {
            "field": "postings.account.name",
            "message": "Kan ikke være null.",
            "path": "postings[1].account.name",
            "rootId": None,
        }
    ]


def test_unknown_account_id_is_refused(api_a: Api) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])
    body["postings"][0]["account"] = {"id": 1920}
    assert refused(api_a.post_voucher(body))[0]["field"] == "postings.account"


def test_account_locked_to_another_vat_code(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body([(1920, "125.00", "0"), (3000, "-125.00", "31")]))
    assert messages(response) == ["Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til mva-kode 3."]
    without_vat = api_a.post_voucher(api_a.voucher_body([(1920, "125.00", "0"), (3000, "-125.00", None)]))
    assert "låst til mva-kode 3" in messages(without_vat)[0]


def test_vat_code_not_legal_for_account(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body([(1920, "125.00", "3"), (2990, "-125.00", "0")]))
    assert "Kontoen 1920 Bankinnskudd er låst til mva-kode 0." in messages(response)


@pytest.mark.parametrize(
    ("number", "field", "needs"), [(1500, "customer", "en kunde"), (2400, "supplier", "en leverandør")]
)
def test_customer_and_supplier_ledger_accounts_need_a_party(
    api_a: Api, number: int, field: str, needs: str
) -> None:
    body = api_a.voucher_body([(number, "100.00", "0"), (1920, "-100.00", "0")])
    found = refused(api_a.post_voucher(body))
    assert found[0]["field"] == f"postings.{field}" and found[0]["message"].endswith(f"krever {needs}.")
    body["postings"][0][field] = {"id": 12345}
    assert api_a.post_voucher(body).status_code == 201


def test_ledger_type_is_reported_for_bound_accounts(api_a: Api) -> None:
    values = api_a.get("/ledger/account", number="1500,2400,1920", fields="number,ledgerType").json()[
        "values"
    ]
    assert {a["number"]: a["ledgerType"] for a in values} == {
        1500: "CUSTOMER",
        1920: "GENERAL",
        2400: "VENDOR",
    }


def test_inactive_account_is_refused(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body([(1599, "100.00", "0"), (1920, "-100.00", "0")]))
    assert messages(response) == ["Kontoen 1599 Gammel klaringskonto er inaktiv og kan ikke brukes."]


def test_department_required_by_account(api_a: Api) -> None:
    response = api_a.post_voucher(api_a.voucher_body([(7100, "100.00", "0"), (1920, "-100.00", "0")]))
    assert refused(response)[0]["field"] == "postings.department"


def test_vat_code_disabled_in_company(api_b: Api) -> None:
    response = api_b.post_voucher(api_b.voucher_body([(1920, "112.00", "0"), (3002, "-112.00", "33")]))
    assert messages(response) == ["Mva-kode 33 er ikke aktivert for firmaet."]
    legal = api_b.get("/ledger/account", number="3000", fields="legalVatTypes(number)").json()
    assert legal["values"][0]["legalVatTypes"] == [{"number": "3"}]
    ok = api_b.post_voucher(api_b.voucher_body([(1920, "115.00", "0"), (3001, "-115.00", "31")]))
    assert ok.status_code == 201


@pytest.mark.parametrize("missing", ["date", "description", "postings"])
def test_missing_voucher_fields(api_a: Api, missing: str) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])
    del body[missing]
    found = refused(api_a.post_voucher(body))
    assert found[0]["field"] == missing
    expected = (
        "Et bilag kan ikke registreres uten posteringer." if missing == "postings" else "Kan ikke være null."
    )
    assert found[0]["message"] == expected


def test_empty_postings_and_long_external_number(api_a: Api) -> None:
    body = {"date": DAY, "description": "x", "postings": [], "externalVoucherNumber": "x" * 71}
    assert {m["field"] for m in refused(api_a.post_voucher(body))} == {"postings", "externalVoucherNumber"}


def test_closed_period_is_refused(api_a: Api) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")], date="2026-01-15")
    assert messages(api_a.post_voucher(body)) == [
        "Perioden for 2026-01-15 er stengt. Bilag kan ikke registreres i en stengt periode."
    ]
    api_a.server.admin(
        "PUT", f"companies/{api_a.company.id}/closed_periods", [{"start": "2026-11-01", "end": "2026-12-01"}]
    )
    late = api_a.post_voucher(api_a.voucher_body([(1920, "1.00", "0"), (2990, "-1.00", "0")]))
    assert "stengt" in messages(late)[0]


def test_all_problems_are_reported_at_once(api_a: Api) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (3000, "-100.00", "31")])
    del body["description"]
    body["postings"][0]["row"] = 0
    fields = {m["field"] for m in refused(api_a.post_voucher(body))}
    assert fields == {"description", "postings.row", "postings.vatType"}


def test_nok_currency_amounts_must_match(api_a: Api) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-100.00", "0")])
    body["postings"][0]["amountGrossCurrency"] = Decimal("99.00")
    assert refused(api_a.post_voucher(body))[0]["field"] == "postings.amountGrossCurrency"


def test_invalid_json_body(api_a: Api, raw: requests.Session) -> None:
    response = raw.post(
        api_a.server.url + "/ledger/voucher",
        data=b"{not json",
        headers=JSON,
        auth=api_a.session.auth,
        timeout=10,
    )
    assert response.status_code == 422 and response.json()["code"] == 22000


def test_reverse_books_negated_postings_and_links_both_ways(api_a: Api) -> None:
    created = api_a.post_voucher(api_a.voucher_body([(1580, "125.00", "0"), (3000, "-125.00", "3")])).json()
    original_id = created["value"]["id"]
    response = api_a.request("PUT", f"/ledger/voucher/{original_id}/:reverse", params={"date": "2026-11-25"})
    assert response.status_code == 200, response.text
    reversal = api_a.full_voucher(response.json()["value"]["id"])
    original = api_a.full_voucher(original_id)
    assert reversal["date"] == "2026-11-25" and reversal["number"] == 2
    assert original["reverseVoucher"]["id"] == reversal["id"]
    assert reversal["reverseVoucher"]["id"] == original_id

    def amounts(v: dict[str, Any]) -> list[tuple[int, int, Decimal, bool]]:
        return sorted(
            (p["account"]["number"], p["row"], Decimal(str(p["amount"])), p["systemGenerated"])
            for p in v["postings"]
        )

    assert amounts(reversal) == sorted((n, r, -a, s) for n, r, a, s in amounts(original))
    again = api_a.request("PUT", f"/ledger/voucher/{original_id}/:reverse", params={"date": "2026-11-25"})
    assert messages(again) == ["Bilaget er allerede tilbakeført."]
    closed = api_a.post_voucher(api_a.voucher_body([(1920, "1.00", "0"), (2990, "-1.00", "0")])).json()
    into_closed = api_a.request(
        "PUT", f"/ledger/voucher/{closed['value']['id']}/:reverse", params={"date": "2026-01-10"}
    )
    assert "stengt" in messages(into_closed)[0]
    missing = api_a.request("PUT", "/ledger/voucher/999/:reverse", params={"date": "2026-11-25"})
    assert missing.status_code == 404 and missing.json()["code"] == 6000


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("report.pdf", "application/pdf"),
        ("scan.png", "image/png"),
        ("scan.jpeg", "image/jpeg"),
        ("scan.tiff", "image/tiff"),
    ],
)
def test_attachment_accepts_documents_and_images(api_a: Api, name: str, ctype: str) -> None:
    created = api_a.post_voucher(api_a.voucher_body([(1920, "1.00", "0"), (2990, "-1.00", "0")])).json()
    vid = created["value"]["id"]
    response = api_a.request(
        "POST", f"/ledger/voucher/{vid}/attachment", files={"file": (name, b"data", ctype)}
    )
    assert response.status_code == 201, response.text
    attachment = api_a.get(f"/ledger/voucher/{vid}", fields="attachment(*)").json()["value"]["attachment"]
    assert attachment["mimeType"] == ctype and attachment["fileName"] == name and attachment["size"] == 4


def test_attachment_refusals(api_a: Api) -> None:
    created = api_a.post_voucher(api_a.voucher_body([(1920, "1.00", "0"), (2990, "-1.00", "0")])).json()
    url = f"/ledger/voucher/{created['value']['id']}/attachment"
    text = api_a.request("POST", url, files={"file": ("notes.txt", b"hello", "text/plain")})
    assert messages(text) == ["Filtypen text/plain støttes ikke."]
    empty = api_a.request("POST", url, files={"file": ("empty.pdf", b"", "application/pdf")})
    assert messages(empty) == ["Filen er tom."]
    unknown = api_a.request(
        "POST", "/ledger/voucher/1/attachment", files={"file": ("a.pdf", b"x", "application/pdf")}
    )
    assert unknown.status_code == 404


def test_postings_sharing_a_row_must_balance(api_a: Api) -> None:
    body = api_a.voucher_body([(1920, "100.00", "0"), (2990, "-60.00", "0"), (2965, "-40.00", "0")])
    body["postings"][1]["row"] = 1
    assert messages(api_a.post_voucher(body)) == ["Summen av posteringene på rad 1 er ikke lik 0."]
    body["postings"][2]["row"] = 1
    assert api_a.post_voucher(body).status_code == 201


def test_revenue_on_delivery_legs_follow_the_locks(api_a: Api) -> None:
    """The refusals docs/revenue-on-delivery.md is designed around, and the legs it posts instead."""
    on_liability = api_a.post_voucher(api_a.voucher_body([(1920, "125.00", "0"), (2965, "-125.00", "3")]))
    assert messages(on_liability) == ["Mva-kode 3 er ikke gyldig for kontoen 2965 Forskuddsbetalt inntekt."]
    vat_free_on_sales = api_a.voucher_body([(2965, "100.00", "0"), (3000, "-100.00", "0")])
    assert "låst til mva-kode 3" in messages(api_a.post_voucher(vat_free_on_sales))[0]
    legs = [(1920, "125.00", "0"), (3000, "-125.00", "3"), (3900, "100.00", "0"), (2965, "-100.00", "0")]
    assert api_a.post_voucher(api_a.voucher_body(legs)).status_code == 201
