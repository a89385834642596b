"""Request parsing and Tripletex-shaped responses shared by the routes: paging, `fields`, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import fields as fieldsel
from . import views
from .errors import ApiError, dumps, loads, validation_message
from .state import Company, EmulatorState

MAX_RESULTS = 10_000
TOKEN_CREATE = "/v2/token/session/:create"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(request: Request, err: ApiError) -> Response:
    headers = getattr(err, "headers", None)
    return json_response(err.envelope(request.state.request_id), err.status, headers)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/v2"


def charge(state: EmulatorState, request: Request, key: Any) -> None:
    with state.lock:
        allowed, headers = state.rate_limiter.hit(key)
    request.state.rate_headers = headers
    if not allowed:
        err = ApiError(429, 0, "Too Many Requests", developer_message="Rate limit exceeded.")
        err.headers = headers  # type: ignore[attr-defined]
        raise err


def company_of(state: EmulatorState, request: Request) -> Company:
    return state.company(request.state.session.company_id)


def query_date(request: Request, name: str, required: bool = True) -> date | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ApiError(
                422,
                21000,
                f"Parameter {name} is required.",
                [validation_message(name, "Kan ikke være null.")],
            )
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, 21000, f"Illegal date in parameter {name}: {raw}.") from None


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(422, 21000, f"Illegal integer in parameter {name}: {raw}.") from None


def query_bool(request: Request, name: str, default: bool | None = None) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() not in ("true", "false"):
        raise ApiError(422, 21000, f"Illegal boolean in parameter {name}: {raw}.")
    return raw.lower() == "true"


def query_list(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def int_list(request: Request, name: str) -> set[int] | None:
    values = query_list(request, name)
    if values is None:
        return None
    try:
        return {int(v) for v in values}
    except ValueError:
        raise ApiError(422, 21000, f"Illegal integer list in parameter {name}.") from None


def path_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, 12000, f"Illegal path parameter: {raw}.") from None


def fields_tree(request: Request, model: str, default: str | None = None) -> fieldsel.FieldTree:
    tree = fieldsel.parse_fields(request.query_params.get("fields") or default)
    fieldsel.validate(tree, model)
    return tree


def single(
    request: Request, obj: dict[str, Any], model: str, status: int = 200, default_fields: str | None = None
) -> Response:
    """`{"value": obj}` trimmed to the request's `fields` (else `default_fields`, else `*`)."""
    tree = fields_tree(request, model, default_fields)
    return json_response({"value": fieldsel.project(obj, tree, model)}, status)


def listing(
    request: Request,
    records: list[Any],
    build: Callable[[Any], dict[str, Any]],
    model: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A Tripletex list page: from/count paging, capped at 10,000 objects per query."""
    tree = fields_tree(request, model)
    start = query_int(request, "from", 0) or 0
    count = query_int(request, "count", 1000)
    count = 1000 if count is None else count
    if start < 0 or count < 0:
        raise ApiError(422, 21000, "from and count must be zero or more.")
    if start + count > MAX_RESULTS:
        raise ApiError(
            422,
            23000,
            "Result set too large.",
            [
                validation_message(
                    "count", f"Maksimalt {MAX_RESULTS} objekter kan hentes per spørring (from + count)."
                )
            ],
        )
    page = [fieldsel.project(build(r), tree, model) for r in records[start : start + count]]
    body = {
        "fullResultSize": len(records),
        "from": start,
        "count": len(page),
        "versionDigest": views.version_digest(page),
        "values": page,
    }
    body.update(extra or {})
    return json_response(body)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(422, 22000, "Request body is missing.")
    try:
        return loads(raw)
    except ValueError as exc:
        raise ApiError(422, 22000, "Invalid JSON in request body.", developer_message=str(exc)) from None
