"""Check HTTP traffic against Tripletex's openapi.json (openapi-core), for tests of client and emulator.

Error responses are not declared in Tripletex's spec; they are checked against its `ApiError` schema.
Tripletex writes every field of an object, null when it has no value, while the spec marks no field
nullable: in responses every object field is read as nullable (requests stay strict). Gateway HTML
pages (502/503/504) are not API responses and are skipped.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from requests.adapters import HTTPAdapter

SPEC_HOST = "https://tripletex.no"
DEFAULT_SPEC = Path(__file__).resolve().parent / "openapi.json"
GATEWAY_STATUSES = (502, 503, 504)


def spec_path() -> Path:
    """Where openapi.json is: $TRIPLETEX_OPENAPI, else the copy of Tripletex's published description here."""
    return Path(os.environ.get("TRIPLETEX_OPENAPI") or DEFAULT_SPEC)


REF = "#/components/schemas/"
ANSWER = "Answer"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, itself and its properties nullable (a `$ref` property is null through its target)."""
    out = copy.deepcopy(schema)
    out["nullable"] = True
    for prop in out.get("properties", {}).values():
        prop["nullable"] = True
        if "enum" in prop and None not in prop["enum"]:
            prop["enum"] = [*prop["enum"], None]
    return out


def _to_answers(value: Any) -> Any:
    """`value` with every schema `$ref` pointing at the schema's nullable answer copy."""
    if isinstance(value, dict):
        return {
            k: REF + ANSWER + v[len(REF) :] if k == "$ref" and v.startswith(REF) else _to_answers(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_to_answers(v) for v in value]
    return value


def _repair(operation: dict[str, Any]) -> None:
    """Fix two flaws of the published spec: string defaults on integer/boolean parameters, and a
    JSON media type without schema on 204 No Content responses."""
    casts = {"integer": int, "boolean": lambda v: str(v).lower() == "true", "number": float}
    for param in operation.get("parameters", []):
        schema = param.get("schema", {})
        cast = casts.get(schema.get("type"))
        if cast is not None and isinstance(schema.get("default"), str):
            schema["default"] = cast(schema["default"])
    no_content = operation.get("responses", {}).get("204")
    if no_content is not None:
        no_content.pop("content", None)


@functools.cache
def load_openapi(path: str | None = None) -> OpenAPI:
    """Load the spec once per process, with an `ApiError` default response on every operation."""
    spec = json.loads(Path(path or spec_path()).read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name, schema in list(schemas.items()):
        answer = _to_answers(schema)
        wrapper = name.startswith(("ResponseWrapper", "ListResponse"))
        schemas[ANSWER + name] = answer if wrapper else _nullable(answer)
    message = _nullable(schemas["ApiValidationMessage"])
    error = _nullable(schemas["ApiError"])
    error["properties"]["validationMessages"] = {
        "type": "array",
        "nullable": True,
        "items": {"$ref": "#/components/schemas/EmulatorApiValidationMessage"},
    }
    schemas["EmulatorApiValidationMessage"] = message
    schemas["EmulatorApiError"] = error
    default = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmulatorApiError"}}},
    }
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch") and isinstance(operation, dict):
                _repair(operation)
                operation["responses"] = _to_answers(operation.get("responses", {}))
                operation.setdefault("responses", {}).setdefault("default", default)
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class _SpecRequest(RequestsOpenAPIRequest):
    """A requests.PreparedRequest seen as if sent to https://tripletex.no."""

    @property
    def host_url(self) -> str:
        return SPEC_HOST

    @property
    def path(self) -> str:
        return unquote(urlparse(self.request.url or "").path)


@dataclass
class Violation:
    kind: str
    method: str
    url: str
    status: int | None
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        return f"{self.kind} {self.method} {self.url}{status}: " + "; ".join(self.errors)


def _reasons(exc: BaseException) -> list[str]:
    reasons = [f"{type(exc).__name__}: {exc}"]
    for attr in ("schema_errors", "errors"):
        for sub in getattr(exc, attr, None) or []:
            reasons.extend(_reasons(sub) if isinstance(sub, BaseException) else [str(sub)])
    cause = exc.__cause__
    if cause is not None:
        reasons.extend(_reasons(cause))
    return reasons


class ContractChecker:
    """Validates requests and responses against the spec; collects `violations`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.openapi = load_openapi(str(path) if path else None)
        self.violations: list[Violation] = []
        self.checked = 0
        self._lock = threading.Lock()

    def check_request(self, prepared: requests.PreparedRequest) -> list[str]:
        try:
            self.openapi.validate_request(_SpecRequest(prepared))
        except Exception as exc:
            return self._record("request", prepared, None, _reasons(exc))
        return self._record("request", prepared, None, [])

    def check_response(self, prepared: requests.PreparedRequest, response: requests.Response) -> list[str]:
        ctype = response.headers.get("content-type", "")
        if response.status_code in GATEWAY_STATUSES and not ctype.startswith("application/json"):
            return []
        try:
            self.openapi.validate_response(_SpecRequest(prepared), RequestsOpenAPIResponse(response))
        except Exception as exc:
            return self._record("response", prepared, response.status_code, _reasons(exc))
        return self._record("response", prepared, response.status_code, [])

    def _record(
        self, kind: str, prepared: requests.PreparedRequest, status: int | None, errors: list[str]
    ) -> list[str]:
        with self._lock:
            self.checked += 1
            if errors:
                url = (prepared.url or "").split("?")[0]
                self.violations.append(Violation(kind, prepared.method or "", url, status, errors))
        return errors

    def assert_clean(self) -> None:
        """Raise AssertionError listing every violation seen so far."""
        if self.violations:
            raise AssertionError("contract violations:\n" + "\n".join(str(v) for v in self.violations))


class ContractCheckingAdapter(HTTPAdapter):
    """A requests transport adapter that checks each request and response it carries.

    Mount it on a session (`session.mount("http://127.0.0.1:", adapter)`); violations are recorded
    on `adapter.checker`, never raised into the code under test.
    """

    def __init__(self, checker: ContractChecker | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checker = checker or ContractChecker()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.checker.check_request(request)
        response = super().send(request, *args, **kwargs)
        if not kwargs.get("stream"):
            self.checker.check_response(request, response)
        return response
