"""HTTP client for the BookSpot transactions API: cursor paging, bounded retries, errors naming the tenant.

Retries follow the shared `RetryPolicy` (`bookspot_tripletex.retry`), honouring `Retry-After`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any, NamedTuple

import requests

from ..retry import Retryable, RetryPolicy, server_wait
from ..settings import feed_limits
from .page import PageError, parse_page

log = logging.getLogger(__name__)

MAX_LIMIT = 500


class BookSpotError(Exception):
    """A BookSpot call that failed; the message names the tenant and never carries the token."""


class BookSpotAuthError(BookSpotError):
    """401/403: the account token was refused."""


class BookSpotNotFound(BookSpotError):
    """404: BookSpot does not know the account."""


class BookSpotRequestError(BookSpotError):
    """Another 4xx: the request itself was wrong."""


class BookSpotProtocolError(BookSpotError):
    """A 200 whose body is not the documented page shape, or a cursor that goes round in circles."""


class BookSpotTransientError(BookSpotError):
    """Worth retrying; raised to the caller only once the retries are used up."""

    attempts: int = 1


class BookSpotRateLimited(BookSpotTransientError):
    """429; `retry_after` is the Retry-After header in seconds when BookSpot sent one."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BookSpotServerError(BookSpotTransientError):
    """5xx."""


class BookSpotConnectionError(BookSpotTransientError):
    """No response: connection refused or reset, DNS, TLS, or the timeout ran out."""


class Page(NamedTuple):
    records: list[Any]
    next_cursor: str | None


def _instant(value: dt.datetime, name: str) -> str:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.isoformat()


class BookSpotClient:
    """One BookSpot account's transactions (a `TransactionSource`): raw records exactly as received."""

    def __init__(
        self,
        base_url: str,
        token: str,
        account_id: str,
        timeout: float = 30,
        session: requests.Session | None = None,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        *,
        tenant: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """`max_retries` bounds the attempts (max_retries + 1) of the default `RetryPolicy`; a given
        `retry` policy replaces it."""
        if not base_url or "://" not in base_url:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not token:
            raise ValueError("a BookSpot account token is required")
        if not account_id:
            raise ValueError("a BookSpot account id is required")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self.tenant = tenant or account_id
        self.timeout = timeout
        self.max_retries = max_retries
        self._token = token
        self._own_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self.retry = retry or RetryPolicy(attempts=max_retries + 1)

    def __repr__(self) -> str:
        return f"BookSpotClient(base_url={self.base_url!r}, account_id={self.account_id!r})"

    def close(self) -> None:
        """Close the HTTP session if the client made it."""
        if self._own_session:
            self._session.close()

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/accounts/{self.account_id}/transactions"

    def _who(self) -> str:
        if self.tenant == self.account_id:
            return f"tenant {self.tenant!r}"
        return f"tenant {self.tenant!r} (BookSpot account {self.account_id!r})"

    def iter_records(
        self, updated_from: dt.datetime, updated_to: dt.datetime, limit: int = MAX_LIMIT
    ) -> Iterator[Any]:
        """Every record changed in [updated_from, updated_to), page after page, in BookSpot's order."""
        cursor: str | None = None
        seen: set[str] = set()
        for number in count(1):
            page = self.fetch_page(updated_from, updated_to, limit=limit, cursor=cursor, page=number)
            yield from page.records
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                raise BookSpotProtocolError(f"BookSpot repeated a cursor for {self._who()}")
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    def fetch_page(
        self,
        updated_from: dt.datetime,
        updated_to: dt.datetime,
        *,
        limit: int = MAX_LIMIT,
        cursor: str | None = None,
        page: int = 1,
    ) -> Page:
        """One page (the `page`-th of the window, as messages name it), retried on 429, 5xx and transport
        errors under the client's `RetryPolicy`. A body that is not a page raises BookSpotProtocolError."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        params = {
            "updated_from": _instant(updated_from, "updated_from"),
            "updated_to": _instant(updated_to, "updated_to"),
            "limit": str(limit),
        }
        if cursor is not None:
            params["cursor"] = cursor
        attempts = [0]

        def attempt() -> Page:
            attempts[0] += 1
            return self._get(params, page)

        try:
            return self.retry.call(
                attempt,
                classify=_classify,
                idempotent=True,
                sleep=self._sleep,
                what=f"BookSpot call for {self._who()}",
            )
        except BookSpotTransientError as error:
            error.attempts = attempts[0]
            error.args = (f"{error.args[0]}; gave up after {attempts[0]} attempts",)
            raise

    def _get(self, params: dict[str, str], page: int) -> Page:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        try:
            response = self._session.get(
                self.url, params=params, headers=headers, timeout=self.timeout, stream=True
            )
        except requests.Timeout:
            raise BookSpotConnectionError(
                f"BookSpot did not answer within {self.timeout} s for {self._who()} at {self.base_url} "
                f"(page {page})"
            ) from None
        except requests.RequestException as exc:
            raise BookSpotConnectionError(
                f"could not reach BookSpot at {self.base_url} for {self._who()} (page {page}): "
                f"{type(exc).__name__}"
            ) from None
        with response:
            if response.status_code == 200:
                return self._page(response, page)
            raise self._error(response)

    def _body(self, response: requests.Response, page: int, limit: int) -> bytes:
        """The page's body, read no further than `limit` bytes."""
        too_big = BookSpotProtocolError(
            f"BookSpot sent page {page} for {self._who()} larger than {limit:,} bytes "
            "(BOOKSPOT_FEED_MAX_PAGE_BYTES)"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise too_big
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise BookSpotConnectionError(
                f"BookSpot broke off page {page} for {self._who()} after {size:,} bytes: {type(exc).__name__}"
            ) from None
        return b"".join(chunks)

    def _page(self, response: requests.Response, page: int) -> Page:
        limits = feed_limits()
        body = self._body(response, page, limits.max_page_bytes)
        try:
            records, cursor = parse_page(body, limits, page, response.headers.get("Content-Type"))
        except PageError as exc:
            raise BookSpotProtocolError(f"BookSpot sent page {page} for {self._who()} that {exc}") from None
        log.debug(
            "BookSpot page %d for %s: %d records, more: %s", page, self._who(), len(records), bool(cursor)
        )
        return Page(records, cursor)

    def _error(self, response: requests.Response) -> BookSpotError:
        status = response.status_code
        detail = self._detail(response)
        if status in (401, 403):
            return BookSpotAuthError(
                f"BookSpot refused the token for {self._who()} at {self.base_url} (HTTP {status}{detail}); "
                "check the password of the tenant's BookSpot connection"
            )
        if status == 404:
            return BookSpotNotFound(
                f"BookSpot does not know the account of {self._who()} at {self.base_url} (HTTP 404{detail})"
            )
        if status == 429:
            retry_after = server_wait(response.headers)
            message = f"BookSpot rate-limited {self._who()} (HTTP 429{detail}, Retry-After {retry_after})"
            return BookSpotRateLimited(message, retry_after)
        if status >= 500:
            return BookSpotServerError(f"BookSpot failed for {self._who()} (HTTP {status}{detail})")
        return BookSpotRequestError(f"BookSpot rejected the call for {self._who()} (HTTP {status}{detail})")

    def _detail(self, response: requests.Response) -> str:
        try:
            error = response.json().get("error") or {}
            code, message = error.get("code"), error.get("message")
        except (ValueError, AttributeError):
            return ""
        text = ": ".join(str(p) for p in (code, message) if p)[:300].replace(self._token, "***")
        return f": {text}" if text else ""


def _classify(exc: BaseException) -> Retryable | None:
    if isinstance(exc, BookSpotRateLimited):
        return Retryable(rate_limited=True, wait=exc.retry_after)
    if isinstance(exc, BookSpotTransientError):
        return Retryable()
    return None
