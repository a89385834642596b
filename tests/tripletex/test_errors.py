"""Typed errors built from Tripletex's error envelope."""

from __future__ import annotations

import pytest
import requests

from bookspot_tripletex.tripletex import errors


def response(status: int, body: bytes, headers: dict | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.headers.update(headers or {})
    r.reason = "Reason"
    return r


ENVELOPE = (
    b'{"status":422,"code":18000,"message":"Validering feilet.","link":"https://tripletex.no/v2-docs/",'
    b'"developerMessage":"VALIDATION_ERROR","validationMessages":[{"field":"postings.account.name",'
    b'"message":"Kontoen m\xc3\xa5 fylles ut.","path":"postings[0].account","rootId":null}],'
    b'"requestId":"r-1"}'
)


def test_envelope_fields_are_kept():
    error = errors.TripletexError.from_response(
        response(422, ENVELOPE, {"x-tlx-request-id": "hdr-1"}), "POST", "/ledger/voucher"
    )
    assert isinstance(error, errors.ValidationError)
    assert (error.status, error.code, error.message) == (422, 18000, "Validering feilet.")
    assert error.developerMessage == "VALIDATION_ERROR"
    assert error.requestId == "hdr-1"
    assert error.messages == ["Kontoen må fylles ut."]
    assert str(error) == (
        "Tripletex POST /ledger/voucher: HTTP 422 code 18000: Validering feilet. "
        "[postings.account.name: Kontoen må fylles ut.] (VALIDATION_ERROR) request id hdr-1"
    )


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, 11000, errors.BadRequest),
        (401, 3000, errors.AuthError),
        (403, 9000, errors.PermissionDenied),
        (404, 6000, errors.NotFound),
        (409, 14000, errors.Conflict),
        (409, 10000, errors.Conflict),
        (422, 15000, errors.ValidationError),
        (422, 23000, errors.ResultCapExceeded),
        (429, None, errors.RateLimited),
        (500, 1000, errors.ServerError),
        (500, 1002, errors.ServerError),
        (504, None, errors.ServerError),
        (418, None, errors.TripletexError),
    ],
)
def test_status_picks_the_class(status, code, cls):
    body = f'{{"status":{status},"code":{"null" if code is None else code},"message":null,"requestId":"x"}}'
    error = errors.TripletexError.from_response(response(status, body.encode()), "GET", "/ledger/account")
    assert type(error) is cls
    assert error.code == code and error.request_id == "x"
    assert error.message == "Reason"


def test_rate_limited_reads_the_reset_header():
    limited = errors.TripletexError.from_response(
        response(429, b"", {"X-Rate-Limit-Reset": "17"}), "GET", "/"
    )
    assert isinstance(limited, errors.RateLimited) and limited.reset_seconds == 17
    missing = errors.TripletexError.from_response(response(429, b"<html>"), "GET", "/")
    assert missing.reset_seconds is None and missing.message == "Reason"


def test_transport_errors_are_tripletex_errors():
    assert issubclass(errors.Timeout, errors.TransportError)
    assert issubclass(errors.TransportError, errors.TripletexError)
    assert str(errors.Timeout("no answer within 3 s", method="GET", path="/x")) == (
        "Tripletex GET /x: no answer within 3 s"
    )
