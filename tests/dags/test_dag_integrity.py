"""Every DAG file imports cleanly, quickly, with retries, tags and docs, and no work at parse time."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = sorted((Path(__file__).resolve().parents[2] / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS[0].parent))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert "bookspot_tripletex_nightly" in dagbag.dags


@pytest.mark.parametrize("dag_file", DAGS, ids=lambda p: p.name)
def test_dag_file_is_thin_and_fast(dag_file: Path) -> None:
    """Importing the DAG file (after Airflow itself) must not load GX, SQLAlchemy engines or requests."""
    code = (
        "import sys, time; sys.path[:0] = ['plugins', 'dags'];"
        "import airflow.sdk;"
        "loaded = set(sys.modules); t = time.process_time();"
        f"import {dag_file.stem};"
        "elapsed = time.process_time() - t;"
        "new = set(sys.modules) - loaded;"
        "heavy = sorted(m for m in new if m.split('.')[0] in {'great_expectations', 'pandas', 'requests',"
        " 'psycopg2', 'bookspot_tripletex'});"
        "print(elapsed); print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=DAGS[0].parents[1], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    elapsed, heavy = float(out[-2]), out[-1]
    assert heavy == "", f"{dag_file.name} imports {heavy} at parse time"
    assert elapsed < 0.5, f"{dag_file.name} took {elapsed:.2f}s of CPU to import"


def test_every_task_retries_with_backoff(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag in dagbag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md, f"{dag.dag_id} has no doc_md"
        for t in dag.tasks:
            assert t.retries >= 2, f"{dag.dag_id}.{t.task_id} has retries={t.retries}"
            assert t.retry_exponential_backoff, f"{dag.dag_id}.{t.task_id} retries without backoff"


def test_nightly_shape(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["bookspot_tripletex_nightly"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert set(dag.params.keys()) == {"tenants", "day", "dry_run", "shard_size"}
    schema = dag.params.get_param("shard_size").schema
    assert (schema["type"], schema["minimum"]) == ("integer", 1)
    steps = ["extract", "journal", "validate", "load", "reconcile"]
    assert {t.task_id for t in dag.tasks} == {"plan", "finish"} | {f"night.{s}" for s in steps}
    group = dag.task_group_dict["night"]
    assert type(group).__name__ == "MappedTaskGroup"
    previous = "plan"
    for step in steps:
        task = dag.get_task(f"night.{step}")
        assert task.get_closest_mapped_task_group() is group
        assert previous in task.upstream_task_ids and task.upstream_task_ids <= {"plan", previous}
        assert task.map_index_template == "{{ shard_label }}"
        assert task.trigger_rule == ("all_success" if step == "extract" else "all_done"), step
        assert task.pool == ("tripletex_api" if step in ("load", "reconcile") else "default_pool"), step
        previous = task.task_id
    finish = dag.get_task("finish")
    assert finish.upstream_task_ids == {"night.reconcile"} and finish.trigger_rule == "all_done"
    assert [t.task_id for t in dag.leaves] == ["finish"], "the run's state comes from its leaves"
    tz = getattr(dag.timetable, "_timezone", None) or getattr(dag.timetable, "timezone", None)
    assert "Oslo" in str(tz)


def test_the_ui_shows_the_schedule_in_oslo_time(dagbag) -> None:  # type: ignore[no-untyped-def]
    """What the UI's Schedule column and its tooltip show: the DAG's timetable as the scheduler stores it."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags["bookspot_tripletex_nightly"]
    stored = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag)).timetable
    assert (stored.summary, stored.description) == (
        "daily 00:00 Europe/Oslo",
        "At 00:00, Europe/Oslo time (each run covers one Europe/Oslo day)",
    )
    plain = coerce_to_core_timetable(dag.timetable)
    assert stored.next_dagrun_info(last_automated_data_interval=None, restriction=_everything()) == (
        type(plain)
        .__mro__[1]("0 0 * * *", "Europe/Oslo")
        .next_dagrun_info(last_automated_data_interval=None, restriction=_everything())
    )


def _everything():  # type: ignore[no-untyped-def]
    import pendulum
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=pendulum.datetime(2026, 3, 28, tz="UTC"), latest=None, catchup=True)


def test_shard_size_default_comes_from_the_deployment() -> None:
    code = (
        "import sys; sys.path[:0] = ['plugins', 'dags'];"
        "import bookspot_tripletex_nightly as m;"
        "print(m.bookspot_tripletex_nightly().params['shard_size'])"
    )
    env = {**os.environ, "BOOKSPOT_SHARD_SIZE": "7"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=DAGS[0].parents[1], capture_output=True, text=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "7", out.stderr[-2000:]


def test_no_airflow2_imports() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    root = DAGS[0].parents[1]
    result = subprocess.run(
        [str(ruff), "check", "--select", "AIR3", "--no-cache", "dags", "plugins"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
