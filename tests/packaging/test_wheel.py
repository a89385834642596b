"""A normal (non-editable) install of the product finds its SQL, suites and migrations inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import datetime as dt, json, sys
import bookspot_tripletex
from bookspot_tripletex.journal.preview import preview_from_file
from bookspot_tripletex.sqlfiles import sql
from bookspot_tripletex.staging.db import make_engine, migrate
from bookspot_tripletex.validation.suites import SUITE_NAMES, suite_json
assert sys.argv[1] in bookspot_tripletex.__file__, bookspot_tripletex.__file__
sql("journal_lines")
for name in SUITE_NAMES:
    suite_json(name)
migrate(make_engine("sqlite:///" + sys.argv[2]))
out = preview_from_file(sys.argv[3], sys.argv[4], dt.date(2026, 11, 24))
print(json.dumps({"status": out["status"], "postings": len(out["voucher"]["postings"])}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, ROOT],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("bookspot_tripletex-*.whl")
    return built


def test_the_wheel_carries_sql_suites_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bookspot_tripletex/sql/journal_lines.sql" in names
    assert "bookspot_tripletex/expectations/voucher.json" in names
    assert any(n.startswith("bookspot_tripletex/staging/migrations/versions/0001") for n in names)
    assert not any(n.startswith("bookspot_devkit") for n in names)


def test_an_installed_package_runs_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, wheel],
        check=True,
        timeout=300,
    )
    data = ROOT / "tests" / "data"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECK,
            str(site),
            str(tmp_path / "staging.db"),
            str(data / "fjord-kayak.example.yaml"),
            str(data / "bookspot-transactions.example.jsonl"),
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == '{"status": "ready", "postings": 8}'
