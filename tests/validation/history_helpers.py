"""A tenant with six weeks of ordinary days staged before the day under test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from bookspot_tripletex.tenants.config import TenantConfig
from helpers import record, setup_tenant, stage

DAY = dt.date(2026, 11, 24)
ORDINARY_GROSS = 59500


def at_noon(day: dt.date) -> str:
    return f"{day.isoformat()}T12:00:00+01:00"


def staged_history(
    engine: Engine, tenant_file: Path, days: int = 42, skip: tuple[int, ...] = ()
) -> TenantConfig:
    """One or two ordinary sales on each of the `days` days before DAY (none `skip` days back)."""
    cfg = setup_tenant(engine, tenant_file)
    records = []
    for back in range(1, days + 1):
        if back in skip:
            continue
        day = DAY - dt.timedelta(days=back)
        lines = [("activity", ORDINARY_GROSS + 1000 * (back % 5), "25")]
        records.append(record(f"tx_h{back:03d}", at_noon(day), lines))
    stage(engine, cfg, records)
    return cfg


def stage_day(engine: Engine, cfg: TenantConfig, gross: int, count: int = 1, prefix: str = "tx_d") -> None:
    stage(
        engine,
        cfg,
        [record(f"{prefix}{i:03d}", at_noon(DAY), [("activity", gross, "25")]) for i in range(count)],
    )
