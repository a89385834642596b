"""Mapping changes, reviewable: a tenant's versions, the difference of two, and a candidate file's
preview against what was posted. A change imported after a day was posted leaves that day as it was
and applies from the next day on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import cli, pipeline
from bookspot_tripletex.journal.mapping_preview import preview_candidate, versions_in_use
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.tenants.config import load_tenant_file
from bookspot_tripletex.tenants.diff import diff_versions
from helpers import read_jsonl, record, setup_tenant, stage
from tripletex_support import make_client

POSTED, NEXT = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
TENANT = "fjord-kayak"


def candidate_file(example: Path, path: Path) -> Path:
    """The tenant file with a new version from the posted day on: 25 % sales to account 3010."""
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    first = data["mappings"][0]
    data["mappings"].append(
        {
            "valid_from": POSTED,
            "accounts": {**first["accounts"], "sales.25": 3010},
            "vat_types": first["vat_types"],
        }
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def posted_day(
    staging_engine, tripletex: EmulatorServer, example_tenant_file: Path, example_feed: Path, tmp_path: Path
):  # type: ignore[no-untyped-def]
    tripletex.reset()
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, [*read_jsonl(example_feed), record("tx_next", "2026-11-25T10:00:00+01:00")])
    pipeline.journal_day(staging_engine, TENANT, POSTED)
    pipeline.validate_day(staging_engine, TENANT, POSTED, tmp_path)
    assert (
        pipeline.load_day(staging_engine, TENANT, POSTED, make_client(tripletex), "t")["outcome"] == "posted"
    )
    return staging_engine


def _accounts(row) -> dict[tuple[int, int], int]:  # type: ignore[no-untyped-def]
    return {(p.account, p.vat_type): p.amount_ore for p in row.postings}


def test_a_change_after_posting_keeps_the_posted_day_and_applies_next(
    posted_day, example_tenant_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = posted_day
    candidate = load_tenant_file(candidate_file(example_tenant_file, tmp_path / "candidate.yaml"))
    with engine.connect() as conn:
        before = get_voucher(conn, TENANT, POSTED)
        (preview,) = preview_candidate(conn, candidate, [POSTED])
    assert preview.posted_status == "posted" and preview.candidate_status == "ready" and preview.differs
    rows = {(r["account"], r["vat_type"]): r for r in preview.rows}
    assert rows[(3000, 3)] == {
        "account": 3000,
        "vat_type": 3,
        "posted": "-1329.00",
        "candidate": None,
        "difference": "1329.00",
    }
    assert rows[(3010, 3)]["posted"] is None and rows[(3010, 3)]["candidate"] == "-1329.00"
    assert {r["difference"] for k, r in rows.items() if k[0] not in (3000, 3010)} == {"0.00"}
    assert [c.as_dict() for c in preview.mapping_changes] == [
        {"kind": "account", "key": "sales.25", "old": 3000, "new": 3010, "change": "changed"}
    ]

    setup_tenant(engine, tmp_path / "candidate.yaml")
    with engine.connect() as conn:
        versions = versions_in_use(conn, TENANT)
        assert [(v.valid_from, v.posted_days) for v in versions] == [(dt.date(2026, 1, 1), 1), (POSTED, 0)]
        changes = diff_versions(conn, TENANT, versions[0].id, versions[1].id)
    assert [(c.key, c.old, c.new) for c in changes] == [("sales.25", 3000, 3010)]

    assert pipeline.journal_day(engine, TENANT, POSTED)["status"] == "posted"
    pipeline.journal_day(engine, TENANT, NEXT)
    with engine.connect() as conn:
        after, following = get_voucher(conn, TENANT, POSTED), get_voucher(conn, TENANT, NEXT)
    assert after.mapping_version_id == versions[0].id and _accounts(after) == _accounts(before)
    assert following.mapping_version_id == versions[1].id
    assert (3010, 3) in _accounts(following) and (3000, 3) not in _accounts(following)


def test_a_candidate_equal_to_what_was_posted_shows_no_difference(
    posted_day, example_tenant_file: Path
) -> None:  # type: ignore[no-untyped-def]
    with posted_day.connect() as conn:
        (same,) = preview_candidate(conn, load_tenant_file(example_tenant_file), [POSTED])
    assert not same.differs and same.mapping_changes == []


def test_the_cli_lists_diffs_and_previews(
    posted_day,
    staging_url: str,
    example_tenant_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    candidate = candidate_file(example_tenant_file, tmp_path / "candidate.yaml")
    url = ["--staging-url", staging_url]
    assert (
        cli.main(["mappings", "preview", "--tenant-file", str(candidate), "--date", str(POSTED), *url]) == 0
    )
    (day,) = json.loads(capsys.readouterr().out)
    assert day["differs"] and day["mapping_changes"][0]["key"] == "sales.25"
    assert cli.main(["mappings", "diff", "--tenant", TENANT, *url]) == 2
    capsys.readouterr()
    setup_tenant(posted_day, candidate)
    assert cli.main(["mappings", "list", "--tenant", TENANT, *url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [v["valid_from"] for v in listed] == ["2026-01-01", str(POSTED)] and listed[0]["posted_days"] == 1
    assert cli.main(["mappings", "diff", "--tenant", TENANT, *url]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == [
        {"kind": "account", "key": "sales.25", "old": 3000, "new": 3010, "change": "changed"}
    ]


def test_mappings_list_counts_days_not_vouchers(
    posted_day,
    staging_url: str,
    tripletex: EmulatorServer,
    example_tenant_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    """Two days posted with version 1 and a correction each: 4 vouchers, 2 days; a version imported
    afterwards was never used and says so."""
    engine, client = posted_day, make_client(tripletex)
    pipeline.journal_day(engine, TENANT, NEXT)
    pipeline.validate_day(engine, TENANT, NEXT, tmp_path)
    assert pipeline.load_day(engine, TENANT, NEXT, client, "t")["outcome"] == "posted"
    cfg = setup_tenant(engine, later_version_file(example_tenant_file, tmp_path / "later.yaml"))
    stage(
        engine,
        cfg,
        [
            record("tx_late_1", "2026-11-24T18:00:00+01:00", updated_at="2026-11-25T09:00:00+01:00"),
            record("tx_late_2", "2026-11-25T18:00:00+01:00", updated_at="2026-11-26T09:00:00+01:00"),
        ],
    )
    for day in (POSTED, NEXT):
        loaded = pipeline.load_day(engine, TENANT, day, client, "t2")
        assert [c["outcome"] for c in loaded["corrections"]] == ["posted"]
    assert cli.main(["mappings", "list", "--tenant", TENANT, "--staging-url", staging_url]) == 0
    first, later = json.loads(capsys.readouterr().out)
    assert (first["posted_days"], first["posted_vouchers"]) == (2, 4)
    assert first["usage"] == "2 days posted (4 vouchers)"
    assert (later["posted_days"], later["posted_vouchers"]) == (0, 0)
    assert later["usage"].startswith("never used")


def later_version_file(example: Path, path: Path) -> Path:
    """The example tenant file with a second version from a day after both posted days."""
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    first = data["mappings"][0]
    data["mappings"].append({**first, "valid_from": dt.date(2026, 12, 1)})
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
