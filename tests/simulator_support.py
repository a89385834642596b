"""The BookSpot simulator as the extract sees it: served over HTTP, driven through its /_sim endpoints,
with the tenant's Airflow connection pointing at it (shared by the feed, staging and DAG tests)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from sqlalchemy import Engine, func, select

from bookspot_devkit.simulator.server import SimulatorConfig, SimulatorServer
from bookspot_tripletex.staging.schema import pending_corrections, quarantine, transactions

OSLO = ZoneInfo("Europe/Oslo")


def oslo(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def new_token() -> str:
    return secrets.token_urlsafe(24)


@contextmanager
def simulator(tokens: dict[str, str], **settings: Any) -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(tokens=tokens, **settings)) as server:
        yield server


def bookspot_connection(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str, token: str, **extra: Any
) -> None:
    """An Airflow connection of type bookspot (from an AIRFLOW_CONN_ variable) to the simulator."""
    conn: dict[str, Any] = {"conn_type": "bookspot", "host": url, "password": token}
    if extra:
        conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def tripletex_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str, firm: Any) -> None:
    """An Airflow connection of type tripletex (from an AIRFLOW_CONN_ variable) to an emulator company."""
    conn = {
        "conn_type": "tripletex",
        "host": url,
        "password": firm.employee_token,
        "extra": {"consumer_token": firm.consumer_token, "company_id": 0},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _admin(server: SimulatorServer, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{server.url}/_sim/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def put_records(server: SimulatorServer, account: str, records: list[dict[str, Any]]) -> None:
    """New records, or newer versions of existing ones, as BookSpot would publish them."""
    assert _admin(server, "POST", f"accounts/{account}/transactions", records) == {"stored": len(records)}


def set_faults(server: SimulatorServer, **faults: Any) -> None:
    _admin(server, "PATCH", "faults", faults)


def set_clock(server: SimulatorServer, now: dt.datetime | None) -> None:
    _admin(server, "PUT", "clock", {"now": now.isoformat() if now else None})


def stats(server: SimulatorServer) -> dict[str, int]:
    return dict(_admin(server, "GET", "stats")["by_status"])


def fetch_all(server: SimulatorServer, account: str, token: str) -> list[dict[str, Any]]:
    """Every record the API shows now (one version per id), straight from the wire."""
    from bookspot_tripletex.feed.client import BookSpotClient

    client = BookSpotClient(server.url, token, account, timeout=10)
    try:
        window = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
        return list(client.iter_records(*window))
    finally:
        client.close()
        server.simulation.reset_stats()


def later_version(record: dict[str, Any], updated_at: dt.datetime, **changes: Any) -> dict[str, Any]:
    """A newer version of a record: the first line's quantity raised by one (amounts kept consistent),
    or the given field changes (e.g. status="voided")."""
    from bookspot_devkit.simulator.generator import vat_of

    new = {**record, "lines": [dict(line) for line in record["lines"]], "updated_at": updated_at.isoformat()}
    if not changes:
        line = new["lines"][0]
        unit = line["gross_minor"] // line["quantity"]
        line["quantity"] += 1
        line["gross_minor"] = unit * line["quantity"]
        line["vat_minor"] = vat_of(line["gross_minor"], line["vat_rate"])
        new["amount_minor"] = sum(item["gross_minor"] for item in new["lines"])
    new.update(changes)
    return new


def tenant_file(base: Path, target: Path, tenant: str, company_id: int | None = None, **changes: Any) -> Path:
    """A copy of a tenant file for another tenant, with its own connection ids and Tripletex company
    (one made up from the tenant's name unless given)."""
    from bookspot_devkit.demo import organization_number

    if company_id is None:
        company_id = 10_000 + zlib.crc32(tenant.encode()) % 90_000
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    slug = tenant.replace("-", "_")
    data.update(
        tenant=tenant,
        name=f"{tenant} AS",
        tripletex_conn_id=f"tripletex_{slug}",
        bookspot_conn_id=f"bookspot_{slug}",
        tripletex_company_id=company_id,
        organization_number=organization_number(company_id),
        **changes,
    )
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def counts(engine: Engine, tenant: str | None = None) -> dict[str, int]:
    """Rows per staging table of interest (of one tenant, or all)."""
    out = {}
    for name, table in (("transactions", transactions), ("quarantine", quarantine)):
        query = select(func.count()).select_from(table)
        if tenant is not None:
            query = query.where(table.c.tenant_id == tenant)
        with engine.connect() as conn:
            out[name] = conn.execute(query).scalar_one()
    query = select(func.count()).select_from(pending_corrections)
    if tenant is not None:
        query = query.where(pending_corrections.c.tenant_id == tenant)
    with engine.connect() as conn:
        out["pending_corrections"] = conn.execute(query).scalar_one()
    return out


def put_raw(server: SimulatorServer, account: str, rid: str, updated_at: str, body: str) -> None:
    """A record served byte for byte as `body` inside an otherwise well-formed page."""
    _admin(server, "POST", f"accounts/{account}/raw", {"id": rid, "updated_at": updated_at, "body": body})


def set_page(
    server: SimulatorServer, account: str, body: str | None, content_type: str = "text/html"
) -> None:
    """Every transactions page of the account answers 200 with this body instead (None: pages again)."""
    payload = None if body is None else {"status": 200, "content_type": content_type, "body": body}
    _admin(server, "PUT", f"accounts/{account}/page", payload)
