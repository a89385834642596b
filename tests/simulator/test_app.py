"""The simulated BookSpot API over real HTTP: auth, paging, the half-open window, faults, clock, admin."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sim_helpers import instant

from bookspot_devkit.configfile import ConfigError
from bookspot_devkit.httpserver import free_port
from bookspot_devkit.simulator.generator import Knobs, TenantGenerator
from bookspot_devkit.simulator.server import SimulatorConfig, SimulatorServer

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
TOKENS = {"fjord-kayak": secrets.token_urlsafe(24), "empty-co": secrets.token_urlsafe(24)}


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        tokens=TOKENS,
        seed=3,
        date_from=dt.date(2026, 6, 1),
        date_to=dt.date(2026, 6, 3),
        transactions_per_day=60,
    )
    with SimulatorServer(config) as running:
        yield running


@pytest.fixture(autouse=True)
def calm(server: SimulatorServer) -> Iterator[None]:
    yield
    server.simulation.set_faults(
        rate_limit_rate=0, rate_limit_burst=0, server_error_rate=0, server_error_burst=0, delay_seconds=0
    )
    server.simulation.set_now(None)


def get(server: SimulatorServer, account: str = "fjord-kayak", token: str | None = None, **params: Any):
    headers = {"Authorization": f"Bearer {token or TOKENS.get(account, 'x')}"}
    url = f"{server.url}/v1/accounts/{account}/transactions"
    return requests.get(url, params=params, headers=headers, timeout=10)


def all_pages(server: SimulatorServer, **params: Any) -> list[dict[str, Any]]:
    records, cursor = [], None
    while True:
        body = get(server, **params, **({"cursor": cursor} if cursor else {})).json()
        records += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return records


def test_serves_the_generated_feed_in_order_with_default_limit(server: SimulatorServer) -> None:
    expected = list(
        TenantGenerator("fjord-kayak", 3, transactions_per_day=60).iter_records("2026-06-01", "2026-06-03")
    )
    first = get(server)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert len(first.json()["data"]) == 100 and first.json()["next_cursor"]
    records = all_pages(server)
    assert records == expected
    keys = [(instant(r["updated_at"]), r["id"]) for r in records]
    assert keys == sorted(keys)


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1"])
def test_limit_outside_1_to_500_is_a_400(server: SimulatorServer, limit: str) -> None:
    response = get(server, limit=limit)
    assert response.status_code == 400
    assert (
        response.json()["error"]["code"] == "bad_request" and "limit" in response.json()["error"]["message"]
    )


@pytest.mark.parametrize("limit", ["1", "500"])
def test_limit_bounds_are_accepted(server: SimulatorServer, limit: str) -> None:
    response = get(server, limit=limit)
    total = server.simulation.count("fjord-kayak")
    assert response.status_code == 200 and len(response.json()["data"]) == min(int(limit), total)
    assert (response.json()["next_cursor"] is None) == (int(limit) >= total)


def test_window_is_half_open_on_the_instant_not_the_text(server: SimulatorServer) -> None:
    sim = server.simulation
    sim.put("empty-co", _record("a", "2026-09-01T10:00:00+02:00"))
    sim.put("empty-co", _record("b", "2026-09-01T08:00:00Z"))
    sim.put("empty-co", _record("c", "2026-09-01T09:59:59+01:00"))
    sim.put("empty-co", _record("d", "2026-09-01T11:00:00+02:00"))
    window = {"updated_from": "2026-09-01T08:00:00Z", "updated_to": "2026-09-01T09:00:00Z"}
    body = get(server, "empty-co", **window).json()
    assert [r["id"] for r in body["data"]] == ["a", "b", "c"]
    body = get(server, "empty-co", updated_from="2026-09-01T10:00:00+02:00", limit=2).json()
    assert [r["id"] for r in body["data"]] == ["a", "b"]


def test_a_cursor_is_bound_to_its_query_and_opaque(server: SimulatorServer) -> None:
    window = {"updated_from": "2026-06-01T00:00:00+02:00", "updated_to": "2026-06-02T00:00:00+02:00"}
    cursor = get(server, limit=5, **window).json()["next_cursor"]
    assert get(server, limit=5, cursor=cursor, **window).status_code == 200
    other = get(server, limit=5, cursor=cursor, updated_from="2026-06-01T00:00:00Z")
    assert other.status_code == 400 and "cursor" in other.json()["error"]["message"]
    assert get(server, cursor="not-a-cursor").status_code == 400


def test_bad_timestamps_are_a_400(server: SimulatorServer) -> None:
    assert get(server, updated_from="yesterday").status_code == 400
    assert get(server, updated_from="2026-06-01T00:00:00").status_code == 400
    late_first = get(server, updated_from="2026-06-02T00:00:00Z", updated_to="2026-06-01T00:00:00Z")
    assert late_first.status_code == 400


def test_token_is_checked_per_account(server: SimulatorServer) -> None:
    wrong = get(server, token=TOKENS["empty-co"])
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert (
        set(wrong.json()["error"]) == {"code", "message"} and wrong.json()["error"]["code"] == "unauthorized"
    )
    url = f"{server.url}/v1/accounts/fjord-kayak/transactions"
    assert requests.get(url, timeout=10).status_code == 401
    unknown = get(server, "nobody-as", token="whatever")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "account_not_found"
    assert requests.get(f"{server.url}/v2/nothing", timeout=10).json()["error"]["code"] == "not_found"


def test_fault_bursts_and_rates(server: SimulatorServer) -> None:
    admin = f"{server.url}/_sim/faults"
    changed = requests.patch(
        admin, json={"server_error_burst": 2, "rate_limit_burst": 1, "retry_after": 7}, timeout=10
    )
    assert changed.json()["server_error_burst"] == 2
    statuses = [get(server, limit=1) for _ in range(4)]
    assert [r.status_code for r in statuses] == [503, 503, 429, 200]
    assert statuses[0].json()["error"]["code"] == "unavailable"
    assert statuses[2].headers["Retry-After"] == "7" and statuses[2].json()["error"]["code"] == "rate_limited"
    requests.patch(admin, json={"server_error_rate": 1.0, "server_error_status": 502}, timeout=10)
    assert get(server, limit=1).status_code == 502
    assert requests.patch(admin, json={"server_error_rate": 2}, timeout=10).status_code == 400
    assert requests.patch(admin, json={"nope": 1}, timeout=10).status_code == 400
    server.simulation.set_faults(server_error_rate=0, rate_limit_rate=0.5)
    codes = {get(server, limit=1).status_code for _ in range(30)}
    assert codes == {200, 429}


def test_stats_count_api_requests(server: SimulatorServer) -> None:
    requests.delete(f"{server.url}/_sim/stats", timeout=10)
    get(server, limit=1)
    get(server, token="wrong")
    stats = requests.get(f"{server.url}/_sim/stats", timeout=10).json()
    assert stats == {"requests": 2, "by_status": {"200": 1, "401": 1}}


def _record(rid: str, updated_at: str, **changes: Any) -> dict[str, Any]:
    record = {
        "id": rid, "account_id": "empty-co", "kind": "payment", "status": "completed", "booking_id": "bk_1",
        "occurred_at": updated_at, "updated_at": updated_at, "currency": "NOK", "amount_minor": 59500,
        "payment_method": "cash", "provider_fee_minor": 0, "gift_card_code": None,
        "lines": [{"product_id": "p", "product_name": "Kayak tour 2h", "category": "activity", "quantity": 1,
                   "gross_minor": 59500, "vat_rate": "25", "vat_minor": 11900, "service_date": None}],
    }  # fmt: skip
    record.update(changes)
    return record


def test_admin_replaces_a_record_which_moves_to_its_new_updated_at(server: SimulatorServer) -> None:
    url = f"{server.url}/_sim/accounts/empty-co/transactions"
    first = _record("late-1", "2026-10-01T12:00:00+02:00")
    assert requests.post(url, json=first, timeout=10).json() == {"stored": 1}
    day = {"updated_from": "2026-10-01T00:00:00+02:00", "updated_to": "2026-10-02T00:00:00+02:00"}
    assert [r["id"] for r in get(server, "empty-co", **day).json()["data"]] == ["late-1"]
    voided = {**first, "status": "voided", "updated_at": "2026-10-05T09:00:00+02:00"}
    assert requests.post(url, json=[voided], timeout=10).status_code == 200
    assert get(server, "empty-co", **day).json()["data"] == []
    later = get(
        server, "empty-co", updated_from="2026-10-02T00:00:00+02:00", updated_to="2026-10-06T00:00:00+02:00"
    )
    assert later.json()["data"] == [voided]
    assert requests.post(url, json={"id": "x"}, timeout=10).status_code == 400
    assert (
        requests.post(f"{server.url}/_sim/accounts/nobody/transactions", json=first, timeout=10).status_code
        == 404
    )


def test_the_clock_hides_what_has_not_happened_yet() -> None:
    token = secrets.token_urlsafe(16)
    config = SimulatorConfig(
        tokens={"tenant-001": token},
        seed=2,
        date_from=dt.date(2026, 6, 1),
        date_to=dt.date(2026, 6, 1),
        transactions_per_day=80,
        knobs=Knobs(late_updates=0.5),
        now=dt.datetime(2026, 6, 2, 3, 0, tzinfo=UTC),
    )
    day = {
        "updated_from": "2026-06-01T00:00:00+02:00",
        "updated_to": "2026-06-02T00:00:00+02:00",
        "limit": 500,
    }
    headers = {"Authorization": f"Bearer {token}"}
    with SimulatorServer(config) as server:
        url = f"{server.url}/v1/accounts/tenant-001/transactions"
        before = requests.get(url, params=day, headers=headers, timeout=10).json()["data"]
        assert requests.put(f"{server.url}/_sim/clock", json={"now": "2026-06-30T00:00:00Z"}, timeout=10).ok
        after = requests.get(url, params=day, headers=headers, timeout=10).json()["data"]
        rest = {"updated_from": "2026-06-02T00:00:00+02:00", "updated_to": "2026-07-01T00:00:00+02:00"}
        updates = requests.get(url, params={**rest, "limit": 500}, headers=headers, timeout=10).json()["data"]
    assert len(after) < len(before) and updates
    moved = {r["id"] for r in before} - {r["id"] for r in after}
    assert moved <= {r["id"] for r in updates}
    originals = {r["id"]: r for r in before}
    for update in updates:
        if update["id"] in originals:
            assert instant(update["updated_at"]) > instant(originals[update["id"]]["updated_at"])


def test_admin_token_guards_the_admin_endpoints() -> None:
    config = SimulatorConfig(tokens={"a": "t"}, admin_token="admin-secret")
    with SimulatorServer(config) as server:
        assert requests.get(f"{server.url}/_sim/faults", timeout=10).status_code == 401
        headers = {"Authorization": "Bearer admin-secret"}
        assert requests.get(f"{server.url}/_sim/faults", headers=headers, timeout=10).status_code == 200


def test_config_file_reads_tokens_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_TOKEN_FK", "from-env")
    path = tmp_path / "sim.yaml"
    path.write_text(
        "seed: 4\ndate_from: 2026-01-01\ndate_to: '2026-01-02'\ntokens:\n  fjord-kayak: {env: SIM_TOKEN_FK}\n"
        "  tenant-001: literal\nknobs: {voids: 0.1}\nfaults: {retry_after: 2}\n",
        encoding="utf-8",
    )
    config = SimulatorConfig.from_file(path)
    assert config.tokens == {"fjord-kayak": "from-env", "tenant-001": "literal"}
    assert (
        config.knobs.voids == 0.1 and config.faults.retry_after == 2 and config.date_to == dt.date(2026, 1, 2)
    )
    assert "from-env" not in repr(config)
    monkeypatch.delenv("SIM_TOKEN_FK")
    with pytest.raises(ValueError, match="SIM_TOKEN_FK"):
        SimulatorConfig.from_file(path)
    with pytest.raises(ConfigError, match="simulator config: colour: Unexpected keyword argument"):
        SimulatorConfig.from_mapping({"tokens": {"a": "b"}, "colour": "red"})
    path.write_text("tokens: {a: b}\nknobs: {voidz: 0.1}\nport: 99999\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        SimulatorConfig.from_file(path)
    assert str(info.value).splitlines() == [
        "sim.yaml: knobs: Value error, unknown knob(s) voidz; known: " + ", ".join(sorted(Knobs().as_dict())),
        "sim.yaml: port: Input should be less than or equal to 65535",
    ]
    with pytest.raises(ConfigError, match="sim.json: date_to: Input should be a valid date"):
        SimulatorConfig.from_mapping(
            {"tokens": {"a": "b"}, "date_from": "2026-01-01", "date_to": "x"}, "sim.json"
        )


def test_serve_cli(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(16)
    config = tmp_path / "sim.json"
    config.write_text(
        json.dumps({"tokens": {"fjord-kayak": token}, "date_from": "2026-11-24", "date_to": "2026-11-24"}),
        encoding="utf-8",
    )
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("plugins", "devkit"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bookspot_devkit",
            "simulator",
            "serve",
            "--port",
            str(port),
            "--config",
            str(config),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as a background job starts it
    )
    try:
        assert process.stderr is not None
        ready = process.stderr.readline()
        assert f"http://127.0.0.1:{port}" in ready and "fjord-kayak" in ready
        url = f"http://127.0.0.1:{port}/v1/accounts/fjord-kayak/transactions"
        headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        response = requests.get(url, headers=headers, timeout=30)
        assert response.status_code == 200 and response.json()["data"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, rest = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0 and token not in ready + rest
