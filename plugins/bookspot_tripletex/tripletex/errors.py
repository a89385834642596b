"""Typed Tripletex errors built from the API's error envelope; they never carry a token."""

from __future__ import annotations

import json
from typing import Any

import requests

from ..retry import server_wait


class TripletexError(Exception):
    """A refusal or failure of a Tripletex call, with the fields of Tripletex's error envelope."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        developer_message: str | None = None,
        validation_messages: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.developer_message = developer_message
        self.validation_messages = list(validation_messages or [])
        self.request_id = request_id
        self.method = method
        self.path = path

    @property
    def developerMessage(self) -> str | None:
        return self.developer_message

    @property
    def validationMessages(self) -> list[dict[str, Any]]:
        return self.validation_messages

    @property
    def requestId(self) -> str | None:
        return self.request_id

    def __str__(self) -> str:
        head = " ".join(str(p) for p in (self.method, self.path) if p)
        parts = [f"Tripletex {head}: " if head else "Tripletex: "]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
            if self.code is not None:
                parts.append(f" code {self.code}")
            parts.append(": ")
        parts.append(self.message or "(no message)")
        details = [
            f"{m.get('field')}: {m.get('message')}" if m.get("field") else str(m.get("message"))
            for m in self.validation_messages
        ]
        if details:
            parts.append(" [" + "; ".join(details) + "]")
        if self.developer_message and self.developer_message != self.message:
            parts.append(f" ({self.developer_message})")
        if self.request_id:
            parts.append(f" request id {self.request_id}")
        return "".join(parts)

    @classmethod
    def from_response(cls, response: requests.Response, method: str, path: str) -> TripletexError:
        """The typed error for an error response; the body is Tripletex's envelope when it parses."""
        status = response.status_code
        try:
            body = json.loads(response.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            body = {}
        request_id = response.headers.get("x-tlx-request-id") or body.get("requestId")
        code = body.get("code")
        message = body.get("message") or response.reason or f"HTTP {status}"
        kwargs: dict[str, Any] = {
            "status": status,
            "code": code if isinstance(code, int) else None,
            "developer_message": body.get("developerMessage"),
            "validation_messages": [m for m in (body.get("validationMessages") or []) if isinstance(m, dict)],
            "request_id": str(request_id) if request_id else None,
            "method": method,
            "path": path,
        }
        if status == 429:
            return RateLimited(message, reset_seconds=server_wait(response.headers), **kwargs)
        if status == 422 and kwargs["code"] == RESULT_CAP_CODE:
            return ResultCapExceeded(message, **kwargs)
        return _by_status(status)(message, **kwargs)


class BadRequest(TripletexError):
    """400: a malformed request (e.g. an unknown field in `fields=`, code 11000)."""


class AuthError(TripletexError):
    """401: the session token is bad or expired, or the consumer/employee token was refused."""


class PermissionDenied(TripletexError):
    """403: the employee behind the API key lacks a permission (code 9000)."""


class NotFound(TripletexError):
    """404: no such object (code 6000)."""


class Conflict(TripletexError):
    """409: revision conflict, locked object or duplicate (codes 7000, 8000, 10000, 14000)."""


class ValidationError(TripletexError):
    """422: Tripletex refused the content; `messages` are its (Norwegian) validation messages."""

    @property
    def messages(self) -> list[str]:
        return [str(m.get("message")) for m in self.validation_messages if m.get("message")]


class ResultCapExceeded(ValidationError):
    """A query matched more than Tripletex returns for one query (10,000 objects, code 23000)."""


class RateLimited(TripletexError):
    """429: over the rate limit; `reset_seconds` is X-Rate-Limit-Reset when Tripletex sent it."""

    def __init__(self, message: str, *, reset_seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_seconds = reset_seconds


class ServerError(TripletexError):
    """5xx: a failure inside Tripletex (code 1000, also 1002 with a null message)."""


class TransportError(TripletexError):
    """No HTTP response: connection refused or reset, DNS, TLS; the call may or may not have run."""


class Timeout(TransportError):
    """No response within the timeout; the call may or may not have run."""


class VoucherOutcomeUnknown(TripletexError):
    """A voucher POST failed without a clear answer and the lookups afterwards did not find it."""


class PayloadError(ValueError):
    """A voucher cannot be built: a missing account or VAT id, a bad row, an unbalanced sum."""


RESULT_CAP_CODE = 23000


def _by_status(status: int) -> type[TripletexError]:
    if status >= 500:
        return ServerError
    return {
        400: BadRequest,
        401: AuthError,
        403: PermissionDenied,
        404: NotFound,
        409: Conflict,
        422: ValidationError,
    }.get(status, TripletexError)
