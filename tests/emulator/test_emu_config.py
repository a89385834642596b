"""Config files (YAML and JSON round trips, validation) and the command-line server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import requests

from bookspot_devkit.emulator.config import (
    AccountSpec,
    ClosedPeriod,
    CompanyConfig,
    ConfigError,
    EmulatorConfig,
    FaultConfig,
    FaultRule,
    RateLimitConfig,
    load_config,
    write_config,
)
from bookspot_devkit.emulator.state import EmulatorState
from bookspot_devkit.httpserver import free_port

REPO = Path(__file__).resolve().parents[2]


def sample() -> EmulatorConfig:
    return EmulatorConfig(
        companies=[
            CompanyConfig(
                id=1001,
                name="Fjord Kayak AS",
                consumer_token="c-1",
                employee_token="e-1",
                extra_accounts=[
                    AccountSpec(number=1580, name="Stripe clearing", vat_number="0", vat_locked=True)
                ],
                disabled_vat_numbers=["33"],
                closed_periods=[ClosedPeriod(date(2026, 1, 1), date(2026, 2, 1))],
            ),
            CompanyConfig(id=2002, name="Nordlys Yoga AS", consumer_token="c-1", employee_token="e-2"),
        ],
        rate_limit=RateLimitConfig(limit=100, period_seconds=30, omit_reset_on_429=True),
        faults=FaultConfig(error_rates={503: 0.1}, rules=[FaultRule(action="drop", path="/ledger/voucher")]),
        today=date(2026, 11, 25),
    )


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_config_round_trip(tmp_path: Path, suffix: str) -> None:
    path = write_config(tmp_path / f"emulator{suffix}", sample())
    assert path.stat().st_mode & 0o077 == 0
    assert load_config(path) == sample()


def test_config_from_plain_data() -> None:
    cfg = EmulatorConfig.from_dict(
        {
            "companies": [
                {
                    "id": "7",
                    "name": "X AS",
                    "consumer_token": "c",
                    "employee_token": "e",
                    "extra_accounts": [{"number": 1580, "name": "Stripe", "is_inactive": True}],
                    "closed_periods": [
                        ["2026-01-01", "2026-02-01"],
                        {"start": "2026-03-01", "end": "2026-04-01"},
                    ],
                    "disabled_vat_numbers": [33],
                }
            ],
            "rate_limit": {"limit": 5},
        }
    )
    company = cfg.companies[0]
    assert company.id == 7 and company.disabled_vat_numbers == ["33"]
    assert company.closed_periods[1].contains(date(2026, 3, 31)) and not company.closed_periods[1].contains(
        date(2026, 4, 1)
    )
    assert cfg.rate_limit == RateLimitConfig(limit=5)


def test_invalid_configs_are_refused() -> None:
    company = CompanyConfig(id=1, name="A", consumer_token="c", employee_token="e")
    with pytest.raises(ValueError, match="unique"):
        EmulatorConfig(
            companies=[company, CompanyConfig(id=1, name="B", consumer_token="x", employee_token="y")]
        )
    with pytest.raises(ValueError, match="pair"):
        EmulatorConfig(
            companies=[company, CompanyConfig(id=2, name="B", consumer_token="c", employee_token="e")]
        )
    with pytest.raises(ValueError):
        AccountSpec(number=1, name="x", ledger_type="NOPE")
    with pytest.raises(ValueError):
        FaultRule(action="explode")
    with pytest.raises(ValueError):
        ClosedPeriod(date(2026, 2, 1), date(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            "companies:\n- {id: 1, name: A, consumer_token: c, employee_token: e,\n"
            "   extra_accounts: [{number: 1580, name: S}, {number: 1581, name: V}, {number: x, name: K}]}\n",
            "emulator.yaml: companies[0].extra_accounts[2].number: Input should be a valid integer",
        ),
        (
            "companies:\n- {id: 1, name: A, consumer_token: c, employee_token: e, colour: red}\n",
            "emulator.yaml: companies[0].colour: Unexpected keyword argument",
        ),
        (
            "rate_limit: {limit: 5, burst: 2}\n",
            "emulator.yaml: rate_limit.burst: Unexpected keyword argument",
        ),
        ("faults: {rules: [{action: explode}]}\n", "emulator.yaml: faults.rules[0].action: Input should be"),
        (
            "companies:\n- {id: 1, name: A, consumer_token: c, employee_token: e,\n"
            "   closed_periods: [[2026-02-01, 2026-01-01]]}\n",
            "emulator.yaml: companies[0].closed_periods[0]: Value error, closed period end must be after",
        ),
        ("todya: 2026-11-25\n", "emulator.yaml: todya: Unexpected keyword argument"),
        ("- just a list\n", "emulator.yaml: the configuration must be a mapping"),
    ],
)
def test_config_errors_name_the_file_and_the_field(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "emulator.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert complaint in str(info.value)


def test_config_errors_list_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        EmulatorConfig.from_dict({"companies": [{"id": "x", "name": "A"}]}, "cfg.json")
    lines = str(info.value).splitlines()
    assert lines == [
        "cfg.json: companies[0].id: Input should be a valid integer, unable to parse string as an integer",
        "cfg.json: companies[0].consumer_token: Field required",
        "cfg.json: companies[0].employee_token: Field required",
    ]


def test_state_applies_company_config() -> None:
    state = EmulatorState(sample())
    fjord, nordlys = state.company(1001), state.company(2002)
    stripe = fjord.account_by_number(1580)
    assert stripe is not None and stripe.spec.vat_locked and nordlys.account_by_number(1580) is None
    assert fjord.closed_on(date(2026, 1, 31)) and not fjord.closed_on(date(2026, 2, 1))
    assert state.find_company_for_tokens("c-1", "e-2")[0] is nordlys
    assert state.find_company_for_tokens("c-1", "zzz") == (None, "employeeToken")
    all_ids = [a.id for c in (fjord, nordlys) for a in c.accounts.values()]
    assert len(all_ids) == len(set(all_ids))


def test_command_line_server(tmp_path: Path) -> None:
    cfg = sample()
    cfg.faults = None
    config_path = write_config(tmp_path / "emulator.yaml", cfg)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'plugins'}:{REPO / 'devkit'}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bookspot_devkit",
            "emulator",
            "--port",
            str(port),
            "--config",
            str(config_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/v2" in line
        params = {"consumerToken": "c-1", "employeeToken": "e-1", "expirationDate": "2026-11-26"}
        deadline = time.monotonic() + 15
        while True:
            try:
                response = requests.put(
                    f"http://127.0.0.1:{port}/v2/token/session/:create", params=params, timeout=5
                )
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit-Limit"] == "100"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
