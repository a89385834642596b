"""Day preview: the voucher a tenant-day would get, from a feed file or from staging, posting nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bookspot_tripletex.feed.source import JsonlFileSource
from bookspot_tripletex.journal.build import build_day
from bookspot_tripletex.staging.db import make_engine, migrate
from bookspot_tripletex.staging.stage import stage_records
from bookspot_tripletex.tenants.config import load_tenant_file
from bookspot_tripletex.tenants.store import import_tenant, load_tenant


def preview_from_file(tenant_file: str | Path, feed_file: str | Path, day: dt.date) -> dict[str, Any]:
    """Stage the file into a throw-away in-memory database and build the day there."""
    cfg = load_tenant_file(tenant_file)
    engine = make_engine("sqlite:///:memory:")
    migrate(engine)
    with engine.begin() as conn:
        import_tenant(conn, cfg)
        stage_records(conn, cfg, JsonlFileSource(feed_file).iter_records())
        return build_day(conn, cfg, day).as_preview()


def preview_from_staging(tenant: str, day: dt.date, url: str | None = None) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        return build_day(conn, load_tenant(conn, tenant), day).as_preview()
