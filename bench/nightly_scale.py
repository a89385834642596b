"""Nights of N tenants (or one tenant's initial import) through a real Airflow scheduler.

Everything is real and local: Airflow's scheduler, dag-processor and API server as separate processes
(LocalExecutor, `--parallelism` task slots), metadata and staging on PostgreSQL (two databases made on
`--pg-url` and dropped at the end), the BookSpot simulator serving every tenant's days over HTTP and the
Tripletex emulator holding one company per tenant, with two connections per tenant in Airflow's metadata
database (`airflow connections import`). Runs are started the way production starts one, through the
REST API, with the DAG's `shard_size` param (`--shard-size`; by default at least 25 and, up to 64
shards, at most 125 tenants a shard, two shards per task slot in between). A night that times out is
stopped (its runs marked failed) and reported with what it did so far.

Before the first night every tenant is onboarded as an operator onboards one, once: `activation-check
--tenant …` checks each company, its accounts and VAT types and keeps the result in staging (its calls
are printed apart; `--no-onboarding` leaves the checks to the first night).

`--tenants N` runs `--nights` nights for the same tenants: the first night (the tenants' first day), then
each later night after the next day's records arrived in the simulator. `--initial-import D` runs one
tenant's first D days: one manual run that takes every due day (`--import-as run`, the default) or a
backfill of a run per day (`--import-as backfill`).

Printed for each night (or the import): wall time (run queued → finished, from Airflow's metadata), task
instances, Tripletex calls per tenant-day (the emulator's unbounded counter, `/_emulator/calls`) and the
vouchers the emulator holds against staging's posted rows (MISMATCH, and exit 1, if they differ),
connection look-ups through the execution API (the API server's access log), CPU seconds per tenant-day
split into Airflow's own work (scheduler, dag-processor, API server, task start-up) and ours (the
`cpu_s` the step tasks return in XCom, read through the REST API; "n/a" when no task returns it), and
the task time by task. Then the DAG file's parse time and, with `--probe-lookups K`, what one connection
look-up costs a task (a probe DAG looks up K of the tenants' connections, then each twice).

Run: .venv/bin/python bench/nightly_scale.py [--tenants 1000] [--nights 2] [--transactions-per-day 100]
     .venv/bin/python bench/nightly_scale.py --initial-import 365 [--import-as run|backfill]
     [--shard-size S] [--parallelism 4] [--probe-lookups 1000] [--timeout 3600]
     [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import requests
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devkit")]

from bookspot_devkit.airflow_cluster import (  # noqa: E402
    DAG_ID,
    AirflowCluster,
    airflow_env,
    scratch_database,
)
from bookspot_devkit.local_night import LocalNight, import_tenants, local_night  # noqa: E402

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
NIGHT = dt.date(2026, 11, 24)
SEED = 7
MAX_SHARDS = 64
MIN_SHARD = 25
MAX_SHARD = 125
COMPONENTS = ("scheduler", "dag-processor", "api-server", "tasks", "emulator", "simulator", "postgres")
AIRFLOW_PARTS = ("scheduler", "dag-processor", "api-server")
LOOKUP = "path=/execution/connections/"
PROBE_ID = "bookspot_connection_probe"
PROBE_DAG = '''"""Connection look-ups through the Task SDK and the execution API (the scale bench's probe)."""

import datetime as dt

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="bookspot_connection_probe",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    params={"conn_ids": Param([], type="array")},
)
def bookspot_connection_probe() -> None:
    @task
    def look_up() -> dict:
        import time

        from airflow.sdk.bases.hook import BaseHook

        conn_ids = get_current_context()["params"]["conn_ids"]
        cpu, wall = time.process_time(), time.perf_counter()
        for conn_id in conn_ids:
            BaseHook.get_connection(conn_id)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {"lookups": len(conn_ids), "cpu_s": cpu, "wall_s": wall}

    look_up()


bookspot_connection_probe()
'''
PARSE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
runs = []
for _ in range(3):
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    runs.append(time.perf_counter() - started)
    assert bag.dags and not bag.import_errors, bag.import_errors
print(json.dumps(runs))
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--nights", type=int, default=2, help="the first night, then later nights")
    parser.add_argument(
        "--initial-import", type=int, default=0, metavar="DAYS", help="one tenant's first DAYS days"
    )
    parser.add_argument("--transactions-per-day", type=float, default=100)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument(
        "--import-as",
        choices=("run", "backfill"),
        default="run",
        help="the initial import as one run (every due day) or as a backfill of a run per day",
    )
    parser.add_argument("--max-active-runs", type=int, default=10, help="of the backfill (the UI's default)")
    parser.add_argument("--shard-size", type=int, default=None, help="the runs' shard_size param")
    parser.add_argument(
        "--probe-lookups", type=int, default=0, metavar="K", help="measure a connection look-up on K of them"
    )
    parser.add_argument(
        "--connections",
        choices=("metadata", "backend"),
        default="metadata",
        help="in Airflow's metadata database (tasks look them up through the API server) or in a secrets "
        "backend the workers read (one file per connection, cached per process)",
    )
    parser.add_argument(
        "--no-onboarding",
        action="store_true",
        help="skip the onboarding check (`activation-check`) before the first night; the first night "
        "then checks the company, the accounts and the VAT types itself",
    )
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds each night may take")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def default_shard_size(tenants: int, parallelism: int) -> int:
    """At least 25 tenants a shard and at most 64 shards; in between, two shards per task slot of at most
    125 tenants. A shard's task start-up and Great Expectations' import are paid once per shard, while
    Airflow's secrets masker in the task's supervisor still compiles every secret seen so far for each
    new one (our task process compiles on use, `bookspot_tripletex.masking`); the figures per shard size
    are in docs/deploy.md ("Shards against workers")."""
    return max(
        MIN_SHARD, math.ceil(tenants / MAX_SHARDS), min(MAX_SHARD, math.ceil(tenants / (2 * parallelism)))
    )


# ------------------------------------------------------------------------------------------ CPU


def tree_cpu(pid: int) -> dict[int, tuple[float, str]]:
    """CPU seconds (own + reaped children) of every live process of a tree, with its command line."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    out = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            out[proc.pid] = (
                t.user + t.system + t.children_user + t.children_system,
                " ".join(proc.cmdline()),
            )
    return out


def cpu_by_component(roots: dict[str, int]) -> dict[str, float]:
    """Exited processes count in their parent's reaped CPU, so a tree's live processes hold its total.
    LocalExecutor workers (and the task processes they fork and reap) count as `tasks`."""
    totals = dict.fromkeys(COMPONENTS, 0.0)
    for name, pid in roots.items():
        for _, (seconds, cmdline) in tree_cpu(pid).items():
            totals["tasks" if "LocalExecutor" in cmdline else name] += seconds
    return totals


def postmaster_pid(engine: Any) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return psutil.Process(backend).ppid()


class BackendSampler(threading.Thread):
    """CPU of the PostgreSQL backends serving our databases, sampled every `interval` s (a backend's CPU
    after its last sample is missed, so this is a lower bound; the whole server's figure is the upper)."""

    def __init__(self, engine: Any, databases: list[str], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.engine, self.databases, self.interval = engine, databases, interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        from sqlalchemy import text

        query = text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:d) AND pid <> pg_backend_pid()")
        with self.engine.connect() as conn:
            while not self.done.is_set():
                for (pid,) in conn.execute(query, {"d": self.databases}):
                    with contextlib.suppress(psutil.Error):
                        t = psutil.Process(pid).cpu_times()
                        self.last[pid] = t.user + t.system
                        self.first.setdefault(pid, self.last[pid])
                conn.rollback()
                self.done.wait(self.interval)

    def stop(self) -> float:
        """CPU seconds since sampling began (a backend alive then counts from its first sample)."""
        self.done.set()
        self.join(timeout=10)
        return sum(self.last[p] - self.first[p] for p in self.last)


# ------------------------------------------------------------------------------------------ set-up


def parse_time(env: dict[str, str]) -> list[float]:
    dag_file = str(ROOT / "dags" / f"{DAG_ID}.py")
    proc = subprocess.run(
        [sys.executable, "-c", PARSE, dag_file], env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"parsing the DAG failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ figures


def run_figures(metadata: Any, run_ids: list[str]) -> dict[str, Any]:
    """Wall time, task instances and task time of the runs, from Airflow's metadata."""
    from sqlalchemy import bindparam, text

    ids = {"d": DAG_ID, "r": run_ids}
    where = "dag_id = :d AND run_id IN :r"

    def query(sql: str) -> Any:
        return text(sql).bindparams(bindparam("r", expanding=True))

    with metadata.connect() as conn:
        span = conn.execute(
            query(f"SELECT min(queued_at), max(end_date) FROM dag_run WHERE {where}"), ids
        ).one()
        run_states = conn.execute(
            query(f"SELECT state, count(*) FROM dag_run WHERE {where} GROUP BY state"), ids
        ).all()
        states = dict(
            conn.execute(
                query(f"SELECT state, count(*) FROM task_instance WHERE {where} GROUP BY state"), ids
            ).all()
        )
        retried = conn.execute(
            query(f"SELECT count(*) FROM task_instance WHERE {where} AND try_number > 1"), ids
        ).scalar_one()
        per_task = conn.execute(
            query(
                "SELECT task_id, count(*), sum(duration), avg(duration),"
                " avg(extract(epoch FROM start_date - queued_dttm))"
                f" FROM task_instance WHERE {where} GROUP BY task_id ORDER BY sum(duration) DESC"
            ),
            ids,
        ).all()
    return {
        "wall_s": (span[1] - span[0]).total_seconds() if span[1] else float("nan"),
        "run_states": {str(k): v for k, v in run_states},
        "task_instances": sum(states.values()),
        "task_states": {str(k): v for k, v in states.items()},
        "retried": retried,
        "tasks": [
            {"task": t, "n": n, "sum_s": float(s or 0), "avg_s": float(a or 0), "avg_queued_s": float(q or 0)}
            for t, n, s, a, q in per_task
        ],
    }


def staging_figures(staging_url: str) -> dict[str, Any]:
    """What staging holds: vouchers by status, vouchers Tripletex should hold, transactions."""
    from sqlalchemy import create_engine, text

    staging = create_engine(staging_url)
    with staging.connect() as conn:
        vouchers = dict(conn.execute(text("SELECT status, count(*) FROM vouchers GROUP BY status")).all())
        in_tripletex = conn.execute(
            text("SELECT count(tripletex_voucher_id) + count(reversal_id) FROM vouchers")
        ).scalar_one()
        staged = conn.execute(text("SELECT count(*) FROM transactions")).scalar_one()
        reconciled = conn.execute(
            text("SELECT count(*), sum(days), sum(calls), sum(drafts_deleted) FROM reconcile_marks")
        ).one()
    staging.dispose()
    return {
        "vouchers": vouchers,
        "in_tripletex": int(in_tripletex or 0),
        "transactions": staged,
        "reconciliation": {
            "tenants": reconciled[0],
            "days": int(reconciled[1] or 0),
            "calls": int(reconciled[2] or 0),
            "drafts_deleted": int(reconciled[3] or 0),
        },
    }


def emulator_calls(url: str) -> Counter[str]:
    """Every call the emulator counted (all of them: the counter is not a bounded log)."""
    values = requests.get(f"{url}/_emulator/calls", timeout=60).json()["values"]
    return Counter({f"{v['method']} {v['path']}": v["count"] for v in values})


def step_cpu(values: list[dict[str, Any]]) -> dict[str, Any]:
    """The CPU our step functions report (`cpu_s` in a task's return value), by task; `cpu_s` None when
    no task instance reports it."""
    by_task: Counter[str] = Counter()
    reporting = 0
    for v in values:
        own = v["value"].get("cpu_s") if isinstance(v["value"], dict) else None
        if isinstance(own, int | float):
            by_task[v["task_id"]] += float(own)
            reporting += 1
    return {
        "cpu_s": sum(by_task.values()) if reporting else None,
        "by_task": dict(by_task),
        "reporting": reporting,
    }


class Counters:
    """Snapshots of what the bench counts over a phase: Tripletex calls, CPU by component, look-ups."""

    def __init__(self, cluster: AirflowCluster, night: LocalNight, roots: dict[str, int]) -> None:
        self.cluster, self.night, self.roots = cluster, night, roots
        self.log = cluster.logs / "api-server.log"

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": emulator_calls(self.night.emulator_url),
            "cpu": cpu_by_component(self.roots),
            "log_offset": self.log.stat().st_size,
        }

    def settle(self, timeout: float = 60) -> None:
        """Until the executor's workers have reaped every task process (so their CPU is counted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                workers = [
                    p
                    for p in psutil.Process(self.roots["scheduler"]).children(recursive=True)
                    if "LocalExecutor" in " ".join(p.cmdline())
                ]
                if not any(w.children() for w in workers):
                    return
            except psutil.Error:
                pass
            time.sleep(0.5)

    def since(self, before: dict[str, Any]) -> dict[str, Any]:
        self.settle()
        after = self.snapshot()
        with self.log.open("rb") as handle:
            handle.seek(before["log_offset"])
            lookups = handle.read(after["log_offset"] - before["log_offset"]).count(LOOKUP.encode())
        return {
            "calls": after["calls"] - before["calls"],
            "cpu_s": {k: after["cpu"][k] - before["cpu"][k] for k in COMPONENTS},
            "lookups": lookups,
        }


@dataclasses.dataclass
class Phase:
    """One night (or the import): its runs, started by `start`."""

    name: str
    tenants: int
    days: int
    start: Callable[[], object]
    runs: int = 1


def run_phase(
    phase: Phase,
    cluster: AirflowCluster,
    metadata: Any,
    counters: Counters,
    staging_url: str,
    night: LocalNight,
    timeout: float,
) -> dict[str, Any]:
    from sqlalchemy import text

    def run_ids() -> set[str]:
        with metadata.connect() as conn:
            query = text("SELECT run_id FROM dag_run WHERE dag_id = :d")
            return set(conn.execute(query, {"d": DAG_ID}).scalars())

    known = run_ids()
    print(f"{phase.name}: triggering", flush=True)
    before = counters.snapshot()
    started = time.perf_counter()
    phase.start()
    timed_out = False
    try:
        cluster.wait_runs(metadata, len(known) + phase.runs, timeout)
    except TimeoutError as exc:
        print(f"timed out: {exc}; the runs are stopped, figures so far follow", file=sys.stderr)
        timed_out = True
        for run_id in run_ids() - known:
            cluster.api("PATCH", f"dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}", {"state": "failed"})
    observed_s = time.perf_counter() - started
    counted = counters.since(before)
    ids = sorted(run_ids() - known)
    fig = run_figures(metadata, ids)
    values = [v for run_id in ids for v in cluster.return_values(run_id)]
    fig.update(counted)
    fig.update(staging_figures(staging_url))
    fig.update(
        name=phase.name,
        tenants=phase.tenants,
        days=phase.days,
        run_ids=ids,
        timed_out=timed_out,
        observed_s=observed_s,
        steps=step_cpu(values),
        emulator_vouchers=night.emulator_vouchers(),
    )
    return fig


def per(value: float | None, n: int, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value / n:.{digits}f}"


def report_phase(fig: dict[str, Any]) -> bool:
    """Print a phase's figures; False when the emulator's vouchers and staging's posted rows differ."""
    tenant_days = fig["tenants"] * fig["days"]
    calls = sum(fig["calls"].values())
    cpu = fig["cpu_s"]
    ours = fig["steps"]["cpu_s"]
    airflow = sum(cpu[k] for k in AIRFLOW_PARTS)
    startup = None if ours is None else cpu["tasks"] - ours
    label = f"{fig['name']}: {fig['tenants']} tenant(s) x {fig['days']} day(s)"
    if fig["timed_out"]:
        posted = fig["vouchers"].get("posted", 0)
        label += f" (TIMED OUT after {fig['observed_s']:.0f} s: {posted} tenant-days posted so far)"
    same = fig["emulator_vouchers"] == fig["in_tripletex"]
    print()
    print(f"== {label}")
    print(f"runs: {len(fig['run_ids'])} {fig['run_states']}, task instances: {fig['task_instances']} "
          f"{fig['task_states']}, retried: {fig['retried']}, vouchers in staging: {fig['vouchers']}, "
          f"transactions staged: {fig['transactions']}")  # fmt: skip
    print(f"Tripletex calls: {calls} ({calls / tenant_days:.2f} per tenant-day): " + ", ".join(
        f"{k} x{v}" for k, v in fig["calls"].most_common()))  # fmt: skip
    print(f"vouchers: the emulator holds {fig['emulator_vouchers']}, staging's posted rows (and reversals) "
          f"{fig['in_tripletex']}: {'same' if same else 'MISMATCH'}")  # fmt: skip
    rec = fig["reconciliation"]
    print(f"reconciliation so far: {rec['calls']} Tripletex calls for {rec['tenants']} tenant(s) reconciled "
          f"clean, {rec['days']} tenant-day(s) read back, {rec['drafts_deleted']} stray draft(s) "
          "deleted")  # fmt: skip
    print(f"connection look-ups (execution API): {fig['lookups']} ({fig['lookups'] / tenant_days:.2f} per "
          "tenant-day)")  # fmt: skip
    steps = fig["steps"]
    print("task time (sum of durations, avg duration, avg queued→started, our cpu_s):")
    for t in fig["tasks"]:
        times = f"{t['sum_s']:9.1f} s  {t['avg_s']:6.2f} s  {t['avg_queued_s']:7.1f} s"
        own = steps["by_task"].get(t["task"])
        print(f"  {t['task']:<32} n={t['n']:<6} {times}  {'n/a' if own is None else f'{own:.1f} s'}")
    print(
        f"CPU s per tenant-day: Airflow {per(None if startup is None else airflow + startup, tenant_days)} "
        f"(scheduler {per(cpu['scheduler'], tenant_days)}, "
        f"dag-processor {per(cpu['dag-processor'], tenant_days)}, "
        f"api-server {per(cpu['api-server'], tenant_days)}, task start-up {per(startup, tenant_days)}), "
        f"ours {per(ours, tenant_days)} ({steps['reporting']} of {fig['task_instances']} task instances "
        f"report cpu_s); all task processes {per(cpu['tasks'], tenant_days)}; doubles: emulator "
        f"{per(cpu['emulator'], tenant_days)}, simulator {per(cpu['simulator'], tenant_days)}, PostgreSQL "
        f"(whole server) {per(cpu['postgres'], tenant_days)}"
    )
    print(
        f"{label}: wall {fig['wall_s']:.0f} s, {fig['task_instances']} task instances, "
        f"{calls / tenant_days:.2f} Tripletex calls per tenant-day, CPU s per tenant-day "
        f"{per(airflow + cpu['tasks'], tenant_days)} (Airflow and ours; ours {per(ours, tenant_days)}), "
        f"CPU s "
        + ", ".join(f"{k} {cpu[k]:.0f}" for k in COMPONENTS)
        + f" (load average {os.getloadavg()[0]:.1f} at the end)"
    )
    return same


ONBOARD_CHUNK = 100


def onboard(
    env: dict[str, str],
    night: LocalNight,
    staging_url: str,
    day: dt.date,
    tenants: list[str],
    workers: int = 2,
) -> dict[str, Any]:
    """Onboarding as an operator does it, once per new tenant: `activation-check --tenant …` for up to
    100 tenants a process (each process's secrets masker grows with every connection it reads), `workers`
    processes at a time, reading the connections from the organisation's secrets backend (one file each
    here); its calls."""
    from concurrent.futures import ThreadPoolExecutor

    night.write_connections()
    backend = {
        "AIRFLOW__SECRETS__BACKEND": "bookspot_devkit.secrets_dir.DirectorySecretsBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_dir": str(night.connections_folder)}),
    }
    argv = [sys.executable, "-m", "bookspot_tripletex", "activation-check", "--date", str(day)]
    argv += ["--staging-url", staging_url]

    def check(chunk: list[str]) -> None:
        command = argv + [arg for tenant in chunk for arg in ("--tenant", tenant)]
        proc = subprocess.run(command, env={**env, **backend}, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"onboarding failed:\n{(proc.stdout + proc.stderr)[-3000:]}")

    before = emulator_calls(night.emulator_url)
    started = time.perf_counter()
    chunks = [tenants[i : i + ONBOARD_CHUNK] for i in range(0, len(tenants), ONBOARD_CHUNK)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(check, chunks))
    took = time.perf_counter() - started
    return {"calls": emulator_calls(night.emulator_url) - before, "seconds": took, "processes": len(chunks)}


def report_onboarding(onboarding: dict[str, Any], tenants: int) -> None:
    calls = sum(onboarding["calls"].values())
    print(f"onboarding (activation-check, once per new tenant): {calls} Tripletex calls "
          f"({calls / tenants:.2f} per tenant) in {onboarding['seconds']:.0f} s, "
          f"{onboarding['processes']} process(es): "
          + ", ".join(f"{k} x{v}" for k, v in onboarding["calls"].most_common()), flush=True)  # fmt: skip


# ------------------------------------------------------------------------------------------ probe


def probe_lookups(
    cluster: AirflowCluster, metadata: Any, counters: Counters, conn_ids: list[str], timeout: float
) -> dict[str, Any]:
    """What a connection look-up costs: the probe DAG's task looks up none, then K connections, then each
    of them twice; Airflow's CPU (scheduler, dag-processor, API server, task processes) over each run, and
    the differences per look-up."""
    runs = []
    for done, ids in enumerate(([], conn_ids, conn_ids + conn_ids), start=1):
        before = counters.snapshot()
        run_id = cluster.trigger(None, dag_id=PROBE_ID, conf={"conn_ids": ids})
        cluster.wait_runs(metadata, done, timeout, dag_id=PROBE_ID)
        counted = counters.since(before)
        task = [v["value"] for v in cluster.return_values(run_id, dag_id=PROBE_ID)]
        cpu = counted["cpu_s"]
        runs.append(
            {
                "lookups": len(ids),
                "api_lookups": counted["lookups"],
                "airflow_cpu_s": sum(cpu[k] for k in (*AIRFLOW_PARTS, "tasks")),
                "api_server_cpu_s": cpu["api-server"],
                "in_task": task[0] if task and isinstance(task[0], dict) else {},
            }
        )
    none, first, twice = runs
    k = max(1, len(conn_ids))
    return {
        "k": len(conn_ids),
        "runs": runs,
        "first_s": (first["airflow_cpu_s"] - none["airflow_cpu_s"]) / k,
        "again_s": (twice["airflow_cpu_s"] - first["airflow_cpu_s"]) / k,
        "first_in_task_s": float(first["in_task"].get("cpu_s", 0)) / k,
    }


def report_probe(probe: dict[str, Any], lookups_per_tenant_day: float) -> None:
    print()
    print(f"== connection look-ups: a probe task looks up {probe['k']} of the tenants' connections")
    for run in probe["runs"]:
        task = run["in_task"]
        print(f"  {run['lookups']:>6} look-ups ({run['api_lookups']} at the API server): Airflow CPU "
              f"{run['airflow_cpu_s']:.1f} s (api-server {run['api_server_cpu_s']:.1f} s), in the task "
              f"{task.get('cpu_s', float('nan')):.1f} s CPU, "
              f"{task.get('wall_s', float('nan')):.1f} s")  # fmt: skip
    first, again = probe["first_s"], probe["again_s"]
    print(f"one look-up: {1000 * first:.1f} ms CPU the first time in a process "
          f"({1000 * probe['first_in_task_s']:.1f} ms of it in the task), "
          f"{1000 * again:.1f} ms again")  # fmt: skip
    if lookups_per_tenant_day:  # a tenant's BookSpot and Tripletex connections first, the rest again
        cost = 2 * first + max(0.0, lookups_per_tenant_day - 2) * again
        print(f"at {lookups_per_tenant_day:.2f} look-ups per tenant-day (the first night), two of them "
              f"first in their process: about {cost:.3f} CPU s per tenant-day")  # fmt: skip
    else:
        print(f"the night's look-ups did not reach the API server (the workers' secrets backend): two first "
              f"look-ups a tenant-day, about {2 * first:.3f} CPU s per tenant-day")  # fmt: skip


# ------------------------------------------------------------------------------------------ main


def dags_folder(work: Path, probe: bool) -> Path:
    """The nightly DAG's file (linked), and the probe DAG when asked for."""
    folder = work / "dags"
    folder.mkdir()
    (folder / f"{DAG_ID}.py").symlink_to(ROOT / "dags" / f"{DAG_ID}.py")
    if probe:
        (folder / f"{PROBE_ID}.py").write_text(PROBE_DAG, encoding="utf-8")
    return folder


def phases_of(args: argparse.Namespace, cluster: AirflowCluster, first: dt.date, params: dict) -> list[Phase]:
    """The import as one run or a backfill; or the nights, one run each."""

    def night_of(day: dt.date) -> Callable[[], object]:
        return lambda: cluster.trigger(f"{day.isoformat()}T00:00:00+01:00", conf=params)

    def backfill() -> object:  # logical dates in [from, to): the Oslo midnights starting first..NIGHT
        body = {
            "dag_id": DAG_ID,
            "from_date": f"{first - dt.timedelta(days=1)}T12:00:00Z",
            "to_date": f"{NIGHT}T12:00:00Z",
            "max_active_runs": args.max_active_runs,
            "reprocess_behavior": "none",
            "dag_run_conf": params,
        }
        return cluster.api("POST", "backfills", body)

    if args.initial_import:
        days = args.initial_import
        by_backfill = args.import_as == "backfill"
        start = backfill if by_backfill else night_of(NIGHT)
        return [Phase(f"initial import as {args.import_as}", 1, days, start, days if by_backfill else 1)]
    return [
        Phase("first night" if n == 0 else "later night", args.tenants, 1, night_of(first + dt.timedelta(n)))
        for n in range(max(1, args.nights))
    ]


def run(args: argparse.Namespace) -> bool:
    """Every phase through one cluster; True when every run succeeded and every voucher count agreed."""
    from bookspot_devkit.simulator.generator import tenant_ids

    importing = bool(args.initial_import)
    count = 1 if importing else args.tenants
    tenants = tenant_ids(count)
    first = NIGHT - dt.timedelta(days=(args.initial_import if importing else max(1, args.nights)) - 1)
    shard_size = args.shard_size or default_shard_size(count, args.parallelism)
    stamp = time.perf_counter()
    figures: list[dict[str, Any]] = []
    ok = True
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bookspot-scale-")))
        metadata_url = stack.enter_context(scratch_database(args.pg_url, "bench_airflow"))
        staging_url = stack.enter_context(scratch_database(args.pg_url, "bench_staging"))
        served_to = NIGHT if importing else first
        night = local_night(work / "data", tenants, first, served_to, args.transactions_per_day, SEED)
        import_tenants(staging_url, night.tenant_files, first)
        folder = dags_folder(work, args.probe_lookups > 0)
        env = airflow_env(
            work / "airflow",
            metadata_url,
            ROOT,
            parallelism=args.parallelism,
            extra=night.airflow_env(staging_url, args.connections)
            | {"AIRFLOW__CORE__DAGS_FOLDER": str(folder)},
        )
        cluster = stack.enter_context(AirflowCluster(env))
        print(f"set-up: {count} tenant(s), shards of {shard_size}, staging and metadata on PostgreSQL, "
              f"connections in the {args.connections}",
              flush=True)  # fmt: skip
        cluster.cli("db", "migrate", timeout=600)
        imported = time.perf_counter()
        if args.connections == "backend":
            connections = night.write_connections()
        else:
            connections = night.insert_connections(metadata_url)
        took = time.perf_counter() - imported
        print(f"{connections:,} connections into the {args.connections} in {took:.0f} s", flush=True)
        night.start_doubles(cluster, timeout=max(300, count / 10))
        onboarding = None
        if not args.no_onboarding:
            onboarding = onboard(env, night, staging_url, first, tenants)
            report_onboarding(onboarding, count)
        parse_s = parse_time(env)
        cluster.start_components()
        metadata = cluster.metadata()
        stack.callback(metadata.dispose)
        cluster.wait_api(300)
        cluster.wait_dag(metadata, 300)
        pool = getattr(importlib.import_module("bookspot_tripletex.tasks"), "POOL", None)
        if pool:
            cluster.ensure_pool(pool, args.parallelism)
        cluster.unpause()
        if args.probe_lookups:
            cluster.wait_dag(metadata, 300, dag_id=PROBE_ID)
            cluster.unpause(PROBE_ID)
        print(f"ready after {time.perf_counter() - stamp:.0f} s", flush=True)

        roots = {name: proc.pid for name, proc in cluster.processes.items()}
        roots["postgres"] = postmaster_pid(metadata)
        counters = Counters(cluster, night, roots)
        databases = [make_url(u).database for u in (metadata_url, staging_url)]
        sampler = BackendSampler(metadata, databases)
        sampler.start()
        stack.callback(sampler.stop)
        for n, phase in enumerate(phases_of(args, cluster, first, {"shard_size": shard_size})):
            if n:
                day = first + dt.timedelta(days=n)
                added = night.add_day(day, tenants, args.transactions_per_day, SEED)
                print(f"{added:,} BookSpot records of {day} arrived in the simulator", flush=True)
            fig = run_phase(phase, cluster, metadata, counters, staging_url, night, args.timeout)
            ok = report_phase(fig) and not fig["timed_out"] and set(fig["run_states"]) == {"success"} and ok
            figures.append(fig)
        print(f"\nDAG file parse: {', '.join(f'{s:.3f}' for s in parse_s)} s (three parses in one process); "
              f"our databases' backends >= {sampler.stop():.0f} CPU s over the nights")  # fmt: skip
        probe = None
        if args.probe_lookups:
            ids = sorted(night.connections)
            chosen = ids[:: max(1, len(ids) // args.probe_lookups)][: args.probe_lookups]
            probe = probe_lookups(cluster, metadata, counters, chosen, args.timeout)
            report_probe(probe, figures[0]["lookups"] / (figures[0]["tenants"] * figures[0]["days"]))
        print(f"{psutil.cpu_count()} cores, parallelism {args.parallelism}, shards of {shard_size}; "
              f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")  # fmt: skip
        if args.json:
            record = {
                **vars(args),
                "shard_size": shard_size,
                "parse_s": parse_s,
                "phases": figures,
                "probe": probe,
                "onboarding": onboarding,
            }
            args.json.write_text(json.dumps(record, default=str, indent=1))
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        ok = run(args)
    except KeyboardInterrupt:
        print("interrupted: processes stopped, databases dropped", file=sys.stderr)
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
