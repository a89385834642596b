"""`force-repost`, `voucher` and `import-tenant` as an operator runs them, against the emulator over HTTP:
a re-post applies only to a posted day; every other day is refused with its reason and the command that
helps, a non-zero exit and no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.staging.db import make_engine
from bookspot_tripletex.staging.schema import day_outcomes
from helpers import read_jsonl, record
from test_cli import run_cli
from tripletex_support import vouchers_in


@pytest.fixture
def emulator(tripletex: EmulatorServer) -> EmulatorServer:
    tripletex.reset()
    tripletex.admin("DELETE", "faults")
    return tripletex


def operator_env(
    tmp_path: Path, emulator: EmulatorServer, tenant_file: Path, records: list[dict[str, Any]]
) -> dict[str, str]:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    company = emulator.config.companies[0]
    tripletex = {
        "conn_type": "tripletex",
        "host": emulator.url,
        "password": company.employee_token,
        "extra": {"consumer_token": company.consumer_token, "company_id": 0},
    }
    env = {
        "BOOKSPOT_STAGING_URL": f"sqlite:///{tmp_path / 's.db'}",
        "AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK": json.dumps(
            {"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}
        ),
        "AIRFLOW_CONN_TRIPLETEX_FJORD_KAYAK": json.dumps(tripletex),
    }
    assert run_cli("db", "migrate", env=env).returncode == 0
    imported = run_cli("import-tenant", str(tenant_file), env=env)
    assert imported.returncode == 0, imported.stderr
    return env


def from_day(example_tenant_file: Path, tmp_path: Path, start: str, text: str = "") -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(example_tenant_file.read_text().replace("start_date: 2026-01-01", f"start_date: {start}"))
    if text:
        path.write_text(path.read_text().replace(*text.split("|")))
    return path


def force(env: dict[str, str], day: str, *extra: str) -> Any:
    by = ["--by", "kari", "--reason", "wrong stripe account"]
    return run_cli("force-repost", "--tenant", "fjord-kayak", "--date", day, *(list(extra) or by), env=env)


def json_out(stdout: str) -> Any:
    """The JSON the command printed (Airflow's log lines, when a connection is opened, come before it)."""
    return json.loads(stdout[stdout.index("\n{\n") + 1 :] if not stdout.startswith("{") else stdout)


def refused(done: Any, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    for word in words:
        assert word in done.stderr, (word, done.stderr)


def test_force_repost_refuses_every_day_that_was_not_posted_and_reposts_a_posted_one(
    emulator, example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    held = [
        record("tx_held_ok", "2026-11-25T10:00:00+01:00"),
        record("tx_no_method", "2026-11-25T11:00:00+01:00", method=None),  # type: ignore[arg-type]
        record("tx_later", "2026-11-26T10:00:00+01:00"),
    ]
    env = operator_env(
        tmp_path,
        emulator,
        from_day(example_tenant_file, tmp_path, "2026-11-23"),
        read_jsonl(example_feed) + held,
    )
    run = run_cli("run", "--tenant", "fjord-kayak", "--from", "2026-11-23", "--to", "2026-11-25", env=env)
    assert run.returncode == 1 and "2026-11-25: held" in run.stdout, run.stdout[-2000:]
    assert len(vouchers_in(emulator)) == 1

    refused(force(env, "2026-11-20"), "before the tenant's start date 2026-11-23")
    refused(force(env, "2026-11-23"), "has no transactions (empty)")
    refused(force(env, "2026-11-25"), "is held (1 quarantined record(s))", "release-day --tenant fjord-kayak")
    refused(force(env, "2026-11-26"), "never built or posted", "run --tenant fjord-kayak --from 2026-11-26")
    refused(force(env, "2026-11-24", "--by", " ", "--reason", "x"), "needs who asks (--by)")
    refused(force(env, "2026-11-24", "--by", "kari", "--reason", ""), "needs why (--reason)")
    assert len(vouchers_in(emulator)) == 1

    done = force(env, "2026-11-24")
    assert done.returncode == 0, done.stderr
    result = json_out(done.stdout)
    assert result["posted"]["outcome"] == "posted" and result["posted"]["version"] == 2
    assert len(result["reversed"]) == 1 and result["mapping"]["used"] == "posted"
    assert "forced re-post by kari: wrong stripe account" in done.stderr
    live = [v for v in vouchers_in(emulator) if not v.get("reverseVoucher")]
    assert [v["externalVoucherNumber"] for v in live] == ["bookspot:fjord-kayak:2026-11-24:v2"]
    with make_engine(env["BOOKSPOT_STAGING_URL"]).connect() as conn:
        outcome = conn.execute(select(day_outcomes).where(day_outcomes.c.step == "force-repost")).one()
    assert outcome.outcome == "posted" and "kari" in outcome.reason

    shown = run_cli("voucher", "--tenant", "fjord-kayak", "--date", "2026-11-24", env=env)
    out = json.loads(shown.stdout)
    assert out["version"] == 2 and out["status"] == "posted" and out["effective"] is True
    assert [(v["version"], v["kind"], v["status"], v["effective"]) for v in out["versions"]] == [
        (1, "day", "reversed", False),
        (2, "repost", "posted", True),
    ]
    first = json.loads(
        run_cli(
            "voucher", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--version", "1", env=env
        ).stdout
    )
    assert first["version"] == 1 and first["status"] == "reversed" and first["effective"] is False
    missing = run_cli("voucher", "--tenant", "fjord-kayak", "--date", "2026-11-24", "--version", "7", env=env)
    assert missing.returncode == 1 and "no version 7 (has 1, 2)" in missing.stderr


def test_force_repost_refuses_a_day_refused_at_activation(
    emulator, example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    broken = from_day(
        example_tenant_file, tmp_path, "2026-11-24", "settlement.cash: 1900|settlement.cash: 1999"
    )
    env = operator_env(tmp_path, emulator, broken, read_jsonl(example_feed))
    run = run_cli("run", "--tenant", "fjord-kayak", "--from", "2026-11-24", "--to", "2026-11-24", env=env)
    assert run.returncode == 1 and "refused at activate" in run.stdout, run.stdout[-2000:]
    refused(force(env, "2026-11-24"), "refused at activate", "activation-check --tenant fjord-kayak")
    assert vouchers_in(emulator) == []


def with_version(tenant_file: Path, valid_from: str, change: str = "") -> Path:
    """The tenant file plus a copy of its mapping version valid from `valid_from` (`old|new` edits it)."""
    text = tenant_file.read_text()
    entry = text[text.index("  - valid_from: 2026-01-01") :].replace("2026-01-01", valid_from, 1)
    if change:
        entry = entry.replace(*change.split("|"))
    out = tenant_file.with_name(f"{tenant_file.stem}-{valid_from}.yaml")
    out.write_text(text.rstrip("\n") + "\n" + entry)
    return out


def test_importing_a_mapping_over_posted_days_warns_and_lists_them(
    emulator, example_tenant_file: Path, example_feed: Path, tmp_path: Path
) -> None:
    tenant_file = from_day(example_tenant_file, tmp_path, "2026-11-24")
    env = operator_env(tmp_path, emulator, tenant_file, read_jsonl(example_feed))
    run = run_cli("run", "--tenant", "fjord-kayak", "--from", "2026-11-24", "--to", "2026-11-24", env=env)
    assert run.returncode == 0, run.stdout[-2000:]
    ahead = run_cli("import-tenant", str(with_version(tenant_file, "2026-11-25")), env=env)
    assert ahead.returncode == 0 and "warning" not in ahead.stderr, ahead.stderr
    back = run_cli(
        "import-tenant",
        str(with_version(tenant_file, "2026-11-01", "sales.25: 3000|sales.25: 3001")),
        env=env,
    )
    assert back.returncode == 0, back.stderr
    assert "the mapping valid from 2026-11-01 reaches back over 1 posted day(s)" in back.stderr
    assert ": 2026-11-24." in back.stderr and "--use-current-mapping" in back.stderr


def test_the_readme_and_release_day_help_agree_that_a_release_needs_a_reason() -> None:
    from test_cli import ROOT

    shown = run_cli("release-day", "--help")
    assert shown.returncode == 0
    usage = " ".join(shown.stdout.split())
    assert "--by BY --reason REASON" in usage and "[--reason" not in usage
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line for line in readme.splitlines() if line.startswith("python -m bookspot_tripletex release-day")
    ]
    assert len(commands) >= 2 and all("--by" in line and "--reason" in line for line in commands), commands
    assert "`release-day` needs `--by` and `--reason`" in readme
