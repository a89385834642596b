"""The worked example staged once per test module in a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from bookspot_tripletex.staging.db import make_engine, migrate
from bookspot_tripletex.tenants.config import TenantConfig
from helpers import read_jsonl, setup_tenant, stage


@pytest.fixture(scope="module")
def example_db(
    tmp_path_factory: pytest.TempPathFactory, example_tenant_file: Path, example_feed: Path
) -> Iterator[tuple[Engine, TenantConfig]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('validation') / 'staging.db'}")
    migrate(engine)
    cfg = setup_tenant(engine, example_tenant_file)
    stage(engine, cfg, read_jsonl(example_feed))
    yield engine, cfg
    engine.dispose()


@pytest.fixture(scope="module")
def cfg(example_db: tuple[Engine, TenantConfig]) -> TenantConfig:
    return example_db[1]


@pytest.fixture(scope="module")
def conn(example_db: tuple[Engine, TenantConfig]) -> Iterator[Connection]:
    with example_db[0].connect() as connection:
        yield connection
