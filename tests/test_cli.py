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


def test_import_tenant_needs_a_migrated_staging_database(example_tenant_file: Path, tmp_path: Path) -> None:
    env = {"BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}"}
    refused = run_cli("import-tenant", str(example_tenant_file), env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "has no staging schema" in refused.stderr and "db migrate" in refused.stderr
    migrated = run_cli("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "empty -> " in migrated.stdout and "alembic" not in migrated.stderr.lower()
    assert "already at" in run_cli("db", "migrate", env=env).stdout


def test_import_tenant_reports_versions(example_tenant_file: Path, tmp_path: Path) -> None:
    env = {"BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}"}
    run_cli("db", "migrate", env=env)
    first = run_cli("import-tenant", str(example_tenant_file), env=env)
    second = run_cli("import-tenant", str(example_tenant_file), env=env)
    assert first.returncode == 0, first.stderr
    assert "new mapping versions: 2026-01-01 rev 1" in first.stdout
    assert "new mapping versions: none; unchanged: 1" in second.stdout


def test_bad_tenant_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("tenant: x\nname: X\nstart_date: 2026-01-01\n")
    env = {"BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}"}
    run_cli("db", "migrate", env=env)
    done = run_cli("import-tenant", str(bad), env=env)
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
    run_cli("db", "migrate", env={"BOOKSPOT_STAGING_URL": url})
    run_cli("import-tenant", str(example_tenant_file), env={"BOOKSPOT_STAGING_URL": url})
    cfg = setup_tenant(engine, example_tenant_file)
    stage(engine, cfg, list(JsonlFileSource(feed).iter_records()))
    held = json.loads(
        run_cli("preview", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--staging-url", url).stdout
    )
    assert held["status"] == "held"
    release = ["release-day", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--by", "kari"]
    no_reason = run_cli(*release, "--staging-url", url)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    done = run_cli(*release, "--reason", "amount fixed in BookSpot next week", "--staging-url", url)
    assert done.returncode == 0, done.stderr
    assert "released 1 quarantined record" in done.stdout
    again = run_cli(*release, "--reason", "once more", "--staging-url", url)
    assert again.returncode == 1 and "no held record to release" in again.stderr
    assert "Traceback" not in again.stderr
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
    assert row == ("tx_000002", "day 2026-11-24 released by kari: amount fixed in BookSpot next week")


def test_run_shows_how_far_an_import_is(
    example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    tenant_file = tmp_path / "t.yaml"
    tenant_file.write_text(
        example_tenant_file.read_text().replace("start_date: 2026-01-01", "start_date: 2026-11-20")
    )
    env = {
        "BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}",
        "BOOKSPOT_REPORTS_DIR": str(tmp_path / "reports"),
        "AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK": json.dumps(
            {"conn_type": "bookspot", "extra": {"feed_file": str(example_feed)}}
        ),
    }
    run_cli("db", "migrate", env=env)
    run_cli("import-tenant", str(tenant_file), env=env)
    done = run_cli(
        "run", "--tenant", "fjord-kayak", "--from", "2026-11-20", "--to", "2026-11-24", "--dry-run", env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "1 tenant(s), 2026-11-20 .. 2026-11-24 (dry run)"
    assert "fjord-kayak: staged 7 record(s); 5 day(s) to do: 2026-11-20 .. 2026-11-24" in lines
    assert (
        "fjord-kayak 2026-11-20: empty (transactions 0, postings 0, quarantined 0) [1/5 of fjord-kayak]"
        in lines
    )
    assert any(line.startswith("fjord-kayak 2026-11-24: dry_run (transactions 6") for line in lines)
    assert any(
        line.startswith("batch 1/1: 5 tenant-day(s)") and "left: 0 tenant(s)" in line for line in lines
    )
    assert lines[-1] == "5 tenant-day(s): 1 dry_run, 4 empty; 6 transaction(s)"
