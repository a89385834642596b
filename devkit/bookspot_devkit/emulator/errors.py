"""Tripletex's error envelope and the JSON wire format (Decimal amounts, never floats)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

LINK = "https://tripletex.no/v2-docs/"


class ApiError(Exception):
    """An error answered with Tripletex's envelope: HTTP `status`, Tripletex `code`, messages."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        validation_messages: list[dict[str, Any]] | None = None,
        developer_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.validation_messages = validation_messages or []
        self.developer_message = developer_message

    def envelope(self, request_id: str) -> dict[str, Any]:
        return error_envelope(
            self.status, self.code, self.message, request_id, self.validation_messages, self.developer_message
        )


def validation_message(field: str | None, message: str, path: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "path": path if path is not None else field, "rootId": None}


def validation_failed(messages: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, 18000, "Validering feilet.", messages)


def error_envelope(
    status: int,
    code: int,
    message: str | None,
    request_id: str,
    validation_messages: list[dict[str, Any]] | None = None,
    developer_message: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "code": code,
        "message": message,
        "link": LINK,
        "developerMessage": developer_message,
        "validationMessages": validation_messages or None,
        "requestId": request_id,
    }


def dumps(value: Any) -> bytes:
    """JSON with Decimal written as a plain number (e.g. 1646.27), never through float."""
    return _dump(value).encode("utf-8")


def _dump(value: Any) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + _dump(v) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("floats are not allowed on the wire; use Decimal")
    return json.dumps(value, ensure_ascii=False)


def loads(data: bytes | str) -> Any:
    """Parse JSON keeping decimals exact."""
    return json.loads(data, parse_float=Decimal)
