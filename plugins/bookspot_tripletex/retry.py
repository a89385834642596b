"""One retry policy for the HTTP clients (Tripletex and BookSpot): one tenacity configuration.

A call is tried at most `attempts` times and never takes longer than `budget_seconds` in all (time in
the attempts plus the waits between them; a wait that would end past the budget is not begun, the
last error is raised instead, and Airflow retries the task later). 429 is retried for any request,
after the server's `Retry-After` (BookSpot) or `X-Rate-Limit-Reset` (Tripletex) when it sent one,
else after an exponential backoff with jitter; 5xx and connection errors are retried only for
idempotent requests, or when the request was never sent.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import tenacity

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BUDGET_SECONDS = 120.0
"""Default total time of one call with its retries: well inside an Airflow task's retry delay."""


@dataclass(frozen=True)
class Retryable:
    """How a failure may be retried: `rate_limited` (429) with the server's `wait` in seconds if it
    gave one; `sent` False when the request never reached the server (safe to repeat)."""

    rate_limited: bool = False
    wait: float | None = None
    sent: bool = True


Classify = Callable[[BaseException], Retryable | None]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts and a total time budget per call, with exponential backoff and jitter."""

    attempts: int = 6
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    server_wait_margin: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.budget_seconds <= 0 or self.backoff_initial < 0 or self.backoff_max < 0:
            raise ValueError("budget_seconds must be positive and the backoff times not negative")

    def max_call_seconds(self, request_timeout: float) -> float:
        """The longest one call can take: the budget, plus the timeout of an attempt begun at its end."""
        return self.budget_seconds + request_timeout

    def call(
        self,
        fn: Callable[[], T],
        *,
        classify: Classify,
        idempotent: bool,
        sleep: Callable[[float], None] = time.sleep,
        what: str = "call",
    ) -> T:
        """`fn()`, retried under this policy; the last error is raised when retrying stops."""
        busy = [0.0]

        def timed() -> T:
            started = time.monotonic()
            try:
                return fn()
            finally:
                busy[0] += time.monotonic() - started

        def retryable(exc: BaseException) -> bool:
            verdict = classify(exc)
            return verdict is not None and (verdict.rate_limited or idempotent or not verdict.sent)

        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            verdict = classify(exc) if exc is not None else None
            if verdict is not None and verdict.wait is not None:
                return verdict.wait + self.server_wait_margin
            return float(backoff(state))

        def over_budget(state: tenacity.RetryCallState) -> bool:
            spent = busy[0] + state.idle_for + state.upcoming_sleep
            return spent > self.budget_seconds

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s failed (attempt %d of %d): %s; retrying in %.1f s",
                what,
                state.attempt_number,
                self.attempts,
                exc,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts) | over_budget,
            wait=wait,
            retry=tenacity.retry_if_exception(retryable),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(timed)


def server_wait(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds the server asked to wait: `Retry-After` (seconds or an HTTP date), else
    `X-Rate-Limit-Reset` (seconds left in Tripletex's rate-limit window); None when neither is usable."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        seconds = _seconds(retry_after)
        if seconds is None:
            seconds = _until(retry_after, now or dt.datetime.now(dt.UTC))
        if seconds is not None:
            return seconds
    reset = headers.get("X-Rate-Limit-Reset")
    return _seconds(reset) if reset else None


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _until(http_date: str, now: dt.datetime) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())
