"""`python -m bookspot_tripletex prepayments`: open prepayments by service month, and a tenant's history."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from bookspot_tripletex.staging.db import make_engine
from bookspot_tripletex.tenants.config import parse_tenant
from helpers import stage
from prepaid_support import MAPPING_CHANGE, PAYDAY_D, season, tenant_data

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    return subprocess.run(
        [sys.executable, "-m", "bookspot_tripletex", *args], capture_output=True, text=True, env=env, cwd=ROOT
    )


def test_open_prepayments_by_service_month_and_the_history_left_undeferred(
    example_tenant_file: Path, tmp_path: Path
) -> None:
    example = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    data = tenant_data(example, "fjord-kayak", 1001, example["organization_number"], on=True)
    data["mappings"][0]["revenue_on_delivery"] = False  # turned on from 2026-06-01, with a season paid before
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run_cli("db", "migrate", "--staging-url", url).returncode == 0
    assert run_cli("import-tenant", str(tenant_file), "--staging-url", url).returncode == 0
    cfg = parse_tenant(data)
    engine = make_engine(url)
    for night, records in sorted(season(cfg.tenant).items()):
        if night <= PAYDAY_D and records:
            stage(engine, cfg, records)
    engine.dispose()

    done = run_cli(
        *("prepayments", "--tenant", "fjord-kayak", "--as-of", PAYDAY_D.isoformat()),
        *("--lines", "--history", "--staging-url", url),
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["as_of"] == "2026-06-05" and MAPPING_CHANGE.isoformat() == "2026-06-01"
    assert out["by_service_month"] == [
        {"account": 2960, "service_month": "2026-06", "lines": 1, "net": "476.00"}
    ]
    assert out["balances"] == {"2960": "-476.00"}
    assert [(x["transaction_id"], x["net_ore"], x["account"]) for x in out["lines"]] == [
        ("tx_D", 47_600, 2960)
    ]
    assert [(x["transaction_id"], x["service_date"], x["net_ore"]) for x in out["not_deferred"]] == [
        ("tx_C", "2026-06-12", 47_600),
        ("tx_A", "2026-07-04", 21_739),
        ("tx_B", "2026-07-04", -21_739),
        ("tx_A", "2026-07-18", 80_000),
    ]
    unknown = run_cli("prepayments", "--tenant", "nobody", "--staging-url", url)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: tenant 'nobody' is not imported")
