"""Run-time settings read from the environment (never secrets: those live in Airflow Connections)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class FeedLimits(BaseSettings):
    """How much one feed line and one API page may hold; a line over a limit is quarantined, a page over
    its limit fails that tenant's extract. Read from `BOOKSPOT_FEED_MAX_DEPTH`, `…_MAX_LINE_BYTES` and
    `…_MAX_PAGE_BYTES`."""

    model_config = SettingsConfigDict(env_prefix="BOOKSPOT_FEED_", frozen=True)

    max_depth: int = Field(32, ge=4, le=512, description="nesting of arrays and objects in one record")
    max_line_bytes: int = Field(1 << 20, ge=1024, description="bytes of one record's JSON text")
    max_page_bytes: int = Field(64 << 20, ge=1 << 16, description="bytes of one API page's body")


_Settings = TypeVar("_Settings", bound=BaseSettings)


def feed_limits() -> FeedLimits:
    """The feed limits in force now."""
    return _in_force(FeedLimits)


def _in_force(model: type[_Settings]) -> _Settings:
    """`model` as its environment variables say now (built again only when one of them changed)."""
    prefix = model.model_config["env_prefix"]
    return _built(model, tuple(os.environ.get(f"{prefix}{name}".upper()) for name in model.model_fields))


@functools.lru_cache(maxsize=8)
def _built(model: type[_Settings], environment: tuple[str | None, ...]) -> _Settings:
    return model()


class StagingWorkers(BaseSettings):
    """How a JSON Lines file is staged (an initial import): `workers` child processes read, decode and
    check its chunks while this process writes them to the staging database (SQLite), for a range of at
    least `min_bytes`; 0 workers, a smaller range, a process bound to one CPU, PostgreSQL or any other
    source stage in this process.
    Read from `BOOKSPOT_STAGE_WORKERS` and `BOOKSPOT_STAGE_MIN_BYTES`."""

    model_config = SettingsConfigDict(env_prefix="BOOKSPOT_STAGE_", frozen=True)

    workers: int = Field(1, ge=0, le=32, description="child processes preparing a file's chunks")
    min_bytes: int = Field(
        4 << 20,
        ge=0,
        description="smallest file range staged with child processes (a chunk of 5,000 records is about "
        "3.4 MiB; a range of one chunk has nothing to overlap)",
    )


def staging_workers() -> StagingWorkers:
    """The staging worker settings in force now."""
    return _in_force(StagingWorkers)


def closed_period_text_match() -> bool:
    """Whether a refusal whose text names a closed period ("stengt", "closed", "låst periode") is read as
    one, the fallback when Tripletex's accounting periods could not be read beforehand:
    `BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH` (default on; `0`, `false`, `no` or `off` turns it off)."""
    value = os.environ.get("BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def tripletex_recheck_days() -> float:
    """How long what was checked in a tenant's Tripletex company (the company `whoAmI` names, the
    mapping's accounts and VAT types, the accounting periods) is trusted before it is checked again
    although nothing changed: `BOOKSPOT_TRIPLETEX_RECHECK_DAYS` (default 7; 0 checks before every
    night's first post)."""
    return max(0.0, float(os.environ.get("BOOKSPOT_TRIPLETEX_RECHECK_DAYS", "7")))


def connection_fingerprint_key() -> bytes:
    """The key of the connections' fingerprints (HMAC-SHA256, `load/binding.py`):
    `BOOKSPOT_FINGERPRINT_KEY`, else Airflow's Fernet key (`AIRFLOW__CORE__FERNET_KEY`), else a fixed
    application key. Changing it only makes every tenant's next post check its company again."""
    for name in ("BOOKSPOT_FINGERPRINT_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        value = os.environ.get(name)
        if value:
            return value.encode("utf-8")
    return b"bookspot-tripletex-connection-fingerprint"


def ledger_read_max_age_seconds() -> float:
    """How old a listing the load step saved for reconciliation may be and still be used by it
    (`BOOKSPOT_LEDGER_READ_MAX_AGE_SECONDS`, default 6 hours); an older one is listed again."""
    return float(os.environ.get("BOOKSPOT_LEDGER_READ_MAX_AGE_SECONDS", str(6 * 3600)))
