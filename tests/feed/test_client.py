"""BookSpotClient against the simulator over real HTTP: paging, retries, errors, late data, no token leaks."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookspot_devkit.httpserver import free_port
from bookspot_devkit.simulator.generator import TenantGenerator, vat_of
from bookspot_devkit.simulator.server import SimulatorConfig, SimulatorServer
from bookspot_tripletex.feed.client import (
    BookSpotAuthError,
    BookSpotClient,
    BookSpotConnectionError,
    BookSpotNotFound,
    BookSpotRateLimited,
    BookSpotRequestError,
    BookSpotServerError,
)
from bookspot_tripletex.feed.model import parse_record
from bookspot_tripletex.retry import RetryPolicy

UTC = dt.UTC
TOKENS = {"fjord-kayak": secrets.token_urlsafe(24), "tenant-001": secrets.token_urlsafe(24)}
EVERYTHING = (dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        tokens=TOKENS,
        seed=21,
        date_from=dt.date(2026, 6, 1),
        date_to=dt.date(2026, 6, 30),
        transactions_per_day=40,
    )
    with SimulatorServer(config) as running:
        yield running


@pytest.fixture(autouse=True)
def calm(server: SimulatorServer) -> Iterator[None]:
    server.simulation.reset_stats()
    yield
    server.simulation.set_faults(
        rate_limit_rate=0, rate_limit_burst=0, server_error_rate=0, server_error_burst=0, delay_seconds=0
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(server: SimulatorServer, account: str = "fjord-kayak", **kwargs: Any) -> BookSpotClient:
    kwargs.setdefault("token", TOKENS.get(account, "no-token"))
    kwargs.setdefault("sleep", Sleeps())
    return BookSpotClient(server.url, account_id=account, timeout=5, **kwargs)


def statuses(server: SimulatorServer) -> dict[str, int]:
    return server.simulation.stats()["by_status"]


def test_pages_through_every_record_once_in_order(server: SimulatorServer) -> None:
    expected = _june()
    assert len(expected) >= 2000
    records = list(client(server).iter_records(*EVERYTHING, limit=50))
    assert records == expected
    assert statuses(server) == {"200": math.ceil(len(expected) / 50)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(1, 500),
    start=st.integers(0, 30 * 86400),
    length=st.integers(0, 86400),
    offset_hours=st.sampled_from([0, 1, 2, -5]),
)
def test_any_window_and_limit_give_the_records_updated_inside_it(
    server: SimulatorServer, limit: int, start: int, length: int, offset_hours: int
) -> None:
    tz = dt.timezone(dt.timedelta(hours=offset_hours))
    updated_from = dt.datetime(2026, 6, 1, tzinfo=UTC).astimezone(tz) + dt.timedelta(seconds=start)
    updated_to = updated_from + dt.timedelta(seconds=length)
    expected = [r for r in _june() if updated_from <= dt.datetime.fromisoformat(r["updated_at"]) < updated_to]
    assert list(client(server).iter_records(updated_from, updated_to, limit=limit)) == expected


@functools.cache
def _june() -> list[dict[str, Any]]:
    generator = TenantGenerator("fjord-kayak", 21, transactions_per_day=40)
    return list(generator.iter_records("2026-06-01", "2026-06-30"))


def test_a_window_returns_only_records_updated_inside_it(server: SimulatorServer) -> None:
    start = dt.datetime(2026, 6, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    end = start + dt.timedelta(days=1)
    records = list(client(server).iter_records(start, end))
    assert records
    assert all(start <= dt.datetime.fromisoformat(r["updated_at"]) < end for r in records)
    assert statuses(server) == {"200": 1}


def test_429_waits_for_retry_after(server: SimulatorServer) -> None:
    server.simulation.set_faults(rate_limit_burst=2, retry_after=3)
    sleeps = Sleeps()
    page = client(server, sleep=sleeps).fetch_page(*EVERYTHING, limit=10)
    assert len(page.records) == 10
    assert sleeps == [3.0 + RetryPolicy().server_wait_margin] * 2
    assert statuses(server) == {"429": 2, "200": 1}


def test_a_retry_after_beyond_the_budget_gives_up_at_once(server: SimulatorServer) -> None:
    server.simulation.set_faults(rate_limit_burst=1, retry_after=86400)
    sleeps = Sleeps()
    with pytest.raises(BookSpotRateLimited, match="gave up after 1 attempts") as failure:
        client(server, sleep=sleeps).fetch_page(*EVERYTHING, limit=1)
    assert sleeps == [] and failure.value.retry_after == 86400
    assert statuses(server) == {"429": 1}


def test_the_time_budget_bounds_the_waits(server: SimulatorServer) -> None:
    server.simulation.set_faults(server_error_rate=1.0)
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=50, budget_seconds=10, backoff_initial=1, backoff_max=4)
    with pytest.raises(BookSpotServerError) as failure:
        client(server, sleep=sleeps, retry=policy).fetch_page(*EVERYTHING)
    assert sum(sleeps) <= 10 and len(sleeps) >= 3
    assert failure.value.attempts == len(sleeps) + 1 == statuses(server)["503"]


def test_rate_limit_that_never_ends_gives_up(server: SimulatorServer) -> None:
    server.simulation.set_faults(rate_limit_rate=1.0, retry_after=1)
    with pytest.raises(BookSpotRateLimited, match="gave up after 3 attempts"):
        client(server, max_retries=2).fetch_page(*EVERYTHING)
    assert statuses(server) == {"429": 3}


def test_a_5xx_burst_is_retried_with_growing_backoff(server: SimulatorServer) -> None:
    server.simulation.set_faults(server_error_burst=3)
    sleeps = Sleeps()
    records = list(client(server, sleep=sleeps).iter_records(*EVERYTHING, limit=500))
    assert len(records) >= 2000
    assert statuses(server)["503"] == 3
    assert len(sleeps) == 3
    for attempt, seconds in enumerate(sleeps):
        assert 2**attempt <= seconds <= 2**attempt + 1


def test_a_permanent_5xx_fails_after_max_retries_plus_one_attempts(server: SimulatorServer) -> None:
    server.simulation.set_faults(server_error_rate=1.0)
    sleeps = Sleeps()
    with pytest.raises(BookSpotServerError) as failure:
        list(client(server, max_retries=4, sleep=sleeps).iter_records(*EVERYTHING))
    assert failure.value.attempts == 5 and len(sleeps) == 4
    assert statuses(server) == {"503": 5}
    assert "fjord-kayak" in str(failure.value) and "HTTP 503" in str(failure.value)


def test_a_bad_token_fails_at_once_naming_the_tenant(server: SimulatorServer) -> None:
    token = secrets.token_urlsafe(24)
    with pytest.raises(BookSpotAuthError) as failure:
        list(client(server, token=token).iter_records(*EVERYTHING))
    message = str(failure.value)
    assert "'fjord-kayak'" in message and "401" in message and token not in message
    assert TOKENS["fjord-kayak"] not in message
    assert statuses(server) == {"401": 1}


def test_the_tenant_label_is_named_when_it_differs_from_the_account(server: SimulatorServer) -> None:
    with pytest.raises(BookSpotAuthError, match="tenant 'fjord' \\(BookSpot account 'fjord-kayak'\\)"):
        client(server, token="wrong", tenant="fjord").fetch_page(*EVERYTHING)


def test_an_unknown_account_is_a_404_naming_it(server: SimulatorServer) -> None:
    with pytest.raises(BookSpotNotFound, match="'nobody-as'.*404"):
        list(client(server, account="nobody-as").iter_records(*EVERYTHING))
    assert statuses(server) == {"404": 1}


def test_a_400_is_not_retried(server: SimulatorServer) -> None:
    bad = client(server)
    with pytest.raises(BookSpotRequestError, match="400"):
        bad.fetch_page(*EVERYTHING, cursor="garbage")
    assert statuses(server) == {"400": 1}


def test_connection_errors_are_retried_a_bounded_number_of_times() -> None:
    sleeps = Sleeps()
    dead = BookSpotClient(f"http://127.0.0.1:{free_port()}", "t", "fjord-kayak", max_retries=3, sleep=sleeps)
    with pytest.raises(BookSpotConnectionError, match="gave up after 4 attempts"):
        dead.fetch_page(*EVERYTHING)
    assert len(sleeps) == 3


def test_every_call_has_a_timeout(server: SimulatorServer) -> None:
    server.simulation.set_faults(delay_seconds=1.0)
    slow = BookSpotClient(
        server.url, TOKENS["fjord-kayak"], "fjord-kayak", timeout=0.2, max_retries=1, sleep=Sleeps()
    )
    with pytest.raises(BookSpotConnectionError, match="within 0.2 s"):
        slow.fetch_page(*EVERYTHING)


def _admin_put(server: SimulatorServer, account: str, record: dict[str, Any]) -> None:
    response = requests.post(f"{server.url}/_sim/accounts/{account}/transactions", json=record, timeout=10)
    assert response.status_code == 200


def _day(day: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(2026, 6, day, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return start, start + dt.timedelta(days=1)


def test_a_late_update_shows_up_in_a_later_window(server: SimulatorServer) -> None:
    api = client(server, account="tenant-001")
    first_fetch = list(api.iter_records(*_day(12)))
    original = next(
        r for r in first_fetch if r["payment_method"] == "card_terminal" and r["kind"] == "payment"
    )
    updated = {**original, "lines": [dict(line) for line in original["lines"]]}
    line = updated["lines"][0]
    unit = line["gross_minor"] // line["quantity"]
    line["quantity"] += 1
    line["gross_minor"] += unit
    line["vat_minor"] = vat_of(line["gross_minor"], line["vat_rate"])
    updated["amount_minor"] += unit
    updated["updated_at"] = "2026-06-15T08:30:00+02:00"
    _admin_put(server, "tenant-001", updated)

    again = list(api.iter_records(*_day(12)))
    assert original["id"] not in {r["id"] for r in again}
    later = [r for r in api.iter_records(*_day(15)) if r["id"] == original["id"]]
    assert later == [updated]
    assert parse_record(later[0]).amount_ore == original["amount_minor"] + unit


def test_a_void_shows_up_with_a_newer_updated_at(server: SimulatorServer) -> None:
    api = client(server, account="tenant-001")
    original = list(api.iter_records(*_day(20)))[0]
    voided = {**original, "status": "voided", "updated_at": "2026-06-22T10:00:00Z"}
    _admin_put(server, "tenant-001", voided)
    assert original["id"] not in {r["id"] for r in api.iter_records(*_day(20))}
    assert [r for r in api.iter_records(*_day(22)) if r["id"] == original["id"]] == [voided]


def test_the_token_is_never_logged(server: SimulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    token = TOKENS["fjord-kayak"]
    server.simulation.set_faults(server_error_burst=1, rate_limit_burst=1)
    caplog.set_level(logging.DEBUG)
    api = client(server)
    list(api.iter_records(*EVERYTHING, limit=500))
    with pytest.raises(BookSpotAuthError):
        client(server, token=token[::-1]).fetch_page(*EVERYTHING)
    assert "retrying" in caplog.text and "fjord-kayak" in caplog.text
    assert token not in caplog.text and token[::-1] not in caplog.text
    assert token not in repr(api) and token not in str(vars(api).get("url", ""))


def test_arguments_are_checked(server: SimulatorServer) -> None:
    api = client(server)
    with pytest.raises(ValueError, match="timezone-aware"):
        api.fetch_page(dt.datetime(2026, 1, 1), EVERYTHING[1])
    with pytest.raises(ValueError, match="limit"):
        api.fetch_page(*EVERYTHING, limit=501)
    with pytest.raises(ValueError, match="token"):
        BookSpotClient(server.url, "", "fjord-kayak")
    with pytest.raises(ValueError, match="base_url"):
        BookSpotClient("bookspot.example", "t", "fjord-kayak")
