"""JSON Lines export: deterministic bytes, readable by the feed's file source, and the `export` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sim_helpers import violations

from bookspot_devkit.simulator.export import write_jsonl
from bookspot_devkit.simulator.generator import iter_transactions
from bookspot_tripletex.feed.model import parse_record
from bookspot_tripletex.feed.source import JsonlFileSource, decoded

ROOT = Path(__file__).resolve().parents[2]


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    knobs = {"late_updates": 0.05, "voids": 0.02, "wrong_type": 0.02, "missing_field": 0.02}
    a = write_jsonl(tmp_path / "a.jsonl", 4, "2026-10-20", "2026-10-31", seed=5, **knobs)
    b = write_jsonl(tmp_path / "b.jsonl", 4, "2026-10-20", "2026-10-31", seed=5, **knobs)
    c = write_jsonl(tmp_path / "c.jsonl", 4, "2026-10-20", "2026-10-31", seed=6, **knobs)
    assert a == b > 100 and c > 100
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()
    assert not list(tmp_path.glob(".*partial"))


def test_the_file_holds_exactly_the_generated_records(tmp_path: Path) -> None:
    path = tmp_path / "feed" / "export.jsonl"
    count = write_jsonl(path, ["fjord-kayak", "tenant-009"], "2026-03-28", "2026-03-30", seed=1)
    expected = list(iter_transactions(["fjord-kayak", "tenant-009"], "2026-03-28", "2026-03-30", seed=1))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert count == len(lines) == len(expected)
    assert [json.loads(line) for line in lines] == expected
    records = [decoded(r) for r in JsonlFileSource(path).iter_records()]
    assert all(violations(r) == set() for r in records)
    assert all(parse_record(r).currency == "NOK" for r in records)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT / 'devkit'}"}
    return subprocess.run(
        [sys.executable, "-m", "bookspot_devkit", "simulator", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_export_cli(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    done = _cli(
        "export", "--out", str(out), "--tenants", "3", "--from", "2026-07-01", "--to", "2026-07-03",
        "--seed", "4", "--transactions-per-day", "25", "--knob", "voids=0.1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"records to {out}" in done.stderr
    direct = tmp_path / "direct.jsonl"
    write_jsonl(direct, 3, "2026-07-01", "2026-07-03", seed=4, transactions_per_day=25, voids=0.1)
    assert out.read_bytes() == direct.read_bytes()
    assert {json.loads(line)["account_id"] for line in out.read_text().splitlines()} == {
        "fjord-kayak", "tenant-001", "tenant-002",
    }  # fmt: skip


def test_export_cli_refuses_an_unknown_knob(tmp_path: Path) -> None:
    done = _cli(
        "export", "--out", str(tmp_path / "x.jsonl"), "--tenants", "1", "--from", "2026-07-01",
        "--to", "2026-07-01", "--knob", "voidz=0.1",
    )  # fmt: skip
    assert done.returncode == 2 and "unknown knob" in done.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_profiles_cli_prints_the_tenants() -> None:
    done = _cli("profiles", "--tenants", "3", "--seed", "2")
    assert done.returncode == 0, done.stderr
    profiles = json.loads(done.stdout)
    assert [p["tenant"] for p in profiles] == ["fjord-kayak", "tenant-001", "tenant-002"]
    assert profiles[0]["name"] == "Fjord Kayak AS" and profiles[0]["timezone"] == "Europe/Oslo"
    assert all(p["products"] and p["currency"] == "NOK" for p in profiles)
