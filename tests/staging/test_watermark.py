"""Extract windows: from the start date at first, then from the watermark minus the overlap (never before
the start date, never inverted), and a watermark that never moves back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bookspot_tripletex.staging.watermark import extract_window, get_watermark, save_watermark
from helpers import setup_tenant

UTC = dt.UTC
OVERLAP = dt.timedelta(days=2)
START = dt.datetime(2025, 12, 31, 23, tzinfo=UTC)  # 2026-01-01 00:00 in Oslo


def test_windows_follow_the_watermark(staging_engine: Engine, example_tenant_file: Path) -> None:
    setup_tenant(staging_engine, example_tenant_file)
    now = dt.datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    with staging_engine.begin() as conn:
        assert extract_window(conn, "fjord-kayak", now, OVERLAP) == (START, now)
        save_watermark(conn, "fjord-kayak", now, now)
        later = now + dt.timedelta(days=1)
        assert extract_window(conn, "fjord-kayak", later, OVERLAP) == (now - OVERLAP, later)
        save_watermark(conn, "fjord-kayak", now - dt.timedelta(hours=1), later)
        assert get_watermark(conn, "fjord-kayak") == now
        assert extract_window(conn, "fjord-kayak", now - dt.timedelta(days=3), OVERLAP) == (
            now - dt.timedelta(days=3), now - dt.timedelta(days=3),
        )  # fmt: skip
        save_watermark(conn, "fjord-kayak", START + dt.timedelta(days=400), later)
        assert extract_window(conn, "fjord-kayak", later, dt.timedelta(days=1000))[0] == START
        with pytest.raises(ValueError):
            extract_window(conn, "fjord-kayak", later, -OVERLAP)
        with pytest.raises(LookupError, match="nobody"):
            extract_window(conn, "nobody", later, OVERLAP)
