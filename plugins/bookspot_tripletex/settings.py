"""Run-time settings read from the environment (never secrets: those live in Airflow Connections)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Where the embedded default keeps its files (staging SQLite, reports, Airflow home)."""
    return Path(os.environ.get("BOOKSPOT_DATA_DIR", PROJECT_ROOT / ".data")).resolve()


def staging_url() -> str:
    """SQLAlchemy URL of the staging database; SQLite in the data folder unless configured."""
    url = os.environ.get("BOOKSPOT_STAGING_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'staging.db'}"


def reports_export_dir() -> Path | None:
    """Where validation reports are also written as JSON and HTML files; None (the default): reports
    live in the staging database only."""
    folder = os.environ.get("BOOKSPOT_REPORTS_DIR")
    return Path(folder).resolve() if folder else None
