"""Airflow's components as separate processes on one machine (scheduler, dag-processor, API server,
Celery workers), on a metadata database of their own, for the scale benchmark and the deployment tests."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bookspot_devkit.httpserver import free_port

DAG_ID = "bookspot_tripletex_nightly"
TERMINAL = ("success", "failed")
WORKER_NAME = "BOOKSPOT_WORKER_NAME"


def worker_name() -> str:
    """Airflow's `hostname_callable` for workers sharing one machine: the name they were started with."""
    return os.environ.get(WORKER_NAME) or socket.getfqdn()


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A PostgreSQL database made on `server_url` for the block and dropped after it (even on Ctrl+C)."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def airflow_env(
    home: Path,
    metadata_url: str,
    root: Path,
    executor: str = "LocalExecutor",
    parallelism: int = 4,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every component and CLI call of one cluster shares (one API port, one JWT key).

    Airflow also opens an async engine on the metadata database, which on PostgreSQL needs `asyncpg`;
    where it is not installed that engine points at an unused SQLite file (only the dag-run `wait`
    endpoint and multi-team setups use it, neither of them here).
    """
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url,
        AIRFLOW__CORE__EXECUTOR=executor,
        AIRFLOW__CORE__PARALLELISM=str(parallelism),
        AIRFLOW__CORE__DAGS_FOLDER=str(root / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(root / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        PYTHONPATH=os.pathsep.join([str(root / "plugins"), str(root / "devkit"), env.get("PYTHONPATH", "")]),
        TQDM_DISABLE="1",
    )
    if metadata_url.startswith("postgresql") and importlib.util.find_spec("asyncpg") is None:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = f"sqlite+aiosqlite:///{home / 'async-unused.db'}"
    env.update(extra or {})
    return env


class AirflowCluster:
    """Components started as process groups of their own, logs in `home/component-logs`; `stop()` ends
    exactly the processes it started (TERM, then KILL after a grace period)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.home = Path(self.env["AIRFLOW_HOME"])
        self.logs = self.home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.airflow = str(Path(sys.executable).with_name("airflow"))
        self._token: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}"

    def cli(self, *args: str, timeout: float = 180) -> str:
        """An `airflow` command; its output, or RuntimeError with its tail."""
        proc = subprocess.run(
            [self.airflow, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        return proc.stdout

    def start(
        self, name: str, command: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """`command` (its first word `airflow` is this venv's) in a new session, output to its log."""
        argv = [self.airflow, *command[1:]] if command[0] == "airflow" else list(command)
        with (self.logs / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                argv,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = proc
        return proc

    def start_components(self, api_workers: int = 1) -> None:
        self.start("api-server", ["airflow", "api-server", "--workers", str(api_workers)])
        self.start("dag-processor", ["airflow", "dag-processor"])
        self.start("scheduler", ["airflow", "scheduler"])

    def start_celery_worker(self, name: str, queue: str, concurrency: int = 1) -> None:
        """A Celery worker serving `queue`; the task instances it runs record `name` as their hostname."""
        self.start(
            name,
            ["airflow", "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queue,
             "--concurrency", str(concurrency), "--skip-serve-logs", "--without-gossip", "--without-mingle"],
            env={WORKER_NAME: name, "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_name"},
        )  # fmt: skip

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def wait_http(self, url: str, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code < 500:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.5)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        """A REST API call (`/api/v2/...`) with a token of the simple auth manager's all-admins mode."""
        import requests

        if self._token is None:
            reply = requests.get(f"{self.api_url}/auth/token", timeout=timeout)
            reply.raise_for_status()
            self._token = reply.json()["access_token"]
        reply = requests.request(
            method,
            f"{self.api_url}/api/v2/{path.lstrip('/')}",
            json=body,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=timeout,
        )
        if reply.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {reply.status_code} {reply.text[:2000]}")
        return reply.json() if reply.content else None

    def wait_api(self, timeout: float) -> None:
        self.wait_http(f"{self.api_url}/api/v2/monitor/health", timeout)

    def unpause(self, dag_id: str = DAG_ID) -> None:
        self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def ensure_pool(self, name: str, slots: int) -> None:
        """The pool with `slots` slots, made if missing."""
        try:
            self.api("PATCH", f"pools/{name}", {"name": name, "slots": slots})
        except RuntimeError:
            self.api("POST", "pools", {"name": name, "slots": slots})

    def trigger(
        self, logical_date: str | None, dag_id: str = DAG_ID, conf: Mapping[str, Any] | None = None
    ) -> str:
        """A manual run whose logical date is `logical_date` (ISO 8601 with offset; None: none), its
        params overridden by `conf`; its run id."""
        body: dict[str, Any] = {"logical_date": logical_date}
        if conf:
            body["conf"] = dict(conf)
        return str(self.api("POST", f"dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def return_values(self, run_id: str, dag_id: str = DAG_ID, page: int = 100) -> list[dict[str, Any]]:
        """Every task instance's return value (XCom `return_value`) of a run, read through the REST API:
        `{"task_id", "map_index", "value"}` each (a value stored as JSON text is decoded)."""
        run = quote(run_id, safe="")
        entries: list[dict[str, Any]] = []
        while True:
            listed = self.api(
                "GET",
                f"dags/{dag_id}/dagRuns/{run}/taskInstances/~/xcomEntries"
                f"?xcom_key=return_value&limit={page}&offset={len(entries)}",
            )
            entries += listed["xcom_entries"]
            if not listed["xcom_entries"] or len(entries) >= listed["total_entries"]:
                break
        out = []
        for entry in entries:
            task, index = quote(entry["task_id"], safe=""), entry["map_index"]
            path = f"dags/{dag_id}/dagRuns/{run}/taskInstances/{task}/xcomEntries/return_value"
            value = self.api("GET", f"{path}?map_index={index}")["value"]
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            out.append({"task_id": entry["task_id"], "map_index": index, "value": value})
        return out

    def metadata(self) -> Any:
        from sqlalchemy import create_engine

        return create_engine(self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], pool_size=1)

    def wait_dag(self, engine: Any, timeout: float, dag_id: str = DAG_ID) -> None:
        """Until the dag-processor has serialized the DAG."""
        from sqlalchemy import text

        deadline = time.monotonic() + timeout
        query = text("SELECT count(*) FROM serialized_dag WHERE dag_id = :d")
        while True:
            self.check_alive()
            with engine.connect() as conn:
                if conn.execute(query, {"d": dag_id}).scalar_one():
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} was not parsed within {timeout:.0f} s")
            time.sleep(0.5)

    def wait_runs(
        self, engine: Any, count: int, timeout: float, dag_id: str = DAG_ID, poll: float = 1.0
    ) -> dict[str, int]:
        """Until `count` runs of the DAG are finished; their states counted."""
        from sqlalchemy import text

        deadline = time.monotonic() + timeout
        query = text("SELECT state, count(*) FROM dag_run WHERE dag_id = :d GROUP BY state")
        while True:
            self.check_alive()
            with engine.connect() as conn:
                states = {str(s): int(n) for s, n in conn.execute(query, {"d": dag_id})}
            if sum(states.get(s, 0) for s in TERMINAL) >= count:
                return states
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs of {dag_id} after {timeout:.0f} s: {states}")
            time.sleep(poll)

    def stop(self, grace: float = 20.0) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> AirflowCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
