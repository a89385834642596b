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


def reports_export_dir() -> Path | None:
    """Where validation reports are also written as JSON and HTML files; None (the default): reports
    live in the staging database only."""
    folder = os.environ.get("BOOKSPOT_REPORTS_DIR")
    return Path(folder).resolve() if folder else None


def closed_period_text_match() -> bool:
    """Whether a refusal whose text names a closed period ("stengt", "closed", "låst periode") is read as
    one, the fallback when Tripletex's accounting periods could not be read beforehand:
    `BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH` (default on; `0`, `false`, `no` or `off` turns it off)."""
    value = os.environ.get("BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH", "1").strip().lower()
    return value not in ("0", "false", "no", "off")
