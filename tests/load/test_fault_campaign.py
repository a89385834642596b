"""A seeded subset of the fault campaign: after recovery nothing is duplicated, missing or wrong."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _campaign_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fault_campaign", ROOT / "bench" / "fault_campaign.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_seeded_campaign_leaves_no_duplicate_no_gap_no_wrong_sum() -> None:
    campaign = _campaign_module()
    figures = campaign.campaign(runs=60, seed=20261130, postgres=os.environ.get("TEST_DATABASE_URL"))
    report = "\n".join(figures.lines())
    assert figures.runs == 60, report
    assert sum(figures.faults.values()) > 60, report
    assert figures.duplicates_left == 0, report
    assert figures.missing_days == 0, report
    assert figures.mismatched_sums == 0, report
    assert figures.stray_drafts_left == 0, report
    assert report.splitlines()[-4:] == [
        "duplicates left: 0",
        "missing days: 0",
        "mismatched sums: 0",
        "stray drafts left: 0",
    ]
