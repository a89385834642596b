"""Shared helpers for the Tripletex client tests: a fast retry policy, a recorded sleep, a movable clock."""

from __future__ import annotations

import atexit
import datetime
import os
import shutil
import tempfile

import pytest

from bookspot_tripletex.retry import RetryPolicy
from bookspot_tripletex.tripletex.client import TripletexClient

BASE = "https://tx.test/v2"
CONSUMER = "consumer-SECRET-c0ffee"
EMPLOYEE = "employee-SECRET-beef42"
TODAY = datetime.date(2026, 11, 24)

FAST = RetryPolicy(
    attempts=3, budget_seconds=30, backoff_initial=0.01, backoff_max=0.05, server_wait_margin=0
)


class Clock:
    def __init__(self, today: datetime.date = TODAY) -> None:
        self.today = today

    def __call__(self) -> datetime.date:
        return self.today


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(clock: Clock, sleeps: Sleeps):
    def make(**kwargs) -> TripletexClient:
        options = {"retry": FAST, "sleep": sleeps, "clock": clock, "post_settle": 0.01, **kwargs}
        return TripletexClient(BASE, CONSUMER, EMPLOYEE, **options)

    return make


if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-tripletex-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], True)
