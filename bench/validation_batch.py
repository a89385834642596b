"""Validation at scale: Great Expectations' cost per process, and N tenant-days one by one vs one batch.

Figures printed:
- GX import per process: `import great_expectations` in a fresh interpreter (CPU and wall seconds), and
  creating the ephemeral context (validation.run.gx_runtime), median of 3 processes;
- a task per tenant-day (the shape before batching): a fresh process imports GX, creates the context and
  validates one tenant-day; median of 3, times N;
- one by one in one process (context cached): validation.run.validate_day for each tenant-day;
- one batch: validation.batch.validate_journals over all N (one GX run per suite), and a check that
  every tenant-day's result equals its one-by-one result.

The tenant-days are the night of the simulated tenants of bench/staging_throughput.py (the same input
file), staged into a SQLite file and journaled first.

Run: .venv/bin/python bench/validation_batch.py [--tenants 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devkit"), str(ROOT / "bench")]

from staging_throughput import NIGHT, WORK, ensure_input, plan_input, read_range, tenant_configs  # noqa: E402

IMPORT_PROBE = """
import json, sys, time
sys.path[:0] = {paths!r}
t0, c0 = time.perf_counter(), time.process_time()
import great_expectations
t1, c1 = time.perf_counter(), time.process_time()
from bookspot_tripletex.validation.run import gx_runtime
gx_runtime()
t2, c2 = time.perf_counter(), time.process_time()
figures = {{"import_s": t1 - t0, "import_cpu_s": c1 - c0}}
print(json.dumps({{**figures, "context_s": t2 - t1, "context_cpu_s": c2 - c1}}))
"""

TASK_PROBE = """
import datetime as dt, json, logging, sys, time
sys.path[:0] = {paths!r}
logging.disable(logging.WARNING)
t0, c0 = time.perf_counter(), time.process_time()
from bookspot_tripletex.staging.db import make_engine
from bookspot_tripletex.validation.store import stored_journal
from bookspot_tripletex.tenants.store import load_tenant
from bookspot_tripletex.validation.run import validate_day
engine = make_engine({url!r})
with engine.connect() as conn:
    journal = stored_journal(conn, {tenant!r}, dt.date.fromisoformat({day!r}))
    validate_day(conn, load_tenant(conn, {tenant!r}), journal)
print(json.dumps({{"task_s": time.perf_counter() - t0, "task_cpu_s": time.process_time() - c0}}))
"""


def probe(code: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def prepare(url: str, tenants: int) -> list[str]:
    """Stage the simulated tenants' export and journal their night; the tenant ids."""
    from bookspot_tripletex.pipeline import journal_day
    from bookspot_tripletex.staging.db import make_engine, migrate
    from bookspot_tripletex.staging.stage import stage_records
    from bookspot_tripletex.tenants.store import import_tenant

    path, meta = ensure_input(plan_input(tenants * 300, tenants))
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for cfg in tenant_configs(meta):
            import_tenant(conn, cfg)
            start, end = meta["ranges"][cfg.tenant]
            stage_records(conn, cfg, read_range(path, start, end))
    for tenant in meta["tenants"]:
        journal_day(engine, tenant, NIGHT)
    engine.dispose()
    return list(meta["tenants"])


def comparable(result: Any) -> dict[str, Any]:
    return {k: v for k, v in result.as_dict().items() if k not in ("validated_at", "duration_s")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    paths = [str(ROOT / "plugins"), str(ROOT / "devkit")]
    WORK.mkdir(parents=True, exist_ok=True)
    db = WORK / f"bench_validation_{uuid.uuid4().hex[:6]}.db"
    url = f"sqlite:///{db}"
    try:
        tenants = prepare(url, args.tenants)
        imports = median_of([probe(IMPORT_PROBE.format(paths=paths)) for _ in range(3)])
        task = median_of(
            [
                probe(TASK_PROBE.format(paths=paths, url=url, tenant=tenants[0], day=NIGHT.isoformat()))
                for _ in range(3)
            ]
        )

        from bookspot_tripletex.staging.db import make_engine
        from bookspot_tripletex.tenants.store import load_tenant
        from bookspot_tripletex.validation.batch import validate_journals
        from bookspot_tripletex.validation.run import gx_runtime, validate_day
        from bookspot_tripletex.validation.store import stored_journal

        gx_runtime()
        engine = make_engine(url)
        with engine.connect() as conn:
            items = [(load_tenant(conn, t), stored_journal(conn, t, NIGHT)) for t in tenants]
            items = [(t, j) for t, j in items if j is not None and j.voucher is not None]
            validate_day(conn, *items[0])  # warm: suites compiled, first-use costs paid
            t0, c0 = time.perf_counter(), time.process_time()
            alone = [validate_day(conn, t, j) for t, j in items]
            each_s, each_cpu = time.perf_counter() - t0, time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            batch = validate_journals(conn, items)
            batch_s, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
        engine.dispose()
        same = [comparable(a) for a in alone] == [comparable(b) for b in batch]
        n = len(items)
        lines = sum(len(j.lines) for _, j in items)
        failing = sum(not r.success for r in batch)
        print(f"{n} tenant-days ({lines:,} journal lines, {failing} failing validation); seconds wall / CPU")
        print(f"GX import per process          {imports['import_s']:7.2f} / {imports['import_cpu_s']:.2f}")
        print(f"GX context per process         {imports['context_s']:7.2f} / {imports['context_cpu_s']:.2f}")
        print(f"one task, one tenant-day        {task['task_s']:7.2f} / {task['task_cpu_s']:.2f}")
        print(f"  x {n} tasks                    {task['task_s'] * n:7.1f} / {task['task_cpu_s'] * n:.1f}")
        rows = (("one by one, context cached", each_s, each_cpu), ("one batch", batch_s, batch_cpu))
        for label, wall, cpu in rows:
            print(f"{label:30s} {wall:7.2f} / {cpu:.2f}  ({cpu / n:.3f} CPU-s per tenant-day)")
        print(f"batch results equal one-by-one: {same}")
    finally:
        for p in WORK.glob(f"{db.name}*"):
            p.unlink()


if __name__ == "__main__":
    main()
