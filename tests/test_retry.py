"""The one retry policy of both HTTP clients, through requests_mock: attempts, waits, budget, idempotency."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest
import requests

from bookspot_tripletex.feed.client import BookSpotClient, BookSpotRateLimited, BookSpotServerError
from bookspot_tripletex.retry import DEFAULT_BUDGET_SECONDS, Retryable, RetryPolicy, server_wait
from bookspot_tripletex.tripletex import errors
from bookspot_tripletex.tripletex.client import TripletexClient

TRIPLETEX = "https://tx.test/v2"
BOOKSPOT = "https://bookspot.test"
PAGE = f"{BOOKSPOT}/v1/accounts/fjord-kayak/transactions"
WINDOW = (dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 6, 2, tzinfo=dt.UTC))
POLICY = RetryPolicy(attempts=4, budget_seconds=100, backoff_initial=1, backoff_max=8, server_wait_margin=0.5)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def tripletex(requests_mock, sleeps: Sleeps, policy: RetryPolicy = POLICY) -> TripletexClient:
    requests_mock.put(f"{TRIPLETEX}/token/session/:create", json={"value": {"token": "sess"}})
    return TripletexClient(TRIPLETEX, "consumer", "employee", retry=policy, sleep=sleeps)


def bookspot(sleeps: Sleeps, policy: RetryPolicy = POLICY) -> BookSpotClient:
    return BookSpotClient(BOOKSPOT, "token", "fjord-kayak", sleep=sleeps, retry=policy)


def limited(**headers: str) -> dict:
    return {
        "status_code": 429,
        "json": {"status": 429, "code": 0, "message": "slow down"},
        "headers": headers,
    }


SERVER_ERROR = {"status_code": 503, "json": {"status": 503, "code": 1000, "message": None}}
PAGE_OK = {"json": {"data": [], "next_cursor": None}}
VOUCHER_OK = {"status_code": 201, "json": {"value": {"id": 9}}}


def test_tripletex_get_retries_5xx_with_growing_jittered_backoff_up_to_the_attempts(requests_mock) -> None:
    sleeps = Sleeps()
    who = requests_mock.get(f"{TRIPLETEX}/token/session/%3EwhoAmI", [SERVER_ERROR] * 10)
    with pytest.raises(errors.ServerError):
        tripletex(requests_mock, sleeps).who_am_i()
    assert who.call_count == POLICY.attempts and len(sleeps) == POLICY.attempts - 1
    for attempt, wait in enumerate(sleeps):
        step = min(POLICY.backoff_max, POLICY.backoff_initial * 2**attempt)
        assert step <= wait <= min(POLICY.backoff_max, step + POLICY.backoff_initial)


def test_tripletex_post_is_not_retried_on_5xx_or_a_lost_connection(requests_mock) -> None:
    sleeps = Sleeps()
    post = requests_mock.post(f"{TRIPLETEX}/ledger/voucher", [SERVER_ERROR, VOUCHER_OK])
    client = tripletex(requests_mock, sleeps)
    with pytest.raises(errors.ServerError):
        client.post_voucher_once({"externalVoucherNumber": "bs-1"})
    requests_mock.post(f"{TRIPLETEX}/ledger/voucher", exc=requests.ConnectionError("reset"))
    with pytest.raises(errors.TransportError):
        client.post_voucher_once({"externalVoucherNumber": "bs-1"})
    assert post.call_count == 1 and sleeps == []


def test_tripletex_429_is_retried_for_any_request_after_the_reset_header(requests_mock) -> None:
    sleeps = Sleeps()
    post = requests_mock.post(
        f"{TRIPLETEX}/ledger/voucher",
        [limited(**{"X-Rate-Limit-Reset": "7"}), limited(**{"X-Rate-Limit-Reset": "2"}), VOUCHER_OK],
    )
    assert tripletex(requests_mock, sleeps).post_voucher_once({"externalVoucherNumber": "bs-1"}) == {"id": 9}
    assert post.call_count == 3 and sleeps == [7.5, 2.5]


def test_tripletex_429_without_reset_backs_off_on_its_own(requests_mock) -> None:
    sleeps = Sleeps()
    requests_mock.get(f"{TRIPLETEX}/ledger/vatType", [limited(), limited(), {"json": {"values": []}}])
    assert tripletex(requests_mock, sleeps).vat_types_by_number([3]) == {}
    assert len(sleeps) == 2 and 1 <= sleeps[0] <= 2 and 2 <= sleeps[1] <= 3


def test_the_time_budget_stops_retrying_before_a_wait_would_overrun_it(requests_mock) -> None:
    sleeps = Sleeps()
    who = requests_mock.get(
        f"{TRIPLETEX}/token/session/%3EwhoAmI", [limited(**{"X-Rate-Limit-Reset": "45"})] * 4
    )
    with pytest.raises(errors.RateLimited) as info:
        tripletex(requests_mock, sleeps).who_am_i()
    assert sleeps == [45.5, 45.5] and who.call_count == 3
    assert info.value.reset_seconds == 45


def test_a_wait_longer_than_the_whole_budget_is_not_begun(requests_mock) -> None:
    sleeps = Sleeps()
    requests_mock.get(PAGE, [limited(**{"Retry-After": "3600"}), PAGE_OK])
    with pytest.raises(BookSpotRateLimited, match="gave up after 1 attempts"):
        bookspot(sleeps).fetch_page(*WINDOW)
    assert sleeps == []


def test_bookspot_honours_retry_after_in_seconds_and_as_a_date(requests_mock) -> None:
    sleeps = Sleeps()
    soon = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    pages = requests_mock.get(
        PAGE, [limited(**{"Retry-After": "4"}), limited(**{"Retry-After": soon}), PAGE_OK]
    )
    assert bookspot(sleeps).fetch_page(*WINDOW).records == []
    assert pages.call_count == 3
    assert sleeps[0] == 4.5 and 27 <= sleeps[1] <= 30.5


def test_bookspot_retries_5xx_and_connection_errors_up_to_the_attempts(requests_mock) -> None:
    sleeps = Sleeps()
    pages = requests_mock.get(PAGE, [SERVER_ERROR, {"exc": requests.ConnectionError("refused")}, PAGE_OK])
    assert bookspot(sleeps).fetch_page(*WINDOW).next_cursor is None
    assert pages.call_count == 3 and len(sleeps) == 2
    requests_mock.get(PAGE, [SERVER_ERROR] * 10)
    sleeps.clear()
    with pytest.raises(BookSpotServerError) as info:
        bookspot(sleeps).fetch_page(*WINDOW)
    assert info.value.attempts == POLICY.attempts and len(sleeps) == POLICY.attempts - 1


def test_a_refusal_is_never_retried(requests_mock) -> None:
    sleeps = Sleeps()
    requests_mock.get(PAGE, status_code=400, json={"error": {"code": "bad", "message": "no"}})
    with pytest.raises(Exception, match="400"):
        bookspot(sleeps).fetch_page(*WINDOW)
    assert sleeps == [] and requests_mock.call_count == 1


def test_the_policy_alone_counts_attempts_and_the_unsent_rule() -> None:
    calls: list[int] = []
    sleeps = Sleeps()

    def failing() -> None:
        calls.append(1)
        raise ConnectionError("never sent")

    with pytest.raises(ConnectionError):
        POLICY.call(failing, classify=lambda e: Retryable(sent=False), idempotent=False, sleep=sleeps)
    assert len(calls) == POLICY.attempts and len(sleeps) == POLICY.attempts - 1
    calls.clear()
    with pytest.raises(ConnectionError):
        POLICY.call(failing, classify=lambda e: Retryable(), idempotent=False, sleep=sleeps)
    assert len(calls) == 1


def test_budget_defaults_and_worst_case() -> None:
    assert RetryPolicy().budget_seconds == DEFAULT_BUDGET_SECONDS == 120
    client = TripletexClient(TRIPLETEX, "c", "e", timeout=30)
    assert client.max_call_seconds == DEFAULT_BUDGET_SECONDS + 30
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "Tue, 24 Nov 2026 10:00:30 GMT"}, 30.0),
        ({"Retry-After": "Tue, 24 Nov 2026 09:00:00 GMT"}, 0.0),
        ({"X-Rate-Limit-Reset": "5"}, 5.0),
        ({"Retry-After": "soon", "X-Rate-Limit-Reset": "5"}, 5.0),
        ({"X-Rate-Limit-Reset": "-1"}, None),
        ({}, None),
    ],
)
def test_server_wait_reads_retry_after_then_the_rate_limit_reset(
    headers: dict, seconds: float | None
) -> None:
    now = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    assert server_wait(headers, now) == seconds
