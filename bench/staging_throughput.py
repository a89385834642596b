"""Staging throughput: a JSON Lines initial import of many tenants through stage → map → journal → validate.

The shape ("one night of many tenants"): T tenants' BookSpot exports of one period (every version of every
record, with late updates, voids and a few malformed records that are corrected later) are staged, one
database transaction per tenant as `pipeline.stage_tenant` does; then for each tenant the night's day
(the last day of the period) is mapped (sql/journal_lines.sql), journaled (draft voucher saved) and
validated (Great Expectations suites, the report stored in staging): `validate_each` calls
pipeline.validate_day once per tenant-day (GX imported once for the phase; a task per tenant-day pays
the import, column "imports s", on top of each), `validate` validates all tenant-days in one
pipeline.validate_days batch (one GX run per suite).

Every phase runs in its own process, so its peak RSS (ru_maxrss, interpreter and imports included) is its
own. The input is generated once into .work/bench/ (git-ignored) and reused.

Run: .venv/bin/python bench/staging_throughput.py [--transactions 1000000] [--databases sqlite,postgresql]
     [--tenants T] [--workers 2] [--repeat 1] [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
Quick check: .venv/bin/python bench/staging_throughput.py --transactions 20000
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devkit")]

WORK = ROOT / ".work" / "bench"
NIGHT = dt.date(2026, 11, 24)
SEED = 7
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
PHASES = ("stage", "map", "journal", "validate_each", "validate")
# Per-transaction rates: 2 % re-appear with a changed amount, 0.5 % voided later, 0.16 % malformed of
# which 80 % are corrected later (quarantine, then release).
KNOBS = {
    "late_updates": 0.02,
    "voids": 0.005,
    "corrections": 0.8,
    "line_vat_wrong": 0.0005,
    "lines_sum_mismatch": 0.0005,
    "missing_field": 0.0003,
    "wrong_type": 0.0002,
    "wrong_currency": 0.0001,
}


# ------------------------------------------------------------------------------------------ input


def plan_input(transactions: int, tenants: int | None) -> dict[str, Any]:
    """Tenants (10,000 transactions each, 1..100) and the days back from NIGHT that give ~N transactions."""
    from bookspot_devkit.simulator.generator import tenant_ids, tenant_profile

    count = tenants or max(1, min(100, round(transactions / 10_000)))
    ids = tenant_ids(count)
    per_day = sum(tenant_profile(t, SEED).transactions_per_day for t in ids)
    days = max(1, math.ceil(transactions / per_day))
    date_from = NIGHT - dt.timedelta(days=days - 1)
    name = f"bookspot-{transactions}tx-{count}t-s{SEED}"
    return {"name": name, "tenants": ids, "date_from": date_from.isoformat(), "night": NIGHT.isoformat()}


def ensure_input(plan: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Generate the JSON Lines file once; its sidecar holds counts and each tenant's byte range."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{plan['name']}.jsonl"
    meta_path = path.with_suffix(".meta.json")
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    from bookspot_devkit.simulator.export import write_jsonl

    started = time.perf_counter()
    print(f"generating {path.name} (once) ...", flush=True)
    write_jsonl(path, plan["tenants"], plan["date_from"], plan["night"], SEED, **KNOBS)
    meta = {**plan, "knobs": KNOBS, **_scan(path)}
    meta["generate_s"] = round(time.perf_counter() - started, 1)
    meta_path.write_text(json.dumps(meta, indent=1))
    return path, meta


def _scan(path: Path) -> dict[str, Any]:
    import msgspec

    decode = msgspec.json.Decoder().decode
    ranges: dict[str, list[int]] = {}
    ids: set[tuple[str, str]] = set()
    records = lines = 0
    offset = 0
    with path.open("rb") as fh:
        for text in fh:
            record = decode(text)
            tenant = record["account_id"]
            span = ranges.setdefault(tenant, [offset, offset])
            offset += len(text)
            span[1] = offset
            records += 1
            ids.add((tenant, str(record.get("id"))))
            lines += len(record.get("lines") or ())
    return {"records": records, "transactions": len(ids), "lines": lines, "bytes": offset, "ranges": ranges}


def read_range(path: Path, start: int, end: int) -> Iterator[Any]:
    """One tenant's part of the export, as `JsonlFileSource` reads it."""
    from bookspot_tripletex.feed.source import JsonlFileSource

    return JsonlFileSource(path, start, end).iter_records()


def tenant_configs(meta: dict[str, Any]) -> list[Any]:
    from bookspot_tripletex.tenants.config import MappingVersion, load_tenant_file

    demo = load_tenant_file(ROOT / "demo" / "fjord-kayak.yaml")
    start = dt.date.fromisoformat(meta["date_from"])
    mapping = MappingVersion(start, dict(demo.mappings[0].accounts), dict(demo.mappings[0].vat_types))
    return [
        dataclasses.replace(
            demo,
            tenant=t,
            name=f"Bench {t}",
            start_date=start,
            mappings=(mapping,),
            tripletex_company_id=demo.tripletex_company_id + i,
        )
        for i, t in enumerate(meta["tenants"])
    ]


# ------------------------------------------------------------------------------------------ phases


def _engine(url: str) -> Any:
    from bookspot_tripletex.staging.db import make_engine

    return make_engine(url)


def phase_setup(url: str, meta: dict[str, Any]) -> dict[str, Any]:
    from bookspot_tripletex.staging.db import migrate
    from bookspot_tripletex.tenants.store import import_tenant

    engine = _engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for cfg in tenant_configs(meta):
            import_tenant(conn, cfg)
    engine.dispose()
    return {"rows": len(meta["tenants"])}


def _stage_tenants(url: str, path: Path, meta: dict[str, Any], tenants: list[str]) -> dict[str, Any]:
    from bookspot_tripletex.staging.stage import StageResult, stage_records
    from bookspot_tripletex.tenants.store import load_tenant

    engine = _engine(url)
    total = StageResult()
    for tenant_id in tenants:
        start, end = meta["ranges"][tenant_id]
        with engine.begin() as conn:
            tenant = load_tenant(conn, tenant_id)
            total.merge(stage_records(conn, tenant, read_range(path, start, end)))
    out = total.as_dict()
    out["days"] = len(out["days"])
    out["server_cpu_s"] = _server_cpu(engine)
    engine.dispose()
    own = resource.getrusage(resource.RUSAGE_SELF)
    out["writer_cpu_s"] = own.ru_utime + own.ru_stime
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def _server_cpu(engine: Any) -> float:
    """CPU seconds of this process's PostgreSQL backend (the pool keeps one connection), else 0."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase_stage(url: str, path: Path, meta: dict[str, Any], workers: int) -> dict[str, Any]:
    """Stage every tenant's export; `workers` processes take tenants in turn (Airflow's mapped tasks)."""
    tenants = list(meta["tenants"])
    if workers <= 1:
        out = _stage_tenants(url, path, meta, tenants)
        out.pop("maxrss_kb")
        # On SQLite a file's chunks are prepared by forked children (staging.children): the largest
        # one's peak counted in full, although most of its pages are the parent's, shared.
        extra_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    else:
        from concurrent.futures import ProcessPoolExecutor

        # Biggest exports first, dealt round-robin, so the workers finish together.
        tenants.sort(key=lambda t: meta["ranges"][t][0] - meta["ranges"][t][1])
        shares = [tenants[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            parts = list(
                pool.map(_stage_tenants, [url] * workers, [path] * workers, [meta] * workers, shares)
            )
        out = {k: sum(p[k] for p in parts) for k in parts[0] if k != "maxrss_kb"}
        out["days"] = max(p["days"] for p in parts)
        extra_rss = sum(p["maxrss_kb"] for p in parts)
    out["rows"] = meta["records"]
    out["extra_rss_kb"] = extra_rss
    return out


def phase_map(url: str, meta: dict[str, Any]) -> dict[str, Any]:
    from bookspot_tripletex.journal.build import journal_lines
    from bookspot_tripletex.staging.day_mapping import mapping_for_day

    engine = _engine(url)
    rows = 0
    with engine.connect() as conn:
        for tenant_id in meta["tenants"]:
            mapping = mapping_for_day(conn, tenant_id, NIGHT)
            assert mapping is not None
            rows += len(journal_lines(conn, tenant_id, NIGHT, mapping.id))
    engine.dispose()
    return {"rows": rows}


def phase_journal(url: str, meta: dict[str, Any]) -> dict[str, Any]:
    from bookspot_tripletex.pipeline import journal_day

    engine = _engine(url)
    statuses: dict[str, int] = {}
    transactions = 0
    for tenant_id in meta["tenants"]:
        out = journal_day(engine, tenant_id, NIGHT)
        statuses[out["status"]] = statuses.get(out["status"], 0) + 1
        transactions += out.get("transactions", 0)
    engine.dispose()
    return {"rows": transactions, "statuses": statuses}


def phase_validate(url: str, meta: dict[str, Any], batch: bool) -> dict[str, Any]:
    """Every tenant's night validated and reported: in one batch, or one tenant-day per call."""
    import logging

    from bookspot_tripletex.pipeline import validate_day, validate_days

    logging.disable(logging.WARNING)
    engine = _engine(url)
    if batch:
        outs = validate_days(engine, [(t, NIGHT) for t in meta["tenants"]], run_id="bench-batch")
    else:
        outs = [validate_day(engine, t, NIGHT, run_id="bench-each") for t in meta["tenants"]]
    statuses: dict[str, int] = {}
    for out in outs:
        statuses[out["status"]] = statuses.get(out["status"], 0) + 1
    engine.dispose()
    return {"rows": len(meta["tenants"]), "statuses": statuses}


def run_phase(args: argparse.Namespace) -> None:
    """Child process: run one phase, print its figures as the last line of JSON."""
    path = Path(args.input)
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    before = time.perf_counter()
    import bookspot_tripletex.pipeline  # noqa: F401
    import bookspot_tripletex.staging.stage  # noqa: F401

    if args.phase.startswith("validate"):
        from bookspot_tripletex.validation.run import gx_runtime

        gx_runtime()
    started = time.perf_counter()
    imports_s = started - before
    if args.phase == "setup":
        out = phase_setup(args.url, meta)
    elif args.phase == "stage":
        out = phase_stage(args.url, path, meta, args.workers)
    elif args.phase == "map":
        out = phase_map(args.url, meta)
    elif args.phase == "journal":
        out = phase_journal(args.url, meta)
    else:
        out = phase_validate(args.url, meta, batch=args.phase == "validate")
    out["seconds"] = time.perf_counter() - started
    out["imports_s"] = imports_s
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    out["cpu_s"] = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    out["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + out.pop("extra_rss_kb", 0)
    print(json.dumps(out))


# ------------------------------------------------------------------------------------------ driver


def child(phase: str, url: str, path: Path, workers: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--url", url, "--input", str(path)]
    cmd += ["--workers", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"phase {phase} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Database:
    """A fresh staging database per run: a SQLite file under .work/bench or a PostgreSQL database."""

    def __init__(self, kind: str, pg_url: str) -> None:
        self.kind = kind
        self.pg_url = pg_url
        self.name = f"bench_staging_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = ""

    def __enter__(self) -> Database:
        if self.kind == "sqlite":
            self.file = WORK / f"{self.name}.db"
            self.url = f"sqlite:///{self.file}"
            return self
        from sqlalchemy import create_engine, text

        self.admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = self.admin.url.set(database=self.name).render_as_string(hide_password=False)
        return self

    def size_mb(self) -> float:
        if self.kind == "sqlite":
            return sum(p.stat().st_size for p in WORK.glob(f"{self.name}.db*")) / 2**20
        from sqlalchemy import text

        with self.admin.connect() as conn:
            return conn.execute(text(f"SELECT pg_database_size('{self.name}')")).scalar_one() / 2**20

    def __exit__(self, *exc: object) -> None:
        if self.kind == "sqlite":
            for p in WORK.glob(f"{self.name}.db*"):
                p.unlink()
            return
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def run_database(kind: str, args: argparse.Namespace, path: Path) -> list[dict[str, Any]]:
    runs = []
    for n in range(args.repeat):
        with Database(kind, args.pg_url) as db:
            child("setup", db.url, path, 1)
            run: dict[str, Any] = {}
            for phase in args.phases:
                workers = args.workers if phase == "stage" and kind == "postgresql" else 1
                run[phase] = child(phase, db.url, path, workers)
                run[phase]["workers"] = workers
                print(f"  {kind:10s} run {n + 1}: {phase:8s} {run[phase]['seconds']:7.2f} s", flush=True)
            run["size_mb"] = db.size_mb()
        runs.append(run)
    return runs


def report(kind: str, runs: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    print(f"\n{kind}: {meta['records']:,} records ({meta['transactions']:,} transactions, "
          f"{meta['lines']:,} lines, {meta['bytes'] / 2**20:,.0f} MiB), {len(meta['tenants'])} tenants, "
          f"night {meta['night']}; median of {len(runs)} run(s) (min..max)")  # fmt: skip
    head = ("phase", "seconds", "peak RSS MiB", "rows", "rows/s", "CPU s", "imports s")
    print("{:13s} {:>22s} {:>14s} {:>11s} {:>11s} {:>7s} {:>9s}".format(*head))
    total = []
    phases = [p for p in PHASES if p in runs[0]]
    for phase in phases:
        secs = [r[phase]["seconds"] for r in runs]
        rss = max(r[phase]["peak_rss_kb"] for r in runs) / 1024
        rows = runs[0][phase]["rows"]
        med = statistics.median(secs)
        span = f"{med:7.2f} ({min(secs):6.2f}..{max(secs):6.2f})"
        cpu = statistics.median(r[phase]["cpu_s"] + r[phase].get("server_cpu_s", 0.0) for r in runs)
        imports = statistics.median(r[phase]["imports_s"] for r in runs)
        print(
            f"{phase:13s} {span:>22s} {rss:14.0f} {rows:11,d} {rows / med:11,.0f} {cpu:7.1f} {imports:9.1f}"
        )
    for r in runs:
        total.append(sum(r[p]["seconds"] for p in phases))
    print(f"{'total':13s} {statistics.median(total):7.2f} ({min(total):6.2f}..{max(total):6.2f})")
    stage = runs[0]["stage"]
    detail = {
        k: stage[k] for k in ("staged", "quarantined", "released", "stale", "corrections") if k in stage
    }
    detail["server CPU s"] = round(stage.get("server_cpu_s", 0.0), 1)
    if stage["workers"] == 1:  # the staging process's own CPU; the rest is its children's (SQLite: preparing)
        detail["writer CPU s"] = round(stage.get("writer_cpu_s", 0.0), 1)
    statuses = {p: runs[0][p]["statuses"] for p in ("journal", "validate_each", "validate") if p in runs[0]}
    size = runs[0]["size_mb"]
    print(f"stage ({stage['workers']} process(es)): {detail}; {statuses}; database {size:,.0f} MiB")


def _reachable(url: str) -> bool:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument(
        "--tenants", type=int, default=None, help="default: one per 10,000 transactions (max 100)"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--workers", type=int, default=2, help="staging processes on PostgreSQL (SQLite has one writer: 1)"
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--phases", default=",".join(PHASES), help="a prefix of " + ",".join(PHASES))
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", PG_URL))
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return
    args.phases = args.phases.split(",")
    if tuple(args.phases) != PHASES[: len(args.phases)]:
        parser.error(f"--phases must be a prefix of {','.join(PHASES)}")
    path, meta = ensure_input(plan_input(args.transactions, args.tenants))
    print(f"input {path} ({meta['records']:,} records, generated in {meta.get('generate_s', '?')} s)")
    results = {}
    for kind in args.databases.split(","):
        if kind == "postgresql" and not _reachable(args.pg_url):
            print(f"postgresql: skipped, no server at {args.pg_url} (set --pg-url or BENCH_DATABASE_URL)")
            continue
        results[kind] = run_database(kind, args, path)
    for kind, runs in results.items():
        report(kind, runs, meta)


if __name__ == "__main__":
    main()
