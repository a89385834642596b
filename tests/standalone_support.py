"""`airflow standalone` for the browser tests: its own process group, home, ports and staging; and
Debian's Chromium for Playwright (skipped where it is missing, never in CI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = Path("/usr/bin/chromium")
DAG_ID = "bookspot_tripletex_nightly"
STARTUP_S, RUN_S = 240, 240


def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs Debian's chromium for the browser test (scripts/test.sh installs it as root)")
    pytest.skip("no /usr/bin/chromium: install Debian's chromium package (scripts/test.sh does as root)")


class Standalone:
    """`airflow standalone` in its own process group, with its own home, ports and staging."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.url = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
        self.log = home / "standalone.log"
        airflow = Path(sys.executable).with_name("airflow")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(airflow), "standalone"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"airflow standalone exited:\n{self.log.read_text()[-4000:]}")
            try:
                found = check()
            except requests.RequestException:
                found = None
            if found:
                return found
            time.sleep(1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log.read_text()[-4000:]}")

    def password(self) -> str:
        return json.loads(Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())[
            "admin"
        ]

    def token(self) -> str:
        answer = requests.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": self.password()}, timeout=10
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
