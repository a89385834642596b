"""The simulator demo's wiring: one simulator account, emulator company and pair of connections per
tenant; tokens only in private files of the data folder, made once and kept."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

from bookspot_devkit.demo import DEMO_COMPANY_ID, DEMO_TENANT_FILE, company_ids, setup_simulator_demo
from bookspot_devkit.emulator.config import load_config
from bookspot_devkit.simulator.server import SimulatorConfig
from bookspot_tripletex.tenants.config import load_tenant_file

TENANTS = ["fjord-kayak", "tenant-001", "tenant-002"]


def test_each_tenant_gets_an_account_a_company_and_connections(tmp_path: Path) -> None:
    files = setup_simulator_demo(tmp_path, 8765, 8766, TENANTS, dt.date(2026, 11, 24))
    assert files[0] == DEMO_TENANT_FILE
    tenants = [load_tenant_file(f) for f in files]
    assert [t.tenant for t in tenants] == TENANTS
    assert {t.bookspot_conn_id for t in tenants[1:]} == {"bookspot_tenant_001", "bookspot_tenant_002"}
    assert all(t.mappings == tenants[0].mappings for t in tenants)

    sim = SimulatorConfig.from_file(tmp_path / "simulator.yaml")
    assert sorted(sim.tokens) == TENANTS and (sim.date_from, sim.date_to) == (
        dt.date(2026, 11, 18), dt.date(2026, 11, 24),
    )  # fmt: skip
    connections = json.loads((tmp_path / "connections.json").read_text(encoding="utf-8"))
    companies = {c.id: c for c in load_config(tmp_path / "emulator.yaml").companies}
    ids = company_ids(tmp_path)
    assert ids["fjord-kayak"] == DEMO_COMPANY_ID and len(set(ids.values())) == 3
    for tenant in tenants:
        bookspot = connections[tenant.bookspot_conn_id]
        assert bookspot["host"] == "http://127.0.0.1:8766"
        assert bookspot["password"] == sim.tokens[tenant.tenant]
        tripletex = connections[tenant.tripletex_conn_id]
        assert tripletex["extra"]["consumer_token"] == companies[ids[tenant.tenant]].consumer_token
        assert "login" not in tripletex
    consumers = {c.consumer_token for c in companies.values()}
    assert len(consumers) == 1, "one consumer token serves every company, as BookSpot's does"
    assert len({c.employee_token for c in companies.values()}) == 3
    for name in ("simulator.yaml", "emulator.yaml", "connections.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    for path in files[1:]:
        text = path.read_text(encoding="utf-8")
        assert not any(token in text for token in sim.tokens.values())

    setup_simulator_demo(tmp_path, 8765, 8766, [*TENANTS, "tenant-003"], dt.date(2026, 11, 24))
    again = SimulatorConfig.from_file(tmp_path / "simulator.yaml")
    assert {t: again.tokens[t] for t in TENANTS} == dict(sim.tokens) and "tenant-003" in again.tokens
    assert {t: company_ids(tmp_path)[t] for t in TENANTS} == ids
    assert {c.consumer_token for c in load_config(tmp_path / "emulator.yaml").companies} == consumers
