"""Helpers for the load tests: fast clients, retrying like Airflow, a load killed with SIGKILL."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.load.errors import ClaimLost, OutcomeUnclear, VoucherBusy
from bookspot_tripletex.load.post import post_day
from bookspot_tripletex.tripletex.client import RetryPolicy, TripletexClient
from bookspot_tripletex.tripletex.errors import RateLimited, ServerError, TransportError

ROOT = Path(__file__).resolve().parents[2]
TRANSIENT = (OutcomeUnclear, VoucherBusy, ClaimLost, TransportError, ServerError, RateLimited)


class WithCompany:
    """A tenant whose configuration names its Tripletex company."""

    def __init__(self, cfg: Any, company_id: int) -> None:
        self._cfg = cfg
        self.tripletex_company_id = company_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cfg, name)


def fast_client(server: EmulatorServer, timeout: float = 5) -> TripletexClient:
    company = server.config.companies[0]
    return TripletexClient(
        server.url,
        company.consumer_token,
        company.employee_token,
        timeout=timeout,
        clock=lambda: dt.date(2026, 11, 25),
        retry=RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.05),
    )


def post_until_done(
    engine: Any, cfg: Any, day: dt.date, client: Callable[[], TripletexClient], tries: int = 6
) -> list[str]:
    """Post as Airflow's retries would: a transient error means another try a moment later."""
    outcomes: list[str] = []
    for _ in range(tries):
        try:
            outcomes.append(post_day(engine, cfg, day, client(), f"try-{len(outcomes)}")["outcome"])
            return outcomes
        except TRANSIENT as exc:
            outcomes.append(type(exc).__name__)
            time.sleep(0.2)
    raise AssertionError(f"not done after {tries} tries: {outcomes}")


def killed_load(
    staging_url: str, server: EmulatorServer, tenant: str, day: dt.date, when: Callable[[], bool]
) -> None:
    """Start a load in its own process and SIGKILL it as soon as `when()` holds, mid-flight."""
    company = server.config.companies[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("plugins", "devkit"))}
    args = [sys.executable, str(ROOT / "bench" / "fault_campaign.py"), "--child"]
    process = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, text=True)
    job = [staging_url, server.url, tenant, day.isoformat(), "killed-run", "10"]
    assert process.stdin is not None
    process.stdin.write(json.dumps([*job, company.consumer_token, company.employee_token]) + "\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not when() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
