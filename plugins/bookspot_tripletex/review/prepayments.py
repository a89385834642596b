"""The review screen's open prepayments (revenue on delivery): by account and service month on a day,
as a page and as JSON (what a year-end closing needs), read from staging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from bookspot_tripletex.review.guard import Day, TenantPath

OSLO = ZoneInfo("Europe/Oslo")


def _report(engine: Engine, tenant: str, as_of: dt.date | None) -> dict[str, Any]:
    from bookspot_tripletex.journal.prepayments import prepayments_report

    day = as_of or dt.datetime.now(OSLO).date() - dt.timedelta(days=1)
    with engine.connect() as conn:
        try:
            return prepayments_report(conn, tenant, day, lines=True, history=True)
        except LookupError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


def add_routes(
    app: FastAPI, engine: Callable[[], Engine], page: Callable[..., HTMLResponse], read: Any
) -> None:
    """`/tenants/{tenant}/prepayments` and `/api/tenants/{tenant}/prepayments`, both behind `read`."""

    @app.get("/tenants/{tenant}/prepayments", response_class=HTMLResponse, dependencies=[read])
    def prepayments_page(request: Request, tenant: TenantPath, as_of: Day | None = None) -> HTMLResponse:
        return page(request, "prepayments.html", tenant=tenant, report=_report(engine(), tenant, as_of))

    @app.get("/api/tenants/{tenant}/prepayments", dependencies=[read])
    def prepayments_json(tenant: TenantPath, as_of: Day | None = None) -> dict[str, Any]:
        return _report(engine(), tenant, as_of)
