"""The emulator's FastAPI app: auth, rate limit and request ids around the /v2 and /_emulator routes."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .admin import register_admin
from .errors import ApiError
from .faults import FaultMiddleware
from .routes import register_ledger_routes, register_token_routes
from .state import EmulatorState, Session, new_request_id, rate_key
from .ui import register_ui
from .web import TOKEN_CREATE, charge, error_response


class EmulatorApp(FastAPI):
    """FastAPI with the fault layer outside everything else (so it can drop connections)."""

    emulator_state: EmulatorState

    def build_middleware_stack(self) -> Any:
        state = self.emulator_state

        def rate_headers(scope: dict[str, Any]) -> dict[str, str]:
            header = dict(scope.get("headers") or ()).get(b"authorization", b"").decode("latin-1")
            creds = _basic_auth(header)
            return state.rate_headers(creds[1] if creds else None)

        return FaultMiddleware(super().build_middleware_stack(), state.faults, rate_headers)


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _authenticate(state: EmulatorState, request: Request) -> Session:
    creds = _basic_auth(request.headers.get("authorization", ""))
    session = state.session_for(creds[1]) if creds else None
    if creds is None or session is None:
        raise ApiError(
            401, 3000, "Unauthorized", developer_message="Missing, invalid or expired session token."
        )
    if creds[0] not in ("0", str(session.company_id)):
        raise ApiError(401, 3000, "Unauthorized", developer_message=f"No access to company {creds[0]}.")
    return session


WRITES = ("POST", "PUT", "DELETE")
ADMIN_COMPANY = re.compile(r"^/_emulator/companies/(\d+)/")


def _changed_company(request: Request, path: str, status: int) -> int | None:
    """The company a successful write changed (reset saves by itself), else None."""
    if request.method not in WRITES or status >= 400:
        return None
    if path.startswith("/v2/ledger/"):
        return request.state.session.company_id
    match = ADMIN_COMPANY.match(path)
    return int(match.group(1)) if match else None


def _redact(path: str) -> str:
    if path.startswith("/v2/token/session/") and path not in (TOKEN_CREATE, "/v2/token/session/>whoAmI"):
        return "/v2/token/session/***"
    return path


def create_app(state: EmulatorState) -> FastAPI:
    """Build the app serving `state`."""
    app = EmulatorApp(title="Tripletex API v2 emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.emulator_state = state

    @app.middleware("http")
    async def context(request: Request, call_next: Callable[[Request], Any]) -> Response:
        request.state.request_id = new_request_id()
        request.state.rate_headers = {}
        started = time.monotonic()
        path = request.url.path
        response: Response | None = None
        company_id = None
        if path.startswith("/v2/") and path != TOKEN_CREATE:
            try:
                session = _authenticate(state, request)
                request.state.session = session
                company_id = session.company_id
                charge(state, request, rate_key(session))
            except ApiError as err:
                response = error_response(request, err)
        if response is None:
            response = await call_next(request)
            if state.store is not None:
                changed = _changed_company(request, path, response.status_code)
                if changed is not None:
                    state.save([changed])
        for key, value in (request.state.rate_headers or state.rate_headers(None)).items():
            response.headers[key] = value
        response.headers["x-tlx-request-id"] = request.state.request_id
        if path.startswith("/v2/"):
            state.log_request(
                {
                    "method": request.method,
                    "path": _redact(path),
                    "query": "" if path.startswith("/v2/token/") else request.url.query,
                    "status": response.status_code,
                    "company_id": company_id or getattr(request.state, "company_id", None),
                    "request_id": request.state.request_id,
                    "seconds": round(time.monotonic() - started, 4),
                }
            )
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> Response:
        return error_response(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        code = {404: 6000, 405: 4000}.get(err.status_code, 1000)
        message = "Object not found" if err.status_code == 404 else str(err.detail)
        return error_response(request, ApiError(err.status_code, code, message))

    @app.exception_handler(Exception)
    async def crash(request: Request, err: Exception) -> Response:
        return error_response(request, ApiError(500, 1000, None, developer_message=type(err).__name__))

    register_token_routes(app, state)
    register_ledger_routes(app, state)
    register_admin(app, state)
    register_ui(app, state)
    return app
