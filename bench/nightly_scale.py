"""A night of N tenants (or one tenant's initial import) through a real Airflow scheduler.

Everything is real and local: Airflow's scheduler, dag-processor and API server as separate processes
(LocalExecutor, `--parallelism` task slots), metadata and staging on PostgreSQL (two databases made on
`--pg-url` and dropped at the end), the BookSpot simulator serving every tenant's day over HTTP and the
Tripletex emulator holding one company per tenant, with Airflow connections per tenant (the simulator
demo's wiring). The run is started the way production starts one, through the REST API: a manual run of
the nightly DAG for the night (`--tenants N`); or, for `--initial-import D` days of one tenant whose start
date is the first of them, one manual run that takes every due day (`--import-as run`, the default) or a
backfill of a run per day (`--import-as backfill`, the way a DAG with a run per day imports).

Printed: wall time (first run queued → last run finished, from Airflow's metadata), task instances,
Tripletex calls per tenant-day (counted by the emulator), CPU seconds by component over the run (each
process tree's own and reaped children's CPU; PostgreSQL is the whole server, shared with whatever else
uses it, and, sampled, the backends of the run's two databases), the DAG file's parse time with the N
tenants imported, and where the task time went.

Run: .venv/bin/python bench/nightly_scale.py [--tenants 1000] [--transactions-per-day 100]
     .venv/bin/python bench/nightly_scale.py --initial-import 365 [--import-as run|backfill]
     [--shard-size S] [--parallelism 4] [--timeout 3600]
     [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

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
from bookspot_devkit.local_night import import_tenants, local_night  # noqa: E402

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
NIGHT = dt.date(2026, 11, 24)
SEED = 7
COMPONENTS = ("scheduler", "dag-processor", "api-server", "tasks", "emulator", "simulator", "postgres")
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
    parser.add_argument(
        "--initial-import", type=int, default=0, metavar="DAYS", help="one tenant, a backfill of DAYS days"
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
    parser.add_argument("--shard-size", type=int, default=None, help="BOOKSPOT_SHARD_SIZE for the DAG")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the runs may take")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


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


def run_figures(metadata: Any, staging_url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    with metadata.connect() as conn:
        span = conn.execute(
            text("SELECT min(queued_at), max(end_date), count(*) FROM dag_run WHERE dag_id = :d"),
            {"d": DAG_ID},
        ).one()
        states = dict(
            conn.execute(
                text("SELECT state, count(*) FROM task_instance WHERE dag_id = :d GROUP BY state"),
                {"d": DAG_ID},
            ).all()
        )
        retried = conn.execute(
            text("SELECT count(*) FROM task_instance WHERE dag_id = :d AND try_number > 1"), {"d": DAG_ID}
        ).scalar_one()
        per_task = conn.execute(
            text(
                "SELECT task_id, count(*), sum(duration), avg(duration),"
                " avg(extract(epoch FROM start_date - queued_dttm))"
                " FROM task_instance WHERE dag_id = :d GROUP BY task_id ORDER BY sum(duration) DESC"
            ),
            {"d": DAG_ID},
        ).all()
    staging = create_engine(staging_url)
    with staging.connect() as conn:
        vouchers = dict(conn.execute(text("SELECT status, count(*) FROM vouchers GROUP BY status")).all())
        staged = conn.execute(text("SELECT count(*) FROM transactions")).scalar_one()
    staging.dispose()
    return {
        "runs": span[2],
        "wall_s": (span[1] - span[0]).total_seconds() if span[1] else float("nan"),
        "task_instances": sum(states.values()),
        "task_states": {str(k): v for k, v in states.items()},
        "retried": retried,
        "tasks": [
            {"task": t, "n": n, "sum_s": float(s or 0), "avg_s": float(a or 0), "avg_queued_s": float(q or 0)}
            for t, n, s, a, q in per_task
        ],
        "vouchers": vouchers,
        "transactions": staged,
    }


def emulator_calls(url: str) -> Counter[str]:
    """Every call the emulator counted (all of them: the counter is not a bounded log)."""
    values = requests.get(f"{url}/_emulator/calls", timeout=60).json()["values"]
    return Counter({f"{v['method']} {v['path']}": v["count"] for v in values})


def report(args: argparse.Namespace, tenants: int, days: int, fig: dict[str, Any]) -> None:
    tenant_days = tenants * days
    calls = sum(fig["calls"].values())
    cpu = fig["cpu_s"]
    label = (
        f"1 tenant x {days} days (initial import as {args.import_as})"
        if args.initial_import
        else f"{tenants} tenants x 1 day"
    )
    if "timed out" in fig["run_states"]:
        posted = fig["vouchers"].get("posted", 0)
        label += f" (TIMED OUT after {fig['observed_s']:.0f} s: {posted} of {tenant_days} tenant-days posted)"
    print()
    staged = f"{fig['transactions']} transactions ({fig['transactions'] / tenant_days:.0f} per tenant-day)"
    print(f"runs: {fig['runs']}, task instances: {fig['task_instances']} {fig['task_states']}, "
          f"retried: {fig['retried']}, vouchers in staging: {fig['vouchers']}, staged: {staged}")  # fmt: skip
    print(f"Tripletex calls: {calls} ({calls / tenant_days:.2f} per tenant-day): " + ", ".join(
        f"{k} x{v}" for k, v in fig["calls"].most_common()))  # fmt: skip
    print("task time (sum of durations, avg duration, avg queued→started):")
    for t in fig["tasks"]:
        times = f"{t['sum_s']:9.1f} s  {t['avg_s']:6.2f} s  {t['avg_queued_s']:7.1f} s"
        print(f"  {t['task']:<32} n={t['n']:<6} {times}")
    print(f"DAG file parse: {', '.join(f'{s:.3f}' for s in fig['parse_s'])} s (three parses in one process)")
    print(f"trigger (REST API): {fig['trigger_s']:.1f} s; until the scheduler saw every run finish: "
          f"{fig['observed_s']:.1f} s")  # fmt: skip
    print(
        f"{label}: wall {fig['wall_s']:.0f} s, {fig['task_instances']} task instances, "
        f"{calls / tenant_days:.2f} Tripletex calls per tenant-day, parse {min(fig['parse_s']):.3f} s, "
        f"CPU s "
        + ", ".join(f"{k} {cpu[k]:.0f}" for k in COMPONENTS)
        + f" (of it our databases' backends >= {fig['postgres_ours_s']:.0f})"
        + f" (total {sum(cpu.values()):.0f}; {psutil.cpu_count()} cores, parallelism {args.parallelism};"
        f" load average {os.getloadavg()[0]:.1f} at the end)"
    )


# ------------------------------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bookspot_devkit.simulator.generator import tenant_ids

    days = args.initial_import or 1
    count = 1 if args.initial_import else args.tenants
    tenants = tenant_ids(count)
    first = NIGHT - dt.timedelta(days=days - 1)
    stamp = time.perf_counter()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bookspot-scale-")))
        metadata_url = stack.enter_context(scratch_database(args.pg_url, "bench_airflow"))
        staging_url = stack.enter_context(scratch_database(args.pg_url, "bench_staging"))
        shard_env = {"BOOKSPOT_SHARD_SIZE": str(args.shard_size)} if args.shard_size else {}
        night = local_night(work / "data", tenants, first, NIGHT, args.transactions_per_day, SEED)
        import_tenants(staging_url, night.tenant_files, first)
        env = airflow_env(
            work / "airflow",
            metadata_url,
            ROOT,
            parallelism=args.parallelism,
            extra=night.airflow_env(staging_url) | shard_env,
        )
        cluster = stack.enter_context(AirflowCluster(env))
        print(f"set-up: {count} tenant(s), {days} day(s), staging and metadata on PostgreSQL", flush=True)
        cluster.cli("db", "migrate", timeout=600)
        imported = time.perf_counter()
        connections = night.import_connections(cluster)
        print(f"{connections:,} connections imported in {time.perf_counter() - imported:.0f} s", flush=True)
        night.start_doubles(cluster)
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
        print(f"ready after {time.perf_counter() - stamp:.0f} s; triggering", flush=True)

        roots = {name: proc.pid for name, proc in cluster.processes.items()}
        roots["postgres"] = postmaster_pid(metadata)
        cpu_before = cpu_by_component(roots)
        databases = [make_url(u).database for u in (metadata_url, staging_url)]
        sampler = BackendSampler(metadata, databases)
        sampler.start()
        stack.callback(sampler.stop)
        started = time.perf_counter()
        backfill_runs = args.initial_import and args.import_as == "backfill"
        if backfill_runs:  # logical dates in [from, to): the Oslo midnights starting first..NIGHT
            backfill = {
                "dag_id": DAG_ID,
                "from_date": f"{first - dt.timedelta(days=1)}T12:00:00Z",
                "to_date": f"{NIGHT}T12:00:00Z",
                "max_active_runs": args.max_active_runs,
                "reprocess_behavior": "none",
            }
            cluster.api("POST", "backfills", backfill)
        else:
            cluster.trigger(f"{NIGHT.isoformat()}T00:00:00+01:00")
        trigger_s = time.perf_counter() - started
        try:
            states = cluster.wait_runs(metadata, days if backfill_runs else 1, args.timeout)
        except TimeoutError as exc:
            print(f"timed out: {exc}; figures so far follow", file=sys.stderr)
            states = {"timed out": 1}
        observed_s = time.perf_counter() - started
        cpu_after = cpu_by_component(roots)
        ours = sampler.stop()
        fig = run_figures(metadata, staging_url)
        fig.update(
            run_states=states,
            trigger_s=trigger_s,
            observed_s=observed_s,
            parse_s=parse_s,
            calls=emulator_calls(night.emulator_url),
            cpu_s={k: cpu_after[k] - cpu_before[k] for k in COMPONENTS},
            postgres_ours_s=ours,
        )
        if fig["runs"] != (days if backfill_runs else 1):
            print(f"warning: {fig['runs']} runs", file=sys.stderr)
        report(args, count, days, fig)
        if args.json:
            args.json.write_text(json.dumps({**vars(args), **fig}, default=str, indent=1))
    return fig


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        fig = run(args)
    except KeyboardInterrupt:
        print("interrupted: processes stopped, databases dropped", file=sys.stderr)
        return 130
    return 0 if set(fig["run_states"]) == {"success"} else 1


if __name__ == "__main__":
    sys.exit(main())
