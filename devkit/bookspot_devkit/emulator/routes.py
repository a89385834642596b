"""The Tripletex v2 routes: session tokens, chart, VAT types, vouchers, postings, periods."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from . import ledger, views
from .errors import ApiError, validation_failed, validation_message
from .state import Company, EmulatorState, rate_key
from .web import (
    TOKEN_CREATE,
    base_url,
    charge,
    company_of,
    int_list,
    json_body,
    listing,
    path_id,
    query_bool,
    query_date,
    query_int,
    query_list,
    single,
)


def register_token_routes(app: FastAPI, state: EmulatorState) -> None:
    def create(request: Request, consumer: Any, employee: Any, expires_raw: Any, status: int) -> Response:
        missing = [
            validation_message(f"arg:{name}", "Kan ikke være null.")
            for name, value in (
                ("consumerToken", consumer),
                ("employeeToken", employee),
                ("expirationDate", expires_raw),
            )
            if value in (None, "")
        ]
        if missing:
            raise validation_failed(missing)
        company, wrong = state.find_company_for_tokens(str(consumer), str(employee))
        if company is None:
            kind = "consumer" if wrong == "consumerToken" else "employee"
            raise validation_failed(
                [validation_message(f"arg:{wrong}", f"The {kind} token is invalid or does not exist.")]
            )
        request.state.company_id = company.id
        charge(state, request, rate_key(None, str(consumer), str(employee)))
        try:
            expires = date.fromisoformat(str(expires_raw))
        except ValueError:
            raise validation_failed([validation_message("arg:expirationDate", "Ugyldig dato.")]) from None
        if expires <= state.clock.today():
            raise validation_failed(
                [validation_message("arg:expirationDate", "Utløpsdatoen må være etter dagens dato.")]
            )
        session = state.create_session(company, str(consumer), str(employee), expires)
        return single(request, views.session_token(base_url(request), session), "SessionToken", status)

    @app.put(TOKEN_CREATE)
    async def create_put(request: Request) -> Response:
        q = request.query_params
        return create(request, q.get("consumerToken"), q.get("employeeToken"), q.get("expirationDate"), 200)

    @app.post(TOKEN_CREATE)
    async def create_post(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(422, 16000, "Mapping failed: the body must be an object.")
        return create(
            request, body.get("consumerToken"), body.get("employeeToken"), body.get("expirationDate"), 201
        )

    @app.delete("/v2/token/session/{token}")
    async def delete_session(request: Request, token: str) -> Response:
        session = state.sessions.get(token)
        if session is None or session.company_id != request.state.session.company_id:
            raise ApiError(404, 6000, "Object not found")
        with state.lock:
            session.expired = True
        return Response(status_code=204)

    @app.get("/v2/token/session/>whoAmI")
    async def who_am_i(request: Request) -> Response:
        return single(
            request, views.who_am_i(base_url(request), company_of(state, request)), "LoggedInUserInfo"
        )


def register_ledger_routes(app: FastAPI, state: EmulatorState) -> None:
    def account_view(request: Request, company: Company) -> Callable[[Any], dict[str, Any]]:
        base = base_url(request)
        used = {p.account_id for v in company.vouchers.values() for p in v.postings}
        return lambda acc: views.account(base, state, company, acc, used)

    @app.get("/v2/ledger/account")
    async def accounts(request: Request) -> Response:
        company = company_of(state, request)
        ids = int_list(request, "id")
        numbers = int_list(request, "number")
        inactive = query_bool(request, "isInactive")
        bank = query_bool(request, "isBankAccount")
        ledger_type = request.query_params.get("ledgerType")
        with state.lock:
            found = [
                a
                for a in sorted(company.accounts.values(), key=lambda a: a.spec.number)
                if (ids is None or a.id in ids)
                and (numbers is None or a.spec.number in numbers)
                and (inactive is None or a.spec.is_inactive == inactive)
                and (bank is None or a.spec.is_bank_account == bank)
                and (not ledger_type or a.spec.ledger_type == ledger_type)
            ]
            return listing(request, found, account_view(request, company), "Account")

    @app.get("/v2/ledger/account/{account_id}")
    async def account(request: Request, account_id: str) -> Response:
        company = company_of(state, request)
        with state.lock:
            acc = company.accounts.get(path_id(account_id))
            if acc is None:
                raise ApiError(404, 6000, "Object not found")
            return single(request, account_view(request, company)(acc), "Account")

    @app.get("/v2/ledger/vatType")
    async def vat_types(request: Request) -> Response:
        ids = int_list(request, "id")
        numbers = query_list(request, "number")
        found = [
            v
            for v in sorted(state.vat_types.values(), key=lambda v: v.id)
            if (ids is None or v.id in ids) and (numbers is None or v.number in numbers)
        ]
        base = base_url(request)
        return listing(request, found, lambda v: views.vat_type(base, v), "VatType")

    @app.get("/v2/ledger/vatType/{vat_id}")
    async def vat_type(request: Request, vat_id: str) -> Response:
        vat = state.vat_types.get(path_id(vat_id))
        if vat is None:
            raise ApiError(404, 6000, "Object not found")
        return single(request, views.vat_type(base_url(request), vat), "VatType")

    @app.get("/v2/ledger/voucherType")
    async def voucher_types(request: Request) -> Response:
        company = company_of(state, request)
        name = (request.query_params.get("name") or "").lower()
        found = [(i, n) for i, n in company.voucher_types.items() if name in n.lower()]
        base = base_url(request)
        return listing(request, found, lambda t: views.voucher_type(base, *t), "VoucherType")

    @app.get("/v2/ledger/voucherType/{type_id}")
    async def voucher_type(request: Request, type_id: str) -> Response:
        company = company_of(state, request)
        tid = path_id(type_id)
        if tid not in company.voucher_types:
            raise ApiError(404, 6000, "Object not found")
        return single(
            request, views.voucher_type(base_url(request), tid, company.voucher_types[tid]), "VoucherType"
        )

    def voucher_view(request: Request, company: Company) -> Callable[[Any], dict[str, Any]]:
        base = base_url(request)
        return lambda v: views.voucher(base, state, company, v)

    def _range(request: Request) -> tuple[date, date]:
        date_from = query_date(request, "dateFrom")
        date_to = query_date(request, "dateTo")
        assert date_from is not None and date_to is not None
        if date_to <= date_from:
            raise ApiError(
                422,
                15000,
                "Validering feilet.",
                [
                    validation_message(
                        "dateTo", "Til-dato må være etter fra-dato (til-dato er ikke inkludert)."
                    )
                ],
            )
        return date_from, date_to

    @app.get("/v2/ledger/voucher")
    async def vouchers(request: Request) -> Response:
        company = company_of(state, request)
        date_from, date_to = _range(request)
        ids = int_list(request, "id")
        numbers = int_list(request, "number")
        number_from = query_int(request, "numberFrom")
        number_to = query_int(request, "numberTo")
        type_ids = int_list(request, "typeId")
        with state.lock:
            found = [
                v
                for v in sorted(company.vouchers.values(), key=lambda v: (v.date, v.id))
                if date_from <= v.date < date_to
                and not ledger.is_draft(v)
                and state.listed(v.id)
                and (ids is None or v.id in ids)
                and (numbers is None or v.number in numbers)
                and (number_from is None or v.number >= number_from)
                and (number_to is None or v.number <= number_to)
                and (type_ids is None or v.voucher_type_id in type_ids)
            ]
            return listing(request, found, voucher_view(request, company), "Voucher")

    @app.post("/v2/ledger/voucher")
    async def post_voucher(request: Request) -> Response:
        company = company_of(state, request)
        send_to_ledger = query_bool(request, "sendToLedger", True)
        body = await json_body(request)
        voucher = ledger.create_voucher(state, company, body, bool(send_to_ledger))
        with state.lock:
            view = voucher_view(request, company)(voucher)
            return single(request, view, "Voucher", 201, views.WRITTEN_VOUCHER_FIELDS)

    @app.get("/v2/ledger/voucher/>externalVoucherNumber")
    async def by_external_number(request: Request) -> Response:
        company = company_of(state, request)
        wanted = request.query_params.get("externalVoucherNumber")
        with state.lock:
            found = [
                v
                for v in sorted(company.vouchers.values(), key=lambda v: v.id)
                if (wanted is None or v.external_voucher_number == wanted)
                and not ledger.is_draft(v)
                and state.indexed(v.id)
            ]
            return listing(request, found, voucher_view(request, company), "Voucher")

    @app.get("/v2/ledger/voucher/>nonPosted")
    async def non_posted(request: Request) -> Response:
        company = company_of(state, request)
        if query_bool(request, "includeNonApproved") is None:
            raise validation_failed([validation_message("includeNonApproved", "Kan ikke være null.")])
        date_from = query_date(request, "dateFrom", required=False)
        date_to = query_date(request, "dateTo", required=False)
        with state.lock:
            found = [
                v
                for v in sorted(company.vouchers.values(), key=lambda v: (v.date, v.id))
                if ledger.is_draft(v)
                and state.listed(v.id)
                and (date_from is None or v.date >= date_from)
                and (date_to is None or v.date < date_to)
            ]
            return listing(request, found, voucher_view(request, company), "Voucher")

    def _voucher(company: Company, raw_id: str) -> Any:
        voucher = company.vouchers.get(path_id(raw_id))
        if voucher is None:
            raise ApiError(404, 6000, "Object not found")
        return voucher

    @app.get("/v2/ledger/voucher/{voucher_id}")
    async def get_voucher(request: Request, voucher_id: str) -> Response:
        company = company_of(state, request)
        with state.lock:
            return single(request, voucher_view(request, company)(_voucher(company, voucher_id)), "Voucher")

    @app.delete("/v2/ledger/voucher/{voucher_id}")
    async def delete_voucher(request: Request, voucher_id: str) -> Response:
        company = company_of(state, request)
        with state.lock:
            ledger.delete_draft(state, company, _voucher(company, voucher_id))
        return Response(status_code=204)

    @app.put("/v2/ledger/voucher/{voucher_id}/:sendToLedger")
    async def send_to_ledger(request: Request, voucher_id: str) -> Response:
        company = company_of(state, request)
        version = query_int(request, "version")
        with state.lock:
            voucher = ledger.send_to_ledger(state, company, _voucher(company, voucher_id), version)
            return single(request, voucher_view(request, company)(voucher), "Voucher")

    @app.put("/v2/ledger/voucher/{voucher_id}/:reverse")
    async def reverse(request: Request, voucher_id: str) -> Response:
        company = company_of(state, request)
        day = query_date(request, "date")
        assert day is not None
        with state.lock:
            reversal = ledger.reverse_voucher(state, company, _voucher(company, voucher_id), day)
            view = voucher_view(request, company)(reversal)
            return single(request, view, "Voucher", default_fields=views.WRITTEN_VOUCHER_FIELDS)

    @app.post("/v2/ledger/voucher/{voucher_id}/attachment")
    async def attachment(request: Request, voucher_id: str) -> Response:
        company = company_of(state, request)
        with state.lock:
            voucher = _voucher(company, voucher_id)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(422, 16000, "Expected multipart/form-data with a part named file.")
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise validation_failed([validation_message("file", "Kan ikke være null.")])
        data = await upload.read()
        mime = upload.content_type or ""
        ledger.attach(state, voucher, upload.filename or "", mime, data)
        with state.lock:
            return single(request, voucher_view(request, company)(voucher), "Voucher", 201)

    @app.get("/v2/ledger/posting")
    async def postings(request: Request) -> Response:
        company = company_of(state, request)
        date_from, date_to = _range(request)
        account_id = query_int(request, "accountId")
        number_from = query_int(request, "accountNumberFrom")
        number_to = query_int(request, "accountNumberTo")
        base = base_url(request)
        with state.lock:
            found = [
                (v, p)
                for v in sorted(company.vouchers.values(), key=lambda v: (v.date, v.id))
                for p in v.postings
                if date_from <= p.date < date_to
                and not ledger.is_draft(v)
                and (account_id is None or p.account_id == account_id)
                and (number_from is None or company.accounts[p.account_id].spec.number >= number_from)
                and (number_to is None or company.accounts[p.account_id].spec.number <= number_to)
            ]
            return listing(request, found, lambda vp: views.posting(base, state, company, *vp), "Posting")

    @app.get("/v2/ledger/posting/{posting_id}")
    async def posting(request: Request, posting_id: str) -> Response:
        company = company_of(state, request)
        pid = path_id(posting_id)
        with state.lock:
            for v in company.vouchers.values():
                for p in v.postings:
                    if p.id == pid:
                        return single(
                            request, views.posting(base_url(request), state, company, v, p), "Posting"
                        )
        raise ApiError(404, 6000, "Object not found")

    @app.get("/v2/ledger/accountingPeriod")
    async def periods(request: Request) -> Response:
        company = company_of(state, request)
        found: Iterable[dict[str, Any]] = views.accounting_periods(
            base_url(request), company, state.clock.today()
        )
        start_from = query_date(request, "startFrom", required=False)
        start_to = query_date(request, "startTo", required=False)
        found = [
            p
            for p in found
            if (start_from is None or p["start"] >= start_from.isoformat())
            and (start_to is None or p["start"] < start_to.isoformat())
        ]
        return listing(request, found, lambda p: p, "AccountingPeriod")
