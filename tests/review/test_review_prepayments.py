"""The review screen's open prepayments by service month (revenue on delivery), behind Airflow's login."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bookspot_tripletex.tenants.config import parse_tenant
from bookspot_tripletex.tenants.store import import_tenant
from helpers import stage
from prepaid_support import PAYDAY_D, season, tenant_data

pytestmark = pytest.mark.airflow
TENANT = "kayak-season"
API = f"/bookspot-review/api/tenants/{TENANT}/prepayments"


@pytest.fixture
def season_staged(staging_engine, staging_url: str, example_tenant_file: Path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    example = yaml.safe_load(example_tenant_file.read_text(encoding="utf-8"))
    cfg = parse_tenant(tenant_data(example, TENANT, 4242, example["organization_number"], on=True))
    with staging_engine.begin() as conn:
        import_tenant(conn, cfg)
    for night, records in sorted(season(TENANT).items()):
        if night <= PAYDAY_D and records:
            stage(staging_engine, cfg, records)
    return cfg


def test_open_prepayments_by_service_month(api, season_staged, viewer) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    assert client.get(f"{API}?as_of={PAYDAY_D}").status_code == 401
    out = client.get(f"{API}?as_of={PAYDAY_D}", headers=viewer).json()
    assert out["by_service_month"] == [
        {"account": 2960, "service_month": "2026-06", "lines": 1, "net": "476.00"},
        {"account": 2965, "service_month": "2026-06", "lines": 1, "net": "476.00"},
        {"account": 2965, "service_month": "2026-07", "lines": 3, "net": "800.00"},
    ]
    assert out["balances"] == {"2960": "-476.00", "2965": "-1276.00"} and out["not_deferred"] == []
    page = client.get(
        f"/bookspot-review/tenants/{TENANT}/prepayments?as_of={PAYDAY_D}",
        headers={**viewer, "Accept": "text/html"},
    )
    assert page.status_code == 200 and "open prepayments on 2026-06-05" in page.text
    assert '<td>2026-07</td><td class="num">3</td><td class="num">800.00</td>' in page.text
    assert client.get(f"{API}?as_of=june", headers=viewer).status_code == 422
    missing = client.get("/bookspot-review/api/tenants/nobody/prepayments", headers=viewer)
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
