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


def standalone_env(home: Path, tripletex: Any, feed: Path, staging: str) -> dict[str, str]:
    """The environment of an `airflow standalone` on free local ports with this checkout's DAGs and
    plugins, simple auth (admin and viewer), the demo tenant's connections to the emulator and `feed`,
    and `staging`."""
    from bookspot_devkit.httpserver import free_port

    company = tripletex.config.companies[0]
    root = Path(__file__).resolve().parents[1]
    port = free_port()
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__MAX_DAGRUNS_TO_CREATE_PER_LOOP": "0",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW_CONN_TRIPLETEX_FJORD_KAYAK": json.dumps(
            {
                "conn_type": "tripletex",
                "host": tripletex.url,
                "password": company.employee_token,
                "extra": {"consumer_token": company.consumer_token, "company_id": 0},
            }
        ),
        "AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK": json.dumps(
            {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
        ),
        "BOOKSPOT_STAGING_URL": staging,
        "BOOKSPOT_REPORTS_DIR": str(home / "reports"),
        "BOOKSPOT_DATA_DIR": str(home / "data"),
        "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root / "devkit")]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


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
