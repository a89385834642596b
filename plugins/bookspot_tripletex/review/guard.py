"""What every request to the review screen must pass before it reaches staging or Airflow.

* Parameters: tenant ids as the tenant file allows them, days and ids within ranges the databases
  take, so a bad URL is a 4xx, never a database error.
* Cross-site requests: a state-changing request must come from the review screen itself. It carries
  the `X-BookSpot-Review` header (a cross-site HTML form cannot send one, and a cross-site script
  cannot either without a CORS preflight Airflow does not grant) or a Bearer token (an API client, which
  a browser never attaches on its own); and an `Origin`/`Referer`, when sent, must be Airflow's base URL.
* Headers on every answer: a Content-Security-Policy (framed only by Airflow itself) and `nosniff`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import HTTPException, Path, Query, Request, status
from pydantic import AfterValidator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookspot_tripletex.domain import TENANT_ID_LENGTH, TENANT_ID_PATTERN

FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
"""Days the review screen answers for: anything else is a 422 (dates near year 1 or 9999 overflow)."""
MAX_ID = 2**31 - 1
"""Mapping version ids and voucher versions are INTEGER columns."""
MAX_TENANTS = 1000
ACTION_HEADER = "X-BookSpot-Review"
DEFAULT_PORTS = {"http": ":80", "https": ":443"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _in_range(day: dt.date) -> dt.date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def _printable(value: str) -> str:
    if any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


Day = Annotated[dt.date, AfterValidator(_in_range)]
Text = Annotated[str, AfterValidator(_printable)]
"""Text a person types (a release's reason): no NUL or other control characters."""
TenantPath = Annotated[str, Path(min_length=1, max_length=TENANT_ID_LENGTH, pattern=TENANT_ID_PATTERN)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
RequiredId = Annotated[int, Query(ge=1, le=MAX_ID)]


def tenant_ids(values: list[str] | None) -> tuple[str, ...]:
    """The `tenant` query values (an empty one means all tenants), each a possible tenant id, else 422."""
    wanted = tuple(v for v in values or [] if v)
    bad = [v for v in wanted if len(v) > TENANT_ID_LENGTH or not re.fullmatch(TENANT_ID_PATTERN, v)]
    if bad or len(wanted) > MAX_TENANTS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"tenant: at most {MAX_TENANTS} tenant ids (letters, digits, '.', '_', '-'); got {bad[0][:100]!r}"
            if bad
            else f"tenant: at most {MAX_TENANTS} tenant ids",
        )
    return wanted


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    return f"{scheme}://{netloc.removesuffix(DEFAULT_PORTS.get(scheme, ''))}"


def allowed_origin(request: Request) -> str:
    """Airflow's base URL (`[api] base_url`) as an origin; without one, the origin the request reached."""
    from airflow.configuration import conf

    configured = _origin(str(conf.get("api", "base_url", fallback="") or ""))
    return configured or str(_origin(str(request.url)))


def same_site(request: Request) -> None:
    """Refuse (403) a state-changing request that a page of another site could have made."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("origin") or request.headers.get("referer")
    expected = allowed_origin(request)
    if sent is not None and _origin(sent) != expected:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"cross-site request refused: it comes from {sent[:100]!r}"
        )
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
    if not bearer and request.headers.get(ACTION_HEADER) != "1":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"actions need the {ACTION_HEADER} header (the review screen sends it) or a Bearer token",
        )


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP answer of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(
                        (k.encode(), v.encode())
                        for k, v in SECURITY_HEADERS.items()
                        if k.encode() not in present
                    ),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
