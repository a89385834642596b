"""The command line as a user runs it: `python -m bookspot_tripletex …` in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bookspot_tripletex", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
    )


def test_preview_prints_the_worked_example(example_tenant_file: Path, example_feed: Path) -> None:
    from helpers import worked_example_table

    done = run_cli(
        "preview",
        "--tenant-file",
        str(example_tenant_file),
        "--feed",
        str(example_feed),
        "--date",
        "2026-11-24",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (
        out["status"] == "ready"
        and out["tenant"] == "fjord-kayak"
        and out["mapping_valid_from"] == "2026-01-01"
    )
    from decimal import Decimal

    postings = {(p["account"], p["vatType"]): Decimal(p["amountGross"]) for p in out["voucher"]["postings"]}
    assert postings == worked_example_table()
    assert out["voucher"]["externalVoucherNumber"] == "bookspot:fjord-kayak:2026-11-24:v1"
    assert out["quarantined"] == []


def test_preview_of_a_day_without_transactions_is_empty(
    example_tenant_file: Path, example_feed: Path
) -> None:
    done = run_cli(
        "preview",
        "--tenant-file",
        str(example_tenant_file),
        "--feed",
        str(example_feed),
        "--date",
        "2026-11-22",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "empty" and out["voucher"] is None


def test_preview_of_a_held_day_lists_the_quarantined_record(
    example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    lines = example_feed.read_text().splitlines()
    lines[1] = lines[1].replace('"amount_minor": 105000', '"amount_minor": 105001')
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    done = run_cli(
        "preview", "--tenant-file", str(example_tenant_file), "--feed", str(feed), "--date", "2026-11-24"
    )
    out = json.loads(done.stdout)
    assert out["status"] == "held"
    assert [q["id"] for q in out["quarantined"]] == ["tx_000002"]
    assert "amount_minor" in out["quarantined"][0]["reason"]


def test_import_tenant_reports_versions(example_tenant_file: Path, tmp_path: Path) -> None:
    env = {"BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}"}
    first = run_cli("import-tenant", str(example_tenant_file), env=env)
    second = run_cli("import-tenant", str(example_tenant_file), env=env)
    assert first.returncode == 0, first.stderr
    assert "new mapping versions: 2026-01-01 rev 1" in first.stdout
    assert "new mapping versions: none; unchanged: 1" in second.stdout


def test_bad_tenant_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("tenant: x\nname: X\nstart_date: 2026-01-01\n")
    done = run_cli("import-tenant", str(bad), env={"BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}"})
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {bad}: ")
    assert f"{bad}: mappings: is required" in done.stderr
    assert f"{bad}: tripletex_company_id: is required" in done.stderr
    assert "Traceback" not in done.stderr


def test_release_day_lets_a_held_day_through(
    example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    lines = example_feed.read_text().splitlines()
    lines[1] = lines[1].replace('"amount_minor": 105000', '"amount_minor": 105001')
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 's.db'}"
    from bookspot_tripletex.feed.source import JsonlFileSource
    from bookspot_tripletex.staging.db import make_engine
    from helpers import setup_tenant, stage

    engine = make_engine(url)
    run_cli("import-tenant", str(example_tenant_file), env={"BOOKSPOT_STAGING_URL": url})
    cfg = setup_tenant(engine, example_tenant_file)
    stage(engine, cfg, list(JsonlFileSource(feed).iter_records()))
    held = json.loads(
        run_cli("preview", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--staging-url", url).stdout
    )
    assert held["status"] == "held"
    done = run_cli(
        "release-day", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--by", "kari", "--staging-url", url
    )
    assert done.returncode == 0, done.stderr
    assert "released 1 quarantined record" in done.stdout
    ready = json.loads(
        run_cli("preview", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--staging-url", url).stdout
    )
    assert ready["status"] == "ready" and ready["quarantined"] == []
    postings = {p["account"]: p["amountGross"] for p in ready["voucher"]["postings"]}
    assert 1581 not in postings and 3002 not in postings and postings[1580] == "1646.27"
    from sqlalchemy import select

    from bookspot_tripletex.staging.schema import quarantine

    with engine.connect() as conn:
        row = conn.execute(select(quarantine.c.record_id, quarantine.c.released_by)).one()
    assert row == ("tx_000002", "day 2026-11-24 released by kari")
