"""The nightly DAG on CeleryExecutor, deployed as separate processes: its own scheduler, dag-processor, API
server (the workers' execution API) and two Celery workers, the broker the local Redis (else RabbitMQ),
Celery's results and Airflow's metadata in a PostgreSQL database of the test's own. One night of two
simulated tenants (a shard each), read over HTTP from the BookSpot simulator, is posted into the Tripletex
emulator."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from bookspot_devkit.airflow_cluster import DAG_ID, AirflowCluster, airflow_env, scratch_database
from bookspot_devkit.local_night import import_tenants, local_night
from bookspot_tripletex.tasks import POOL

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
TENANTS = ("fjord-kayak", "tenant-001")
DAY = dt.date(2026, 11, 24)
WORKERS = ("worker-a", "worker-b")
BROKERS = (("redis://127.0.0.1:6379/0", 6379), ("amqp://guest:guest@127.0.0.1:5672//", 5672))


def broker_url() -> str:
    """CELERY_BROKER_URL if set, else the first of Redis and RabbitMQ that answers on 127.0.0.1."""
    if os.environ.get("CELERY_BROKER_URL"):
        return os.environ["CELERY_BROKER_URL"]
    for url, port in BROKERS:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return url
    reason = "no Celery broker: neither Redis (127.0.0.1:6379) nor RabbitMQ (127.0.0.1:5672) answers"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the Celery test: {reason}")
    pytest.skip(reason)


def test_one_night_of_two_tenants_runs_on_both_celery_workers(postgres_url: str, tmp_path: Path) -> None:
    broker = broker_url()
    queue = f"bookspot-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        metadata_url = stack.enter_context(scratch_database(postgres_url, "celery_airflow"))
        staging_url = stack.enter_context(scratch_database(postgres_url, "celery_staging"))
        night = local_night(tmp_path / "data", TENANTS, DAY, DAY, transactions_per_day=20)
        import_tenants(staging_url, night.tenant_files, DAY)
        extra = {
            **night.airflow_env(staging_url),
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "BOOKSPOT_SHARD_SIZE": "1",
        }
        env = airflow_env(tmp_path / "airflow", metadata_url, ROOT, executor="CeleryExecutor", extra=extra)
        cluster = stack.enter_context(AirflowCluster(env))
        cluster.cli("db", "migrate", timeout=300)
        assert night.import_connections(cluster) == 2 * len(TENANTS)
        night.start_doubles(cluster, timeout=120)
        cluster.start_components()
        for name in WORKERS:
            cluster.start_celery_worker(name, queue)
        metadata = cluster.metadata()
        stack.callback(metadata.dispose)
        cluster.wait_dag(metadata, 180)
        cluster.wait_api(180)
        cluster.ensure_pool(POOL, len(WORKERS))
        cluster.unpause()
        cluster.trigger(f"{DAY.isoformat()}T00:00:00+01:00")
        states = cluster.wait_runs(metadata, 1, 420)
        with metadata.connect() as conn:
            tasks = conn.execute(
                text(
                    "SELECT task_id, map_index, state, hostname, queue FROM task_instance WHERE dag_id = :d"
                ),
                {"d": DAG_ID},
            ).all()
        held = {
            tenant: requests.get(
                f"{night.emulator_url}/_emulator/companies/{company}/vouchers", timeout=30
            ).json()["values"]
            for tenant, company in night.companies.items()
        }
        logs = "\n".join(f"--- {name}\n{cluster.log_tail(name, 1500)}" for name in ("scheduler", *WORKERS))

    assert states == {"success": 1}, (tasks, logs)
    steps = ("extract", "journal", "validate", "load", "reconcile")
    assert len(tasks) == 1 + len(steps) * len(TENANTS) + 1  # plan, a shard per tenant, finish
    assert {t.state for t in tasks} == {"success"}
    assert {t.queue for t in tasks} == {queue}
    assert {t.hostname for t in tasks} == set(WORKERS), tasks
    for tenant in TENANTS:
        assert [v["date"] for v in held[tenant]] == [DAY.isoformat()], tenant


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_without_a_broker_it_skips_with_the_reason_but_fails_in_ci(
    ci: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookspot_devkit.httpserver import free_port

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(sys.modules[__name__], "BROKERS", (("redis://127.0.0.1:1/0", free_port()),))
    with pytest.raises(outcome, match="neither Redis"):
        broker_url()
