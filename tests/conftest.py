"""Shared fixtures: an isolated Airflow home, and staging databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from helpers import data_path

# Timing is not what the property tests check; a loaded 2-core CI machine must not make them flaky.
settings.register_profile("project", deadline=None)
settings.load_profile("project")

ROOT = Path(__file__).resolve().parents[1]

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="bookspot-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["BOOKSPOT_DATA_DIR"] = str(Path(_AIRFLOW_HOME) / "data")
os.environ["TQDM_DISABLE"] = "1"
os.environ.pop("BOOKSPOT_STAGING_URL", None)


@pytest.fixture(scope="session")
def example_feed() -> Path:
    return data_path("bookspot-transactions.example.jsonl")


@pytest.fixture(scope="session")
def example_tenant_file() -> Path:
    return data_path("fjord-kayak.example.yaml")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: TEST_DATABASE_URL is not set")
        pytest.skip("no PostgreSQL: set TEST_DATABASE_URL or run through `make test`")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def staging_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated staging database URL on each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'staging.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    database = f"staging_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    url = admin.url.set(database=database).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def staging_engine(staging_url: str):  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.db import make_engine, migrate

    engine = make_engine(staging_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def tripletex():  # type: ignore[no-untyped-def]
    """One Tripletex emulator (the demo-shaped company) over real HTTP for the session; tests reset it."""
    from bookspot_devkit.emulator.server import EmulatorServer
    from tripletex_support import emulator_config

    with EmulatorServer(emulator_config()) as server:
        yield server
