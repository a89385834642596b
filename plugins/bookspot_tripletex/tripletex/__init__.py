"""Tripletex API v2: client, voucher payloads, Airflow hook and the activation check.

The names below are loaded on first use: Airflow reads this package's provider entry point in every
process, and a task that never talks to Tripletex should not pay for the client and `requests`."""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "RetryPolicy": "..retry",
    "TripletexClient": ".client",
    "voucher_payload": ".payload",
    **dict.fromkeys(
        (
            "AuthError",
            "BadRequest",
            "Conflict",
            "NotFound",
            "PayloadError",
            "PermissionDenied",
            "RateLimited",
            "ResultCapExceeded",
            "ServerError",
            "Timeout",
            "TransportError",
            "TripletexError",
            "ValidationError",
            "VoucherOutcomeUnknown",
        ),
        ".errors",
    ),
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
