"""CPU of a task instance's start-up, Airflow's part and ours, in fresh processes.

Each figure is the median CPU seconds (user + system, from the process's rusage) of `--runs` fresh Python
processes doing what a task process does before the task's work begins:

* `python`: the interpreter alone;
* `airflow`: `import airflow.sdk` and the task runner (`airflow.sdk.execution_time.task_runner`);
* `airflow + DAG`: and the DAG file parsed (a `DagBag` of `dags/bookspot_tripletex_nightly.py`), as the
  task runner parses it before it runs a task: Airflow's own start-up of one task instance;
* `+ <step>`: and `tasks` with that step's module (what a step task imports before its function runs;
  what a step imports while it runs is in its XCom's `cpu_s`);
* `+ pipeline`: and `tasks` with the whole pipeline and alerts (what the one `night` task per shard
  imported before the night was split into step tasks).

Run: .venv/bin/python bench/task_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = "import airflow.sdk; import airflow.sdk.execution_time.task_runner"
DAG = (
    "from airflow.dag_processing.dagbag import DagBag;"
    "bag = DagBag(dag_folder='dags/bookspot_tripletex_nightly.py');"
    "assert bag.dags, bag.import_errors"
)
STEPS = ("extract", "journal", "validate", "load", "reconcile")


def cases() -> dict[str, str]:
    out = {"python": "pass", "airflow": AIRFLOW, "airflow + DAG": f"{AIRFLOW}; {DAG}"}
    for step in STEPS:
        out[f"+ {step}"] = (
            f"{AIRFLOW}; {DAG}; import bookspot_tripletex.tasks; import bookspot_tripletex.steps.{step}"
        )
    out["+ pipeline"] = (
        f"{AIRFLOW}; {DAG}; import bookspot_tripletex.tasks; import bookspot_tripletex.pipeline;"
        " import bookspot_tripletex.alerts"
    )
    return out


def cpu_of(code: str) -> float:
    """CPU seconds of one fresh process running `code`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "dags")])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    figures = {
        name: statistics.median(cpu_of(code) for _ in range(args.runs)) for name, code in cases().items()
    }
    base = figures["airflow + DAG"]
    print(f"task start-up CPU, median of {args.runs} fresh process(es) (load average {load:.1f}):")
    for name, seconds in figures.items():
        extra = f"  (+{seconds - base:.2f} s ours)" if name.startswith("+") else ""
        print(f"  {name:<16} {seconds:6.2f} s{extra}")


if __name__ == "__main__":
    main()
