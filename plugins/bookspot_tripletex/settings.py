"""Run-time settings read from the environment (never secrets: those live in Airflow Connections)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed package: its `sql/` and `expectations/` are the project's top-level folders of that name."""


def data_dir() -> Path:
    """Where the embedded default keeps its files (staging SQLite, reports): `BOOKSPOT_DATA_DIR`, else
    `.data` in the working directory."""
    return Path(os.environ.get("BOOKSPOT_DATA_DIR", ".data")).resolve()


def staging_url() -> str:
    """SQLAlchemy URL of the staging database; SQLite in the data folder unless configured."""
    url = os.environ.get("BOOKSPOT_STAGING_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'staging.db'}"


def reports_dir() -> Path:
    return Path(os.environ.get("BOOKSPOT_REPORTS_DIR", data_dir() / "reports")).resolve()
