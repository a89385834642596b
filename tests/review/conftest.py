"""The Airflow API server in-process (core app with its plugins, the simple auth manager with an admin
and a viewer), over the nights of `review_support` in SQLite or PostgreSQL staging."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bookspot_devkit.emulator.server import EmulatorServer
from review_support import airflow_token, seed_two_nights, write_feed

USERS = "admin:admin,viewer:viewer"


def sync_dags() -> None:
    """The nightly DAG serialized into the metadata DB, as the DAG processor would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    from fastapi.testclient import TestClient

    home = tmp_path_factory.mktemp("review-api")
    passwords = home / "passwords.json"
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from airflow.utils import db

    db.resetdb()
    sync_dags()
    purge_cached_app()
    with TestClient(create_app("core"), base_url="http://127.0.0.1") as client:
        yield client, passwords
    purge_cached_app()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def nights(
    api: tuple[object, Path],
    staging_engine,  # type: ignore[no-untyped-def]
    staging_url: str,
    tripletex: EmulatorServer,
    example_tenant_file: Path,
    example_feed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    tripletex.reset()
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    monkeypatch.setenv("BOOKSPOT_REPORTS_DIR", str(tmp_path / "reports"))
    feed = write_feed(example_feed, tmp_path / "feed.jsonl")
    seed_two_nights(staging_engine, example_tenant_file, feed, tripletex, tmp_path / "reports")
    return staging_engine


@pytest.fixture
def admin(api: tuple[object, Path]) -> dict[str, str]:
    client, passwords = api
    return {"Authorization": f"Bearer {airflow_token(client, 'admin', passwords)}"}


@pytest.fixture
def viewer(api: tuple[object, Path]) -> dict[str, str]:
    client, passwords = api
    return {"Authorization": f"Bearer {airflow_token(client, 'viewer', passwords)}"}
