"""HTTP client for Tripletex API v2: session tokens, paging, rate limits, bounded retries, safe POSTs.

Every call goes through one `RetryPolicy` (`bookspot_tripletex.retry`): bounded attempts within a
time budget, 429 after `X-Rate-Limit-Reset`, 5xx and lost connections only for idempotent calls.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import requests

from ..retry import Retryable, RetryPolicy
from .errors import (
    AuthError,
    PayloadError,
    RateLimited,
    ResultCapExceeded,
    ServerError,
    Timeout,
    TransportError,
    TripletexError,
    VoucherOutcomeUnknown,
)
from .payload import dumps

log = logging.getLogger(__name__)


JSON_CONTENT_TYPE = "application/json; charset=utf-8"
WHO_AM_I = "/token/session/%3EwhoAmI"
BY_EXTERNAL_NUMBER = "/ledger/voucher/%3EexternalVoucherNumber"
NON_POSTED = "/ledger/voucher/%3EnonPosted"
TOKEN_CREATE = "/token/session/:create"
NUMBERS_PER_QUERY = 100


class _RedactTokenQuery(logging.Filter):
    """Masks token query parameters in urllib3's request lines (PUT /token/session/:create?...)."""

    pattern = re.compile(r"((?:consumer|employee)?[Tt]oken=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.pattern.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactTokenQuery) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_RedactTokenQuery())


class TripletexClient:
    """One company's Tripletex API, reached with a consumer token and an employee token (the API key)."""

    def __init__(
        self,
        base_url: str,
        consumer_token: str,
        employee_token: str,
        company_id: int = 0,
        timeout: float = 30,
        session: requests.Session | None = None,
        clock: Callable[[], datetime.date] = datetime.date.today,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        post_attempts: int = 3,
        post_settle: float = 2.0,
        page_size: int = 1000,
        result_cap: int = 10_000,
        on_new_token: Callable[[str], None] | None = None,
    ) -> None:
        if not consumer_token or not employee_token:
            raise ValueError("Tripletex needs both a consumer token and an employee token")
        self.base_url = base_url.rstrip("/")
        self.company_id = int(company_id)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.post_attempts = post_attempts
        self.post_settle = post_settle
        self.page_size = page_size
        self.result_cap = result_cap
        self._consumer_token = consumer_token
        self._employee_token = employee_token
        self._session = session or requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._on_new_token = on_new_token
        self._token: str | None = None
        self._token_expires: datetime.date | None = None
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TripletexClient(base_url={self.base_url!r}, company_id={self.company_id})"

    @property
    def max_call_seconds(self) -> float:
        """The longest one call (with its retries) can take: the retry budget plus one timeout."""
        return self.retry.max_call_seconds(self.timeout)

    __str__ = __repr__

    def connection_fingerprint(self, key: bytes) -> str:
        """HMAC-SHA256 (hex) under `key` of what identifies this connection: base URL, company id and
        both tokens. Equal fingerprints mean the same connection; the tokens cannot be read from it."""
        identity = "\n".join(
            [self.base_url, str(self.company_id), self._consumer_token, self._employee_token]
        )
        return hmac.new(key, identity.encode("utf-8"), hashlib.sha256).hexdigest()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> TripletexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------------

    def who_am_i(self, fields: str | None = None) -> dict[str, Any]:
        """The employee and company behind the API key (`GET /token/session/>whoAmI`)."""
        return self._get_value(WHO_AM_I, {"fields": fields} if fields else None)

    def iter_accounts(self, numbers: list[int] | None = None, fields: str | None = None) -> Iterator[dict]:
        """Accounts of the chart, all or those with the given numbers (queried 100 numbers at a time)."""
        extra = {"fields": fields} if fields else {}
        if numbers is None:
            try:
                yield from self._iter_list("/ledger/account", extra)
            except ResultCapExceeded as exc:
                raise ResultCapExceeded(
                    f"the chart has more than {self.result_cap} accounts; ask for account numbers instead",
                    status=exc.status,
                    code=exc.code,
                    request_id=exc.request_id,
                    method="GET",
                    path="/ledger/account",
                ) from None
            return
        for chunk in _chunks(sorted(set(numbers)), NUMBERS_PER_QUERY):
            yield from self._iter_list("/ledger/account", {"number": ",".join(map(str, chunk)), **extra})

    def accounts_by_number(self, numbers: Iterable[int], fields: str | None = None) -> dict[int, dict]:
        """Accounts keyed by number; numbers missing from the chart are missing from the result."""
        wanted = {int(n) for n in numbers}
        if not wanted:
            return {}
        found = {}
        for account in self.iter_accounts(sorted(wanted), fields):
            number = account.get("number")
            if number in wanted:
                found[int(number)] = account
        return found

    def iter_vat_types(self, fields: str | None = None) -> Iterator[dict]:
        """Every VAT type the company can use."""
        yield from self._iter_list("/ledger/vatType", {"fields": fields} if fields else {})

    def vat_types_by_number(self, numbers: Iterable[int]) -> dict[int, dict]:
        """VAT types keyed by their number as int (the API's `number` is a string; ids differ)."""
        wanted = {int(n) for n in numbers}
        if not wanted:
            return {}
        found = {}
        for chunk in _chunks(sorted(wanted), NUMBERS_PER_QUERY):
            for vat_type in self._iter_list("/ledger/vatType", {"number": ",".join(map(str, chunk))}):
                number = _int_or_none(vat_type.get("number"))
                if number in wanted:
                    found[number] = vat_type
        return found

    def voucher_type_by_name(self, name: str) -> dict | None:
        """The voucher type with exactly this name (case-insensitive), or None."""
        for voucher_type in self._iter_list("/ledger/voucherType", {"name": name}):
            if str(voucher_type.get("name", "")).casefold() == name.casefold():
                return voucher_type
        return None

    def list_vouchers(
        self, date_from: datetime.date, date_to: datetime.date, fields: str | None = None
    ) -> list[dict]:
        """Vouchers dated from `date_from` up to, not including, `date_to`."""
        return self._list_dated("/ledger/voucher", date_from, date_to, {"fields": fields} if fields else {})

    def postings(
        self, date_from: datetime.date, date_to: datetime.date, fields: str | None = None
    ) -> list[dict]:
        """Postings dated from `date_from` up to, not including, `date_to`."""
        return self._list_dated("/ledger/posting", date_from, date_to, {"fields": fields} if fields else {})

    def accounting_periods(
        self, start_from: datetime.date, start_to: datetime.date, fields: str = "id,start,end,isClosed"
    ) -> list[dict]:
        """The company's accounting periods starting from `start_from` up to, not including, `start_to`:
        id, start, end (exclusive) and isClosed."""
        params = {"startFrom": start_from.isoformat(), "startTo": start_to.isoformat(), "fields": fields}
        return list(self._iter_list("/ledger/accountingPeriod", params))

    def find_vouchers_by_external_number(self, ext: str, fields: str | None = None) -> list[dict]:
        """Vouchers whose externalVoucherNumber is exactly `ext`, lowest id first."""
        params = {"externalVoucherNumber": ext, **({"fields": fields} if fields else {})}
        found = [
            v
            for v in self._iter_list(BY_EXTERNAL_NUMBER, params)
            if v.get("externalVoucherNumber", ext) == ext
        ]
        return sorted(found, key=lambda v: v.get("id") or 0)

    # -- writing -------------------------------------------------------------------------------------

    def post_voucher_once(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST one voucher, sent to the ledger. A single attempt: a lost answer is never retried here."""
        response = self._call(
            "POST",
            "/ledger/voucher",
            params={"sendToLedger": "true"},
            body=dumps(payload).encode("utf-8"),
            idempotent=False,
        )
        return _value(response)

    def post_voucher(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Same as `post_voucher_once`; use `ensure_voucher` to post at most one voucher per number."""
        return self.post_voucher_once(payload)

    def ensure_voucher(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The voucher with the payload's externalVoucherNumber, posting it only if Tripletex lacks it.

        Returns (voucher, created). After a POST without a clear answer (timeout, lost connection,
        5xx) the voucher is looked up again before any new POST, at most `retry.post_attempts` POSTs.
        A POST that commits late, or a lookup that lags, can still give two vouchers: the nightly load
        posts through drafts instead (`bookspot_tripletex.load.protocol`).
        """
        ext = payload.get("externalVoucherNumber")
        if not ext:
            raise PayloadError("ensure_voucher needs an externalVoucherNumber to look the voucher up by")
        existing = self._existing(ext)
        if existing is not None:
            log.info("Tripletex voucher %s already exists (id %s); not posting", ext, existing.get("id"))
            return existing, False
        last: TripletexError | None = None
        for attempt in range(1, self.post_attempts + 1):
            try:
                voucher = self.post_voucher_once(payload)
            except (TransportError, ServerError) as exc:
                last = exc
                log.warning(
                    "POST of Tripletex voucher %s (attempt %d of %d) got no clear answer: %s; "
                    "looking it up before posting again",
                    ext,
                    attempt,
                    self.post_attempts,
                    exc,
                )
            else:
                log.info("Tripletex voucher %s posted (id %s)", ext, voucher.get("id"))
                return voucher, True
            settle = self.post_settle * 2 ** (attempt - 1)
            self._sleep(settle + random.uniform(0, settle / 2))
            existing = self._existing(ext)
            if existing is not None:
                log.info(
                    "Tripletex voucher %s was created by the unanswered POST (id %s)", ext, existing.get("id")
                )
                return existing, True
        raise VoucherOutcomeUnknown(
            f"voucher {ext} could not be posted after {self.post_attempts} attempts "
            f"and is not in Tripletex; last error: {last}",
            status=last.status if last else None,
            request_id=last.request_id if last else None,
            method="POST",
            path="/ledger/voucher",
        )

    def post_draft(self, payload: dict[str, Any], fields: str | None = None) -> dict[str, Any]:
        """POST one voucher as a draft (`sendToLedger=false`: outside the ledger, no number). One attempt."""
        params = {"sendToLedger": "false", **({"fields": fields} if fields else {})}
        response = self._call(
            "POST", "/ledger/voucher", params=params, body=dumps(payload).encode("utf-8"), idempotent=False
        )
        return _value(response)

    def send_to_ledger(self, voucher_id: int, version: int, fields: str | None = None) -> dict[str, Any]:
        """Send a draft to the ledger (`PUT .../:sendToLedger?version=`); a stale version is refused (409)."""
        params = {"version": int(version), **({"fields": fields} if fields else {})}
        response = self._call(
            "PUT", f"/ledger/voucher/{int(voucher_id)}/:sendToLedger", params=params, idempotent=False
        )
        return _value(response)

    def delete_voucher(self, voucher_id: int) -> None:
        """Delete a voucher (Tripletex allows it for drafts; a voucher in the ledger is reversed instead)."""
        self._call("DELETE", f"/ledger/voucher/{int(voucher_id)}", idempotent=False)

    def get_voucher(self, voucher_id: int, fields: str | None = None) -> dict[str, Any] | None:
        """One voucher by id, draft or posted; None when Tripletex has no such voucher (404)."""
        try:
            return self._get_value(
                f"/ledger/voucher/{int(voucher_id)}", {"fields": fields} if fields else None
            )
        except TripletexError as exc:
            if exc.status == 404:
                return None
            raise

    def non_posted_vouchers(
        self, date_from: datetime.date, date_to: datetime.date, fields: str | None = None
    ) -> list[dict]:
        """Drafts dated from `date_from` up to, not including, `date_to` (`GET .../>nonPosted`)."""
        params = {
            "dateFrom": date_from.isoformat(),
            "dateTo": date_to.isoformat(),
            "includeNonApproved": "true",
            **({"fields": fields} if fields else {}),
        }
        return list(self._iter_list(NON_POSTED, params))

    def reverse_voucher(self, voucher_id: int, date: datetime.date) -> dict[str, Any]:
        """Reverse a posted voucher on `date`; returns the reversal voucher. Never retried blindly."""
        response = self._call(
            "PUT",
            f"/ledger/voucher/{int(voucher_id)}/:reverse",
            params={"date": date.isoformat()},
            idempotent=False,
        )
        return _value(response)

    def upload_attachment(
        self, voucher_id: int, filename: str, content: bytes, content_type: str = "application/pdf"
    ) -> dict[str, Any]:
        """Attach a document (PDF, PNG, JPEG or TIFF) to a voucher."""
        response = self._call(
            "POST",
            f"/ledger/voucher/{int(voucher_id)}/attachment",
            files={"file": (filename, content, content_type)},
            idempotent=False,
        )
        return _value(response)

    # -- internals -----------------------------------------------------------------------------------

    def _existing(self, ext: str) -> dict[str, Any] | None:
        found = self.find_vouchers_by_external_number(ext)
        if len(found) > 1:
            log.warning(
                "Tripletex has %d vouchers with externalVoucherNumber %s (ids %s); using the first",
                len(found),
                ext,
                ", ".join(str(v.get("id")) for v in found),
            )
        return found[0] if found else None

    def _get_value(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _value(self._call("GET", path, params=params))

    def _iter_list(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        start = 0
        while True:
            count = min(self.page_size, self.result_cap - start)
            if count <= 0:
                raise ResultCapExceeded(
                    f"more than {self.result_cap} results; Tripletex returns at most that many for one query",
                    method="GET",
                    path=path,
                )
            data = _json(self._call("GET", path, params={**params, "from": start, "count": count}))
            values = data.get("values") or []
            yield from values
            if len(values) < count:
                return
            start += len(values)

    def _list_dated(
        self, path: str, date_from: datetime.date, date_to: datetime.date, params: dict[str, Any]
    ) -> list[dict]:
        if date_to <= date_from:
            raise ValueError(f"dateTo ({date_to}) must be after dateFrom ({date_from}); dateTo is exclusive")
        try:
            return list(
                self._iter_list(
                    path, {"dateFrom": date_from.isoformat(), "dateTo": date_to.isoformat(), **params}
                )
            )
        except ResultCapExceeded:
            days = (date_to - date_from).days
            if days <= 1:
                raise ResultCapExceeded(
                    f"{path} for {date_from} alone has more than {self.result_cap} results",
                    method="GET",
                    path=path,
                ) from None
            middle = date_from + datetime.timedelta(days=days // 2)
            log.info(
                "Tripletex %s %s..%s is over the result cap; splitting at %s",
                path,
                date_from,
                date_to,
                middle,
            )
            return self._list_dated(path, date_from, middle, params) + self._list_dated(
                path, middle, date_to, params
            )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        files: dict[str, Any] | None = None,
        idempotent: bool = True,
        auth: bool = True,
    ) -> requests.Response:
        return self.retry.call(
            lambda: self._authorized(method, path, params, body, files, auth),
            classify=_classify,
            idempotent=idempotent,
            sleep=self._sleep,
            what=f"Tripletex {method} {path}",
        )

    def _authorized(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: bytes | None,
        files: dict[str, Any] | None,
        auth: bool,
    ) -> requests.Response:
        if not auth:
            return self._send(method, path, params, body, files, None)
        token = self._session_token()
        try:
            return self._send(method, path, params, body, files, token)
        except AuthError:
            log.info(
                "Tripletex refused the session token on %s %s; creating a new one and retrying once",
                method,
                path,
            )
            return self._send(method, path, params, body, files, self._session_token(refused=token))

    def _session_token(self, refused: str | None = None) -> str:
        with self._token_lock:
            today = self._clock()
            stale = self._token is None or self._token == refused
            if stale or (self._token_expires is not None and today >= self._token_expires):
                self._token = self._create_session_token(today)
            return self._token

    def _create_session_token(self, today: datetime.date) -> str:
        expires = today + datetime.timedelta(days=1)
        params = {
            "consumerToken": self._consumer_token,
            "employeeToken": self._employee_token,
            "expirationDate": expires.isoformat(),
        }
        try:
            value = _value(self._send("PUT", TOKEN_CREATE, params, None, None, None))
        except (RateLimited, ServerError, TransportError):
            raise
        except TripletexError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                raise
            raise AuthError(
                f"Tripletex refused the consumer or employee token: {exc.message}",
                status=exc.status,
                code=exc.code,
                developer_message=exc.developer_message,
                validation_messages=exc.validation_messages,
                request_id=exc.request_id,
                method="PUT",
                path=TOKEN_CREATE,
            ) from None
        token = value.get("token")
        if not isinstance(token, str) or not token:
            raise AuthError("Tripletex created a session without a token", method="PUT", path=TOKEN_CREATE)
        self._token_expires = expires
        if self._on_new_token is not None:
            self._on_new_token(token)
        log.info("Tripletex session created, valid until midnight before %s", expires.isoformat())
        return token

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: bytes | None,
        files: dict[str, Any] | None,
        token: str | None,
    ) -> requests.Response:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=body,
                files=files,
                headers=headers,
                auth=(str(self.company_id), token) if token is not None else None,
                timeout=self.timeout,
            )
        except requests.Timeout:
            error: TripletexError = Timeout(f"no answer within {self.timeout} s", method=method, path=path)
            log.warning("%s", error)
            raise error from None
        except requests.RequestException as exc:
            error = TransportError(
                f"{type(exc).__name__}: {self._redact(str(exc))}", method=method, path=path
            )
            log.warning("%s", error)
            raise error from None
        request_id = response.headers.get("x-tlx-request-id")
        elapsed = time.monotonic() - started
        if response.status_code >= 400:
            error = self._scrub(TripletexError.from_response(response, method, path))
            log.warning("%s (after %.2f s)", error, elapsed)
            raise error
        log.debug(
            "Tripletex %s %s -> %d in %.2f s, request id %s",
            method,
            path,
            response.status_code,
            elapsed,
            request_id,
        )
        return response

    def _secrets(self) -> list[str]:
        return [s for s in (self._consumer_token, self._employee_token, self._token) if s]

    def _redact(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return _RedactTokenQuery.pattern.sub(r"\1***", text)

    def _scrub(self, error: TripletexError) -> TripletexError:
        error.message = self._redact(error.message) or ""
        error.args = (error.message,)
        error.developer_message = self._redact(error.developer_message)
        error.validation_messages = [
            {k: self._redact(v) if isinstance(v, str) else v for k, v in m.items()}
            for m in error.validation_messages
        ]
        return error


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content.decode("utf-8"), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise TripletexError(
            f"unexpected response (HTTP {response.status_code}, not a JSON object)",
            status=response.status_code,
            request_id=response.headers.get("x-tlx-request-id"),
        )
    return data


def _value(response: requests.Response) -> dict[str, Any]:
    value = _json(response).get("value")
    if not isinstance(value, dict):
        raise TripletexError(
            "unexpected response: no `value` object",
            status=response.status_code,
            request_id=response.headers.get("x-tlx-request-id"),
        )
    return value


def _classify(exc: BaseException) -> Retryable | None:
    """429 (any call), 5xx and lost connections (idempotent calls, or a session that was not created)."""
    if isinstance(exc, RateLimited):
        return Retryable(rate_limited=True, wait=exc.reset_seconds)
    if isinstance(exc, ServerError | TransportError):
        return Retryable(sent=exc.path != TOKEN_CREATE)
    return None


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
