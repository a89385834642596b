"""The emulator's stand-in for Tripletex's own voucher page (`/execute/voucherMenu?voucherId=&contextId=`),
so that the links the pipeline builds to a voucher open something: the voucher, its postings, escaped."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from . import fields as fieldsel
from . import views
from .admin import FULL_VOUCHER
from .state import EmulatorState


def register_ui(app: FastAPI, state: EmulatorState) -> None:
    @app.get("/execute/voucherMenu", response_class=HTMLResponse)
    async def voucher_menu(request: Request, voucherId: int, contextId: int | None = None) -> HTMLResponse:  # noqa: N803
        base = str(request.base_url).rstrip("/") + "/v2"
        with state.lock:
            companies = [c for c in state.companies.values() if contextId in (None, c.id)]
            found = [
                (
                    c,
                    fieldsel.project(
                        views.voucher(base, state, c, c.vouchers[voucherId]), FULL_VOUCHER, "Voucher"
                    ),
                )
                for c in companies
                if voucherId in c.vouchers
            ]
        if not found:
            return HTMLResponse(
                "<!DOCTYPE html><title>Not found</title><p>No such voucher.</p>", status_code=404
            )
        company, voucher = found[0]
        esc = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
        rows = "".join(
            f"<tr><td>{esc(p.get('row'))}</td><td>{esc((p.get('account') or {}).get('number'))}</td>"
            f"<td>{esc((p.get('vatType') or {}).get('number'))}</td><td>{esc(p.get('description'))}</td>"
            f"<td>{esc(p.get('amountGross'))}</td></tr>"
            for p in voucher.get("postings") or []
        )
        page = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Voucher {esc(voucher.get('number'))}-"
            f"{esc(voucher.get('year'))}</title></head><body><h1>{esc(company.name)}: voucher "
            f"{esc(voucher.get('number'))}-{esc(voucher.get('year'))}</h1><p>{esc(voucher.get('date'))} "
            f"{esc(voucher.get('description'))} ({esc(voucher.get('externalVoucherNumber'))})</p>"
            "<table><tr><th>Row</th><th>Account</th><th>VAT type</th><th>Description</th><th>Gross</th></tr>"
            f"{rows}</table></body></html>"
        )
        return HTMLResponse(page)
