"""Tripletex API v2: client, voucher payloads, Airflow hook and the activation check."""

from ..retry import RetryPolicy
from .client import TripletexClient
from .errors import (
    AuthError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadError,
    PermissionDenied,
    RateLimited,
    ResultCapExceeded,
    ServerError,
    Timeout,
    TransportError,
    TripletexError,
    ValidationError,
    VoucherOutcomeUnknown,
)
from .payload import voucher_payload

__all__ = [
    "AuthError",
    "BadRequest",
    "Conflict",
    "NotFound",
    "PayloadError",
    "PermissionDenied",
    "RateLimited",
    "ResultCapExceeded",
    "RetryPolicy",
    "ServerError",
    "Timeout",
    "TransportError",
    "TripletexClient",
    "TripletexError",
    "ValidationError",
    "VoucherOutcomeUnknown",
    "voucher_payload",
]
