"""Admin routes under /_emulator: reset, faults, clock, rate limit, sessions, inspection and seeding."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from . import fields as fieldsel
from . import ledger, views
from .config import AccountSpec, ClosedPeriod, FaultConfig, RateLimitConfig
from .errors import ApiError, loads
from .state import Company, EmulatorState, Posting, Voucher

FULL_VOUCHER = fieldsel.parse_fields(
    "*,reverseVoucher(id,number,year,date),attachment(*),voucherType(id,name),"
    "postings(id,row,date,description,amount,amountGross,systemGenerated,account(id,number,name),"
    "vatType(id,number,percentage),customer,supplier,employee,department,project)"
)


def _json(body: Any, status: int = 200) -> Response:
    """Admin JSON (not Tripletex's wire): amounts as strings, config numbers as they are."""
    content = json.dumps(
        body, default=lambda v: str(v) if isinstance(v, Decimal) else repr(v), ensure_ascii=False
    )
    return Response(content=content, status_code=status, media_type="application/json")


async def _body(request: Request) -> Any:
    raw = await request.body()
    return loads(raw) if raw.strip() else None


def register_admin(app: FastAPI, state: EmulatorState) -> None:
    """Add the /_emulator routes (no authentication: the emulator only listens on a local port)."""

    def company(company_id: int) -> Company:
        if company_id not in state.companies:
            raise ApiError(404, 6000, f"No company {company_id}")
        return state.companies[company_id]

    @app.get("/_emulator/health")
    async def health() -> Response:
        return _json({"status": "ok", "companies": sorted(state.companies)})

    @app.post("/_emulator/reset")
    async def reset() -> Response:
        state.reset()
        return _json({"status": "reset"})

    @app.get("/_emulator/faults")
    async def get_faults() -> Response:
        return _json(state.faults.snapshot())

    @app.post("/_emulator/faults")
    async def set_faults(request: Request) -> Response:
        body = await _body(request) or {}
        try:
            cfg = FaultConfig(**_floats(body))
        except (TypeError, ValueError) as exc:
            raise ApiError(422, 15000, f"Bad fault config: {exc}") from None
        state.faults.configure(cfg)
        return _json(state.faults.snapshot())

    @app.delete("/_emulator/faults")
    async def clear_faults() -> Response:
        state.faults.configure(None)
        return Response(status_code=204)

    @app.post("/_emulator/rate_limit")
    async def set_rate_limit(request: Request) -> Response:
        body = await _body(request)
        try:
            cfg = RateLimitConfig(**_floats(body)) if body else None
        except (TypeError, ValueError) as exc:
            raise ApiError(422, 15000, f"Bad rate limit: {exc}") from None
        state.set_rate_limit(cfg)
        return _json({"rate_limit": dataclasses.asdict(cfg) if cfg else None})

    @app.get("/_emulator/clock")
    async def get_clock() -> Response:
        return _json({"today": state.clock.today().isoformat(), "monotonic": state.clock.now()})

    @app.post("/_emulator/clock")
    async def set_clock(request: Request) -> Response:
        body = await _body(request) or {}
        if "today" in body:
            state.clock.set_today(date.fromisoformat(body["today"]) if body["today"] else None)
        if body.get("advance_seconds"):
            state.clock.advance(float(body["advance_seconds"]))
        return _json({"today": state.clock.today().isoformat()})

    @app.post("/_emulator/sessions/expire")
    async def expire_sessions() -> Response:
        return _json({"expired": state.expire_sessions()})

    @app.get("/_emulator/requests")
    async def requests_log() -> Response:
        return _json({"values": list(state.request_log)})

    @app.delete("/_emulator/requests")
    async def clear_requests() -> Response:
        state.clear_requests()
        return Response(status_code=204)

    @app.get("/_emulator/calls")
    async def call_counts() -> Response:
        """Every /v2 call since the last reset or clear, counted (the request log keeps only the last)."""
        with state.lock:
            counts = sorted(state.call_counts.items())
        values = [{"method": m, "path": p, "count": n} for (m, p), n in counts]
        return _json({"values": values, "total": sum(n for _, n in counts)})

    @app.get("/_emulator/companies")
    async def companies() -> Response:
        return _json(
            {
                "values": [
                    {"id": c.id, "name": c.name, "vouchers": len(c.vouchers), "accounts": len(c.accounts)}
                    for c in state.companies.values()
                ]
            }
        )

    @app.get("/_emulator/companies/{company_id}/vouchers")
    async def vouchers(request: Request, company_id: int) -> Response:
        comp = company(company_id)
        external = request.query_params.get("externalVoucherNumber")
        base = str(request.base_url).rstrip("/") + "/v2"
        with state.lock:
            found = [
                fieldsel.project(views.voucher(base, state, comp, v), FULL_VOUCHER, "Voucher")
                for v in sorted(comp.vouchers.values(), key=lambda v: v.id)
                if external is None or v.external_voucher_number == external
            ]
        return _json({"values": found})

    @app.delete("/_emulator/companies/{company_id}/vouchers/{voucher_id}")
    async def delete_behind_back(company_id: int, voucher_id: int) -> Response:
        """Someone deletes a voucher in Tripletex's own screens (any voucher, drafts and posted)."""
        comp = company(company_id)
        with state.lock:
            if comp.vouchers.pop(voucher_id, None) is None:
                raise ApiError(404, 6000, "Object not found")
        return Response(status_code=204)

    @app.post("/_emulator/companies/{company_id}/vouchers/{voucher_id}/reverse")
    async def reverse_behind_back(request: Request, company_id: int, voucher_id: int) -> Response:
        """Someone reverses a voucher in Tripletex's own screens, on `date` (default: its own date)."""
        comp = company(company_id)
        with state.lock:
            voucher = comp.vouchers.get(voucher_id)
            if voucher is None:
                raise ApiError(404, 6000, "Object not found")
            raw = request.query_params.get("date")
            reversal = ledger.reverse_voucher(
                state, comp, voucher, date.fromisoformat(raw) if raw else voucher.date
            )
            return _json({"id": reversal.id, "reverses": voucher.id})

    @app.post("/_emulator/companies/{company_id}/seed_vouchers")
    async def seed(request: Request, company_id: int) -> Response:
        comp = company(company_id)
        body = await _body(request) or {}
        count = int(body.get("count", 1))
        day = date.fromisoformat(body.get("date") or state.clock.today().isoformat())
        debit = comp.account_by_number(int(body.get("debit_account", 1920)))
        credit = comp.account_by_number(int(body.get("credit_account", 2990)))
        if debit is None or credit is None:
            raise ApiError(422, 15000, "Unknown seed account")
        with state.lock:
            for i in range(count):
                amount = Decimal(100 + i % 900)
                postings = [
                    Posting(state.next_id(), 1, day, "seed", debit.id, 1, amount, amount),
                    Posting(state.next_id(), 2, day, "seed", credit.id, 1, -amount, -amount),
                ]
                voucher = Voucher(
                    state.next_id(),
                    day,
                    f"Seed {i + 1}",
                    0,
                    0,
                    day.year,
                    postings,
                    external_voucher_number=body.get("external_prefix", "seed") + f"-{i + 1}",
                )
                voucher.number = comp.next_number.get(day.year, 1)
                comp.next_number[day.year] = voucher.number + 1
                comp.vouchers[voucher.id] = voucher
        return _json({"created": count}, 201)

    @app.post("/_emulator/companies/{company_id}/accounts")
    async def put_account(request: Request, company_id: int) -> Response:
        comp = company(company_id)
        try:
            spec = AccountSpec(**(await _body(request) or {}))
        except (TypeError, ValueError) as exc:
            raise ApiError(422, 15000, f"Bad account: {exc}") from None
        with state.lock:
            account = comp.put_account(spec, state.ids)
        return _json({"id": account.id, "number": spec.number}, 201)

    @app.put("/_emulator/companies/{company_id}/closed_periods")
    async def closed_periods(request: Request, company_id: int) -> Response:
        comp = company(company_id)
        body = await _body(request) or []
        with state.lock:
            comp.closed_periods = [ClosedPeriod(p["start"], p["end"]) for p in body]
        return _json(
            {"closed_periods": [[p.start.isoformat(), p.end.isoformat()] for p in comp.closed_periods]}
        )

    @app.put("/_emulator/companies/{company_id}/disabled_vat_numbers")
    async def disabled_vat(request: Request, company_id: int) -> Response:
        comp = company(company_id)
        body = await _body(request) or []
        with state.lock:
            comp.disabled_vat_numbers = {str(n) for n in body}
        return _json({"disabled_vat_numbers": sorted(comp.disabled_vat_numbers)})


def _floats(body: Any) -> Any:
    """Admin bodies are parsed with Decimal; config dataclasses take plain numbers."""
    if isinstance(body, dict):
        return {k: _floats(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_floats(v) for v in body]
    if isinstance(body, Decimal):
        return float(body)
    return body
