"""A seeded sample of the operator campaign: nights and people's actions interleaved, with lost answers,
leave every tenant-day with at most one effective voucher chain whose sums equal its journal."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _campaign_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "operator_campaign", ROOT / "bench" / "operator_campaign.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_seeded_operator_campaign_leaves_one_chain_per_day_with_the_journals_sums() -> None:
    campaign = _campaign_module()
    figures = campaign.campaign(runs=10, seed=20261204)
    report = "\n".join(figures.lines())
    assert figures.runs == 10, report
    assert sum(figures.steps.values()) >= 40 and figures.steps["force-repost"] > 0, report
    assert figures.reposts_posted > 0 and sum(figures.faults.values()) > 0, report
    assert figures.outcomes["held"] > 0 and figures.outcomes["posted"] > 0, report
    assert (figures.duplicates, figures.missing_days, figures.mismatched_sums) == (0, 0, 0), report
    assert report.splitlines()[-3:] == ["duplicates: 0", "missing days: 0", "mismatched sums: 0"]
